"""Self-contained schemas: every `$ref` inlined through the offline registry, cycles made local `$defs`.

A host engine that draws a form from `describe` should not have to resolve relative references
into files it cannot see. A recursive definition (an audience filter whose groups nest) cannot be
inlined forever: its second visit becomes `{"$ref": "#/$defs/<name>"}` with the definition once in
the root's `$defs`, which any JSON Schema tool resolves on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

from referencing import Registry

__all__ = ["dereference"]

_DROPPED = ("$id", "$schema", "$defs", "definitions", "$anchor", "$comment")  # meaningless once inlined


def dereference(schema: Mapping[str, Any], registry: Registry) -> dict[str, Any]:
    """A copy of `schema` with no external or relative `$ref` left (its `$id` is the base URI)."""
    base = str(schema.get("$id", ""))
    walker = _Walker(registry)
    out = walker.walk(schema, registry.resolver(base_uri=base), base, ())
    for key in ("$defs", "definitions", "$id"):
        out.pop(key, None)
    if "$schema" in schema:
        out["$schema"] = schema["$schema"]
    while walker.pending:  # definitions met on a cycle, filled in outside of it
        name, (contents, resolver, uri) = walker.pending.popitem()
        walker.defs[name] = {}  # taken: the walk below meets this cycle again and must not queue it twice
        walker.defs[name] = _clean(walker.walk(contents, resolver, urldefrag(uri).url, (uri,)))
    if walker.defs:
        out["$defs"] = walker.defs
    return out


def _clean(schema: Any) -> Any:
    return {k: v for k, v in schema.items() if k not in _DROPPED} if isinstance(schema, dict) else schema


class _Walker:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.defs: dict[str, Any] = {}
        self.pending: dict[str, tuple[Any, Any, str]] = {}
        self.names: dict[str, str] = {}  # absolute URI -> local $defs name

    def walk(self, node: Any, resolver: Any, base: str, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self.walk(item, resolver, base, stack) for item in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        siblings = {k: self.walk(v, resolver, base, stack) for k, v in node.items() if k != "$ref"}
        if not isinstance(ref, str):
            return siblings
        uri = urljoin(base, ref)
        resolved = resolver.lookup(ref)
        if uri in stack:  # a cycle: refer to one local definition instead of inlining forever
            name = self._name(uri)
            if name not in self.defs and name not in self.pending:
                self.pending[name] = (resolved.contents, resolved.resolver, uri)
            return {"$ref": f"#/$defs/{name}", **siblings}
        target = self.walk(resolved.contents, resolved.resolver, urldefrag(uri).url, (*stack, uri))
        if not isinstance(target, dict):
            return target
        merged = _clean(target)
        merged.update(siblings)  # the referring schema's own words (a description) win
        return merged

    def _name(self, uri: str) -> str:
        if uri not in self.names:
            tail = (urldefrag(uri).fragment or urldefrag(uri).url).rstrip("/").rsplit("/", 1)[-1]
            stem = tail.removesuffix(".json").replace(".", "_") or "schema"
            name, n = stem, 2
            while name in self.names.values():
                name, n = f"{stem}_{n}", n + 1
            self.names[uri] = name
        return self.names[uri]
