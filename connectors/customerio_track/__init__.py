"""The customerio-track connector plugin: points relaykit at this connector's YAML and schemas.

Registered through the entry-point group `relaykit.connectors`, exactly as a third-party
connector would be; everything the connector does is declared in its YAML files, helped by one
template filter (`track_identifiers`) that its batch items use.
"""

from relaykit import ConnectorSource, hookimpl


def track_identifiers(identifier):
    """A Track v1 path identifier as v2 `identifiers`: `cio_<id>` -> cio_id, an email -> email, else id.

    Customer.io reads a v1 identifier the same way, so an item batched through Track v2 addresses
    the person its single call would have.
    """
    if not isinstance(identifier, str):
        raise TypeError("an identifier must be a string")
    if identifier.startswith("cio_") and len(identifier) > 4:
        return {"cio_id": identifier[4:]}
    if "@" in identifier:
        return {"email": identifier}
    return {"id": identifier}


@hookimpl
def register_connectors(registry):
    """Contribute customerio-track."""
    registry.add(ConnectorSource.builtin(__name__, "customerio-track"))


@hookimpl
def register_template_filters(registry):
    """Contribute `track_identifiers` (v1 identifier -> v2 identifiers object)."""
    registry.add("track_identifiers", track_identifiers)
