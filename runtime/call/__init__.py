"""One operation call, before and after the wire: connection, input limits, request rendering, the executor.

Kept import-light on purpose: `relaykit connectors` loads `call.connection` but never `call.executor`
(which brings the transport, requests and urllib3 with it).
"""
