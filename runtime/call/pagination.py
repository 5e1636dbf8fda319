"""Walk a paged list operation: send each page's cursor back, collect items, and always stop.

Stops, whichever comes first: the last page (the next cursor is empty or missing), a cursor seen
before (a server that hands back the same cursor would otherwise page forever, a failure n8n's
users hit), `max_pages` (the operation's declared default unless the caller gives one) and
`max_items`. `stopped_by` says which one ended the walk, so a truncated listing is never mistaken
for a complete one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from ..errors import InputValidationError, Problem
from ..models import Result
from ..specs.models import OperationSpec
from .limits import resolve_pointer

LOG = logging.getLogger("relaykit.pagination")

RunPage = Callable[[Mapping[str, Any]], Result]


class Paginator:
    """Iterate over items (`for item in paginator`) or pages (`paginator.pages()`), once."""

    def __init__(self, op: OperationSpec, input: Mapping[str, Any], run_page: RunPage, *,
                 max_pages: int | None = None, max_items: int | None = None) -> None:
        if op.pagination is None:
            raise InputValidationError(op.connector.name, op.name, [Problem(
                "this operation does not page", hint="paginate operations that declare `pagination:`")])
        for name, value in (("max_pages", max_pages), ("max_items", max_items)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InputValidationError(op.connector.name, op.name, [Problem(
                    f"{name} must be a whole number of at least 1", pointer=f"/{name}")])
        self.op = op
        self.paging = op.pagination
        self.input = dict(input)
        self.run_page = run_page
        self.max_pages = max_pages or self.paging.max_pages
        self.max_items = max_items
        self.pages_read = 0
        self.items_read = 0
        self.stopped_by: str | None = None  # end | repeated_cursor | max_pages | max_items
        self._started = False

    def __iter__(self) -> Iterator[Any]:
        for page in self.pages():
            yield from self._page_items(page)

    def pages(self) -> Iterator[Result]:
        """Each page's `Result`, in order; items beyond `max_items` are trimmed from the last page."""
        if self._started:
            raise RuntimeError("a Paginator walks its pages once; make a new one to start again")
        self._started = True
        seen: set[str] = set()
        request = dict(self.input)
        while True:
            if self.pages_read >= self.max_pages:
                self.stopped_by = "max_pages"
                LOG.info("%s: stopped after %d page(s) (max_pages); more pages remain", self.op.qualified_name,
                         self.pages_read)
                return
            result = self.run_page(request)
            self.pages_read += 1
            items = self._page_items(result)
            if self.max_items is not None and self.items_read + len(items) >= self.max_items:
                keep = self.max_items - self.items_read
                self.items_read += keep
                self.stopped_by = "max_items"
                yield _with_items(result, self.paging.items, items[:keep])
                return
            self.items_read += len(items)
            yield result
            cursor = _first(result.output, self.paging.next)
            if cursor in (None, "") or not isinstance(cursor, (str, int)):
                self.stopped_by = "end"
                return
            cursor = str(cursor)
            if cursor in seen:
                self.stopped_by = "repeated_cursor"
                LOG.warning("%s: the server sent a cursor it had sent before; stopped after %d page(s)",
                            self.op.qualified_name, self.pages_read)
                return
            seen.add(cursor)
            request = {**self.input, self.paging.cursor_input: cursor}

    def _page_items(self, result: Result) -> list[Any]:
        items = _first(result.output, self.paging.items)
        return list(items) if isinstance(items, list) else []


def _first(data: Any, pointer: str) -> Any:
    found = resolve_pointer(data, pointer)
    return found[0][1] if found else None


def _with_items(result: Result, pointer: str, items: list[Any]) -> Result:
    """The same page with its item list trimmed (the output is copied, never changed in place)."""
    output = result.output
    if not isinstance(output, dict) or not pointer:
        return result
    parts = pointer.lstrip("/").split("/")
    trimmed = dict(output)
    node = trimmed
    for part in parts[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[parts[-1]] = items
    return replace(result, output=trimmed)
