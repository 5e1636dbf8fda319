"""Throwaway TLS material for the HTTPS listeners: a CA and a loopback server certificate, made at start.

The certificate comes from `trustme` (the `relaykit[tls]` extra), so no key or certificate is ever
shipped or reused. The CA is written to a private temporary directory so clients can verify the
sandbox the way they verify Customer.io, and removed when the sandbox stops.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile

#: Names the server certificate is valid for: every loopback spelling a client may use.
CERT_NAMES = ("127.0.0.1", "::1", "localhost")


class TlsUnavailable(RuntimeError):
    """HTTPS was asked for but the certificate library is not installed."""


class TlsMaterial:
    """A fresh CA, a server certificate it signed, the server context, and the CA bundle on disk."""

    def __init__(self) -> None:
        try:
            import trustme
        except ImportError:
            raise TlsUnavailable(
                "HTTPS needs the trustme package: pip install 'relaykit[tls]'"
            ) from None
        ca = trustme.CA(organization_name="relaykit sandbox")
        cert = ca.issue_cert(*CERT_NAMES)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.context)
        self._dir = tempfile.mkdtemp(prefix="relaykit-sandbox-tls-")
        #: Path of the PEM CA bundle a client verifies the sandbox with.
        self.ca_bundle = os.path.join(self._dir, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)

    def close(self) -> None:
        """Remove the CA bundle from disk."""
        shutil.rmtree(self._dir, ignore_errors=True)
