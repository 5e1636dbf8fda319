"""Batch declarations of operations: how one input becomes a batch item, and how a batch's answer maps back.

An operation's YAML may say `batch: {operation, item}`: its inputs, validated against its own
schema and limits, are rendered through `item` and packed into requests of the named batch
operation of the same connector. The batch operation's `limits` bound the packing and its
`batch_response` says how the API reports single items (see docs/bulk.md). Both are compiled when
the spec loads, so `relaykit bulk` does no parsing per item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..templates.compiled import Compiled

SPREAD = "..."
_WHOLE_INPUT = re.compile(r"\{\{\s*input\s*\}\}")


@dataclass(frozen=True)
class BatchItem:
    """`batch:` of a single operation: the batch operation it packs into and the compiled item template."""

    operation: str
    item: Compiled
    spreads: tuple[tuple[str, ...], ...] = ()  # where the template put a `...` key, outermost first
    whole_input: Mapping[str, Any] | None = None  # `{"...": "{{ input }}", k: constant}`: these constants

    def render(self, data: Mapping[str, Any]) -> Any:
        """One batch item for a validated input; `TemplateRenderError` (with a pointer) if it cannot be built."""
        if self.whole_input is not None:  # the input plus constant keys (Pipelines' `type`): one merge
            return {**data, **self.whole_input}
        value = self.item.render({"input": data})
        for path in self.spreads:
            value = _spread_at(value, path)
        return value


@dataclass(frozen=True)
class BatchResponse:
    """`batch_response:` of a batch operation (statuses and pointers; see operation.schema.json)."""

    partial: tuple[int, ...] = ()
    errors: str = ""
    index: str | None = None
    message: tuple[str, ...] = ()
    split_on: tuple[int, ...] = ()


def whole_input_constants(template: Any) -> dict[str, Any] | None:
    """For an item template that is the whole input spread plus constant keys, those keys; else None."""
    if not isinstance(template, Mapping) or not _WHOLE_INPUT.fullmatch(str(template.get(SPREAD, ""))):
        return None
    rest = {k: v for k, v in template.items() if k != SPREAD}
    return rest if "{{" not in json.dumps(rest, default=str) else None


def spread_paths(template: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The mapping paths in a raw item template that hold a `...` key (only mappings are walked)."""
    if not isinstance(template, Mapping):
        return []
    found = [path] if SPREAD in template else []
    for key, value in template.items():
        if key != SPREAD:
            found.extend(spread_paths(value, (*path, str(key))))
    return found


def _spread_at(value: Any, path: tuple[str, ...]) -> Any:
    """`value` with the `...` object at `path` merged into its mapping (explicit keys win); containers copied."""
    if not isinstance(value, dict):
        return value
    if path:
        head = path[0]
        if head not in value:
            return value
        return {**value, head: _spread_at(value[head], path[1:])}
    if SPREAD not in value:
        return value
    explicit = {k: v for k, v in value.items() if k != SPREAD}
    extra = value[SPREAD]
    return {**extra, **explicit} if isinstance(extra, Mapping) else explicit


def load_batch_response(raw: Mapping[str, Any] | None) -> BatchResponse | None:
    """The frozen `batch_response`, or None when the operation declares none."""
    if raw is None:
        return None
    return BatchResponse(
        partial=tuple(raw.get("partial", ())), errors=raw.get("errors", ""), index=raw.get("index"),
        message=tuple(raw.get("message", ())), split_on=tuple(raw.get("split_on", ())),
    )


__all__ = ["BatchItem", "BatchResponse", "load_batch_response", "spread_paths", "whole_input_constants"]
