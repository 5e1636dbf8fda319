"""Compiled templates: YAML value trees compiled once at load into nodes that render per call.

An expression is a path into the render context (``input.customer.id``, ``steps.a.output[0]``,
``input["a-b"]``) or a literal, piped through registered filters. Nothing else exists: no
attribute access, no calls besides filters, no arithmetic, no ``eval``. A string that is exactly one
expression keeps the value's type; any other string interpolates text. Rendered values are data and
are never parsed again, so a value containing ``{{`` or ``"`` comes out verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..errors import Problem, SpecError
from ..names import did_you_mean, suggest
from .filters import (
    MISSING,
    NAME_RE,
    Filter,
    FilterError,
    FilterRegistry,
    TemplateRenderError,
    default_filters,
    to_text,
)
from .syntax import ExpressionSyntaxError, ParsedExpr, parse_template

__all__ = ["Compiled", "compile_value", "render_string_once"]


# ---------------------------------------------------------------------------------------------
# Compiled nodes (render time: no parsing, no regexes)


class _Expr:
    """An evaluable expression: a path lookup or a literal, then a chain of filters."""

    __slots__ = ("filters", "literal", "path_text", "root", "steps")

    def __init__(self, parsed: ParsedExpr, filters: tuple[tuple[Filter, tuple[Any, ...]], ...]) -> None:
        self.root = parsed.root
        self.steps = parsed.steps
        self.literal = parsed.literal
        self.filters = filters
        self.path_text = _path_text(parsed.root, parsed.steps) if parsed.root else "literal"

    def evaluate(self, ctx: Mapping[str, Any], pointer: str) -> Any:
        if self.root is None:
            value = self.literal
        else:
            value = ctx.get(self.root, MISSING)
            for step in self.steps:
                # Inline fast path for the common case; MISSING is not a dict, so it stays MISSING.
                if type(value) is dict and type(step) is str:
                    value = value.get(step, MISSING)
                else:
                    value = _lookup(value, step)
        for flt, args in self.filters:
            if value is MISSING and not flt.accepts_missing:
                continue  # absent passes through untouched, so a later `default` can still apply
            try:
                value = flt.func(value, *args)
            except FilterError as exc:
                raise TemplateRenderError(pointer, f"filter {flt.name!r}: {exc}") from None
            except (TypeError, ValueError, OverflowError) as exc:
                reason = f"filter {flt.name!r} cannot handle this value ({type(exc).__name__})"
                raise TemplateRenderError(pointer, reason) from None
        return value


def _lookup(value: Any, step: str | int) -> Any:
    """One path step: a mapping key or a list index; anything else is absent (never getattr)."""
    if type(step) is str:
        if type(value) is dict or isinstance(value, Mapping):
            return value.get(step, MISSING)
        return MISSING
    if type(value) is list or type(value) is tuple:
        return value[step] if step < len(value) else MISSING
    return MISSING


def _path_text(root: str, steps: tuple[str | int, ...]) -> str:
    text = root
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif NAME_RE.match(step):
            text += "." + step
        else:
            text += "[" + json.dumps(step) + "]"
    return text


class _Node:
    """A compiled piece of the value tree."""

    __slots__ = ()

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        raise NotImplementedError


class _Whole(_Node):
    """A string that is exactly one expression: the value keeps its own type."""

    __slots__ = ("expr", "pointer")

    def __init__(self, expr: _Expr, pointer: str) -> None:
        self.expr = expr
        self.pointer = pointer

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        value = self.expr.evaluate(ctx, self.pointer)
        if encode is None or value is MISSING:
            return value
        return encode(value, self.pointer)


class _Interpolated(_Node):
    """Literal text and expressions joined into one string; an absent value is an error."""

    __slots__ = ("parts", "pointer")

    def __init__(self, parts: tuple[str | _Expr, ...], pointer: str) -> None:
        self.parts = parts
        self.pointer = pointer

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        pointer = self.pointer
        out: list[str] = []
        for part in self.parts:
            if type(part) is str:
                out.append(part)
                continue
            value = part.evaluate(ctx, pointer)  # type: ignore[union-attr]
            if value is MISSING:
                raise TemplateRenderError(pointer, f"{part.path_text} is absent")  # type: ignore[union-attr]
            if encode is not None:
                out.append(encode(value, pointer))
            elif type(value) is str:
                out.append(value)
            else:
                try:
                    out.append(to_text(value))
                except FilterError as exc:
                    raise TemplateRenderError(pointer, str(exc)) from None
        return "".join(out)


class _Mapping(_Node):
    """A mapping; keys whose value renders to MISSING are left out."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[Any, Any, _Node | None], ...]) -> None:
        self.items = items  # (key, constant, node): node None means the constant is used as is

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        out = {}
        for key, constant, node in self.items:
            if node is None:
                out[key] = constant
            else:
                value = node.render(ctx, encode)
                if value is not MISSING:
                    out[key] = value
        return out


class _Sequence(_Node):
    """A list; items that render to MISSING are dropped."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[Any, _Node | None], ...]) -> None:
        self.items = items

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        out = []
        for constant, node in self.items:
            if node is None:
                out.append(constant)
            else:
                value = node.render(ctx, encode)
                if value is not MISSING:
                    out.append(value)
        return out


class Compiled:
    """A compiled value tree: render it per call with a context; compile once at load."""

    __slots__ = ("_constant", "_is_constant", "_node", "_references", "pointer")

    def __init__(self, node: _Node | None, constant: Any, references: set[tuple[str | int, ...]], pointer: str) -> None:
        self._node = node
        self._constant = constant
        self._references = frozenset(references)
        self._is_constant = not self._has_expressions(node)
        self.pointer = pointer

    @property
    def is_constant(self) -> bool:
        """True when the value holds no expression at all (rendering just rebuilds containers)."""
        return self._is_constant

    @staticmethod
    def _has_expressions(node: _Node | None) -> bool:
        if node is None:
            return False
        if isinstance(node, (_Whole, _Interpolated)):
            return True
        if isinstance(node, _Mapping):
            return any(Compiled._has_expressions(child) for _, _, child in node.items)
        if isinstance(node, _Sequence):
            return any(Compiled._has_expressions(child) for _, child in node.items)
        return False

    def render(self, context: Mapping[str, Any], *, encode: Callable[[Any, str], str] | None = None) -> Any:
        """Evaluate every expression against `context`; may return `MISSING` for a whole absent value.

        `encode(value, pointer)`, when given, turns each expression result into text, both inside
        interpolated strings and for whole-value strings (e.g. one URL path segment). Values taken
        from `context` are returned as they are, not copied.
        Raises `TemplateRenderError` for an absent value inside text or a failing filter.
        """
        if self._node is None:
            return self._constant
        return self._node.render(context, encode)

    def references(self) -> set[tuple[str | int, ...]]:
        """Every path used: (root, key or index, ...), so loaders can refuse forbidden variables."""
        return set(self._references)


# ---------------------------------------------------------------------------------------------
# Compilation


class _Compiler:
    def __init__(
        self,
        roots: Collection[str],
        filters: FilterRegistry,
        file: str | None,
        locate: Callable[[str], tuple[int | None, int | None]] | None,
    ) -> None:
        self.roots = roots
        self.filters = filters
        self.file = file
        self.locate = locate
        self.problems: list[Problem] = []
        self.references: set[tuple[str | int, ...]] = set()

    def problem(self, pointer: str, message: str, hint: str | None = None) -> None:
        line, column = self.locate(pointer) if self.locate else (None, None)
        self.problems.append(Problem(message, pointer, self.file, line, column, hint))

    def value(self, value: Any, pointer: str) -> _Node | None:
        """A node for `value`, or None when it is a constant needing no rendering."""
        if isinstance(value, str):
            return self.string(value, pointer) if "{{" in value else None
        if isinstance(value, dict):
            items = []
            for key, child in value.items():
                node = self.value(child, f"{pointer}/{_escape(str(key))}")
                items.append((key, child, node))
            # Containers are always rebuilt, so a caller may mutate a rendered result safely.
            return _Mapping(tuple(items))
        if isinstance(value, (list, tuple)):
            seq_items = []
            for index, child in enumerate(value):
                node = self.value(child, f"{pointer}/{index}")
                seq_items.append((child, node))
            return _Sequence(tuple(seq_items))
        return None

    def string(self, text: str, pointer: str) -> _Node | None:
        try:
            parts = parse_template(text)
        except ExpressionSyntaxError as exc:
            self.problem(pointer, f"template syntax error at character {exc.offset + 1}: {exc.message}")
            return None
        compiled: list[str | _Expr] = []
        ok = True
        for part in parts:
            if isinstance(part, str):
                compiled.append(part)
                continue
            expr = self.expression(part, pointer)
            if expr is None:
                ok = False
            else:
                compiled.append(expr)
        if not ok:
            return None
        if len(compiled) == 1 and isinstance(compiled[0], _Expr):
            return _Whole(compiled[0], pointer)
        return _Interpolated(tuple(compiled), pointer)

    def expression(self, parsed: ParsedExpr, pointer: str) -> _Expr | None:
        ok = True
        if parsed.root is not None:
            if parsed.root in self.roots:
                self.references.add((parsed.root, *parsed.steps))
            else:
                ok = False
                self.problem(
                    pointer,
                    f"unknown variable {parsed.root!r}",
                    _suggest(parsed.root, self.roots, "variables"),
                )
        resolved = []
        for call in parsed.filters:
            flt = self.filters.get(call.name)
            if flt is None:
                ok = False
                self.problem(
                    pointer,
                    f"unknown filter {call.name!r}",
                    _suggest(call.name, self.filters.names(), "filters"),
                )
                continue
            count = len(call.args)
            if count < flt.min_args or (flt.max_args is not None and count > flt.max_args):
                ok = False
                self.problem(pointer, f"filter {call.name!r} takes {_arity_text(flt)}, got {count}")
                continue
            resolved.append((flt, call.args))
        return _Expr(parsed, tuple(resolved)) if ok else None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _arity_text(flt: Filter) -> str:
    low, high = flt.min_args, flt.max_args
    if high is None:
        return f"at least {low} argument{'s' if low != 1 else ''}"
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"


def _suggest(name: str, known: Collection[str], what: str) -> str:
    return did_you_mean(suggest(name, list(known))) or f"known {what}: " + (", ".join(sorted(known)) or "none")


def compile_value(
    value: Any,
    *,
    roots: Collection[str],
    filters: FilterRegistry,
    file: str | None = None,
    pointer: str = "",
    locate: Callable[[str], tuple[int | None, int | None]] | None = None,
) -> Compiled:
    """Compile a YAML value tree; raise one `SpecError` listing every bad template in it.

    `pointer` is where `value` sits in its file; problems and `encode` calls use full pointers, and
    `locate` (e.g. `Document.locate`) maps them to line and column. Mapping keys are never templates.
    """
    compiler = _Compiler(roots, filters, file, locate)
    node = compiler.value(value, pointer)
    if compiler.problems:
        raise SpecError(compiler.problems, "invalid template")
    return Compiled(node, value, compiler.references, pointer)


def render_string_once(template: str, context: Mapping[str, Any], filters: FilterRegistry | None = None) -> Any:
    """Compile and render one string against `context` (for tools and tests; not for hot paths)."""
    compiled = compile_value(template, roots=list(context), filters=filters or default_filters())
    return compiled.render(context)
