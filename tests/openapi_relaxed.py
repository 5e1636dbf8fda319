"""Customer.io's OpenAPI documents read the way their tests need: every `oneOf` as `anyOf`.

The documents' `oneOf` branches overlap (a `clicked` metric matches `email` when the branch
requires nothing; a transactional event matches several parent shapes that require nothing it
lacks), so valid bodies would fail a strict `oneOf`. As `anyOf`, a body must still match at least
one documented shape. `discriminator` (an OpenAPI hint, not JSON Schema) is dropped.
"""

from __future__ import annotations

from typing import Any


def any_of(node: Any) -> Any:
    """A copy of a schema tree with every `oneOf` read as `anyOf`."""
    if isinstance(node, dict):
        return {("anyOf" if key == "oneOf" else key): any_of(value) for key, value in node.items()
                if key != "discriminator"}
    if isinstance(node, list):
        return [any_of(item) for item in node]
    return node
