"""The customerio-app connector plugin: points relaykit at this connector's YAML and schemas.

Registered through the entry-point group `relaykit.connectors`, exactly as a third-party
connector would be; everything the connector does is declared in its YAML files.
"""

from relaykit import ConnectorSource, hookimpl


@hookimpl
def register_connectors(registry):
    """Contribute customerio-app."""
    registry.add(ConnectorSource.builtin(__name__, "customerio-app"))
