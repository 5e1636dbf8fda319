"""Local emulator of the Customer.io APIs (Track, App, Beta, Pipelines) on one loopback port.

Start it with `relaykit sandbox`, `python -m relaykit.sandbox`, or in Python::

    from relaykit.sandbox import Sandbox

    with Sandbox() as sb:
        sb.connection("customerio-track")  # config for a relaykit connection

See docs/sandbox.md for the URL layout, credentials, fault spec and inspection API.
"""

from .auth import DEFAULT_APP_KEY, DEFAULT_PIPELINES_KEY, DEFAULT_SITE_ID, DEFAULT_TRACK_KEY
from .faults import PRESETS
from .routing import BASE_PATHS, CONNECTORS, REGIONS
from .runner import Sandbox

__all__ = [
    "BASE_PATHS",
    "CONNECTORS",
    "DEFAULT_APP_KEY",
    "DEFAULT_PIPELINES_KEY",
    "DEFAULT_SITE_ID",
    "DEFAULT_TRACK_KEY",
    "PRESETS",
    "REGIONS",
    "Sandbox",
]
