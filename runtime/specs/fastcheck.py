"""Fast validity checks compiled from JSON Schemas: a shortcut that never replaces jsonschema's verdict.

jsonschema walks a schema through `iter_errors`, `descend` and the `referencing` resolver on every
call: ~80-180 µs for a three-field input, more than everything else relaykit does before sending.
A call's input is almost always valid, so each operation also gets a check compiled at load that
answers True (certainly valid), False (certainly invalid) or None (cannot tell). Only True is
trusted: anything else runs the full jsonschema validator, so every problem reported, and every
verdict, is still jsonschema's. Each keyword below mirrors jsonschema's own implementation for
Draft 2020-12 (bool is never a number, 1.0 is an integer, `equal` for enum/const); a keyword it
does not mirror makes the whole schema "cannot tell" at compile time.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from .jsonschemas import ecma_pattern
from .patterns import PatternError

Check = Callable[[Any], "bool | None"]
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_KNOWN_KEYWORDS = frozenset(Draft202012Validator.VALIDATORS)
_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties", "patternProperties"})
_FAST_KEYWORDS = (  # checked in this order: cheap and decisive first
    "type", "const", "enum", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties", "dependentRequired",
    "propertyNames", "minItems", "maxItems", "items", "$ref", "allOf", "anyOf", "oneOf", "not", "if",
    "dependentSchemas",
)


class _Unsupported(Exception):
    """The schema uses something the fast check does not mirror; jsonschema alone will validate it."""


def _total(check: Check) -> Check:
    """Mark `check` as one that answers only True or False (never None), so callers may combine it with `and`."""
    check._total = True  # type: ignore[attr-defined]
    return check


def _is_total(check: Check) -> bool:
    return getattr(check, "_total", False)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer())),
}
for _test in _TYPE_TESTS.values():
    _total(_test)


def _equal_any(options: list[Any]) -> Check:
    """Mirror jsonschema's `equal` against each option, for scalar instances; None for containers."""
    strings = frozenset(o for o in options if isinstance(o, str))
    others = [o for o in options if not isinstance(o, str | list | dict)]
    has_true = any(o is True for o in others)
    has_false = any(o is False for o in others)
    has_null = any(o is None for o in others)
    plain = [o for o in others if o is not None and not isinstance(o, bool)]

    def check(value: Any) -> bool | None:
        if isinstance(value, str):
            return value in strings
        if value is None:
            return has_null
        if value is True:
            return has_true
        if value is False:
            return has_false
        if isinstance(value, int | float):
            return any(value == o for o in plain)
        return None

    return check


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _total(lambda value: True)
    if len(checks) == 1:
        return checks[0]
    if all(_is_total(c) for c in checks):  # the common case: plain `and`, no verdict bookkeeping
        if len(checks) == 2:
            first, second = checks
            return _total(lambda value: first(value) and second(value))
        if len(checks) == 3:
            first, second, third = checks
            return _total(lambda value: first(value) and second(value) and third(value))

        def all_total(value: Any) -> bool:
            for each in checks:
                if not each(value):
                    return False
            return True

        return _total(all_total)

    def check(value: Any) -> bool | None:
        result: bool | None = True
        for each in checks:
            verdict = each(value)
            if verdict is False:
                return False
            if verdict is None:
                result = None
        return result

    return check


class _FastCompiler:
    def __init__(self, registry: Any, format_checker: Any) -> None:
        self.registry = registry
        self.format_checker = format_checker
        self.cells: dict[int, list[Check]] = {}
        self.keep: list[Any] = []  # keeps resolved contents alive so their ids stay unique

    def compile(self, schema: Any, resolver: Any, *, root: bool = False) -> Check:
        if schema is True:
            return _total(lambda value: True)
        if schema is False:
            return _total(lambda value: False)
        if not isinstance(schema, Mapping):
            raise _Unsupported("not a schema")
        if ("$id" in schema and not root) or schema.get("$schema", _DIALECT) != _DIALECT:
            raise _Unsupported("$id or another dialect inside a schema")
        key = id(schema)
        if key in self.cells:  # a recursive $ref: late-bound through the cell
            cell = self.cells[key]
            return lambda value: cell[0](value)
        cell = self.cells[key] = [lambda value: None]
        self.keep.append(schema)
        unknown = (_KNOWN_KEYWORDS & set(schema)) - _OBJECT_KEYWORDS - set(_FAST_KEYWORDS)
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        checks = [self._keyword(schema, kw, resolver) for kw in _FAST_KEYWORDS if kw in schema]
        if _OBJECT_KEYWORDS & set(schema):
            checks.insert(1 if "type" in schema else 0, self._object(schema, resolver))
        cell[0] = _all([c for c in checks if c is not None])
        return cell[0]

    def _ref(self, ref: str, resolver: Any) -> Check:
        try:
            resolved = resolver.lookup(ref)
        except Exception:
            raise _Unsupported(f"$ref {ref}") from None
        contents = resolved.contents
        return self.compile(contents, resolved.resolver, root=isinstance(contents, Mapping) and "$id" in contents)

    def _keyword(self, schema: Mapping[str, Any], kw: str, resolver: Any) -> Check | None:
        value = schema[kw]
        if kw == "$ref":
            return self._ref(value, resolver)
        if kw == "type":
            names = [value] if isinstance(value, str) else list(value)
            tests = [_TYPE_TESTS[n] for n in names if n in _TYPE_TESTS]
            if len(tests) != len(names):
                raise _Unsupported(f"type {value!r}")
            if len(tests) == 1:
                return tests[0]
            return _total(lambda v: any(t(v) for t in tests))
        if kw == "enum":
            return _equal_any(list(value))
        if kw == "const":
            return _equal_any([value])
        if kw == "propertyNames":
            names_check = self.compile(value, resolver)
            return lambda v: _all_of(names_check, v) if isinstance(v, dict) else True
        if kw in ("minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength"):
            kind = dict if kw.endswith("Properties") else list if kw.endswith("Items") else str
            bound = value
            if kw.startswith("min"):
                return _total(lambda v: len(v) >= bound if isinstance(v, kind) else True)
            return _total(lambda v: len(v) <= bound if isinstance(v, kind) else True)
        if kw == "dependentRequired":
            rules = {k: tuple(v) for k, v in value.items()}
            return lambda v: all(all(n in v for n in need) for k, need in rules.items() if k in v) \
                if isinstance(v, dict) else True
        if kw == "dependentSchemas":
            deps = {k: self.compile(sub, resolver) for k, sub in value.items()}
            return lambda v: _all([c for k, c in deps.items() if k in v])(v) if isinstance(v, dict) else True
        if kw == "items":
            item_check = self.compile(value, resolver)
            return lambda v: _all_of(item_check, v) if isinstance(v, list) else True
        if kw == "pattern":
            try:
                regex = ecma_pattern(value)  # as the data validators anchor it
            except PatternError:
                raise _Unsupported("pattern") from None
            return _total(lambda v: regex.found(v) if isinstance(v, str) else True)
        if kw == "format":
            checker, fmt = self.format_checker, value
            return None if checker is None else lambda v: checker.conforms(v, fmt)
        if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            limit = value
            # written as jsonschema writes them (`not v < limit`), so NaN passes exactly as it does there
            compare = {"minimum": lambda v: not v < limit, "maximum": lambda v: not v > limit,
                       "exclusiveMinimum": lambda v: not v <= limit, "exclusiveMaximum": lambda v: not v >= limit}[kw]
            return _total(lambda v: compare(v) if _is_number(v) else True)
        if kw == "allOf":
            return _all([self.compile(sub, resolver) for sub in value])
        if kw == "anyOf":
            subs = [self.compile(sub, resolver) for sub in value]
            if all(_is_total(sub) for sub in subs):
                def any_total(v: Any) -> bool:
                    for sub in subs:
                        if sub(v):
                            return True
                    return False

                return _total(any_total)
            return lambda v: _any_of(subs, v)
        if kw == "oneOf":
            subs = [self.compile(sub, resolver) for sub in value]
            return lambda v: _one_of(subs, v)
        if kw == "not":
            sub = self.compile(value, resolver)

            def negate(v: Any) -> bool | None:
                verdict = sub(v)
                return None if verdict is None else not verdict

            return negate
        if kw == "if":
            test = self.compile(value, resolver)
            then = self.compile(schema.get("then", True), resolver)
            other = self.compile(schema.get("else", True), resolver)

            def conditional(v: Any) -> bool | None:
                verdict = test(v)
                return None if verdict is None else then(v) if verdict else other(v)

            return conditional
        raise _Unsupported(kw)

    def _object(self, schema: Mapping[str, Any], resolver: Any) -> Check:
        """The object keywords (properties, required, additional and pattern properties) in one pass."""
        props = {name: self.compile(sub, resolver) for name, sub in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        patterns = []
        try:
            for pattern, sub in schema.get("patternProperties", {}).items():
                patterns.append((ecma_pattern(pattern), self.compile(sub, resolver)))
        except PatternError:
            raise _Unsupported("patternProperties") from None
        additional = schema.get("additionalProperties", True)
        extra = None if additional is True else self.compile(additional, resolver)
        closed = additional is False
        if not patterns and all(_is_total(sub) for sub in props.values()) and (extra is None or _is_total(extra)):
            return _total(self._plain_object(props, required, extra, closed))

        def check(v: Any) -> bool | None:
            if not isinstance(v, dict):
                return True
            for name in required:
                if name not in v:
                    return False
            result: bool | None = True
            for name, item in v.items():
                sub = props.get(name)
                matched = False
                if sub is not None:
                    verdict = sub(item)
                    if verdict is not True:
                        if verdict is False:
                            return False
                        result = None
                    matched = True
                if patterns:
                    if not isinstance(name, str):
                        return None
                    for regex, pattern_check in patterns:
                        if regex.found(name):
                            matched = True
                            verdict = pattern_check(item)
                            if verdict is not True:
                                if verdict is False:
                                    return False
                                result = None
                if not matched and extra is not None:
                    if closed:
                        return False
                    verdict = extra(item)
                    if verdict is not True:
                        if verdict is False:
                            return False
                        result = None
            return result

        return check

    @staticmethod
    def _plain_object(props: dict[str, Check], required: tuple[str, ...], extra: Check | None,
                      closed: bool) -> Check:
        """`_object` when every sub-check is total and there are no patternProperties: the same verdicts, faster."""

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name in required:
                if name not in v:
                    return False
            for name, item in v.items():
                sub = props.get(name)
                if sub is not None:
                    if not sub(item):
                        return False
                elif extra is not None and (closed or not extra(item)):
                    return False
            return True

        return check


def _all_of(check: Check, items: Any) -> bool | None:
    result: bool | None = True
    for item in items:
        verdict = check(item)
        if verdict is False:
            return False
        if verdict is None:
            result = None
    return result


def _any_of(checks: list[Check], value: Any) -> bool | None:
    result: bool | None = False
    for check in checks:
        verdict = check(value)
        if verdict is True:
            return True
        if verdict is None:
            result = None
    return result


def _one_of(checks: list[Check], value: Any) -> bool | None:
    found = 0
    for check in checks:
        verdict = check(value)
        if verdict is None:
            return None
        found += verdict
    return found == 1


def fast_check(schema: Mapping[str, Any], registry: Any, format_checker: Any) -> Check | None:
    """A compiled True/False/None validity check for `schema`, or None when it cannot be compiled.

    The result never raises: an unexpected exception inside a check means "cannot tell".
    """
    try:
        resolver = registry.resolver_with_root(Resource.from_contents(schema, default_specification=DRAFT202012))
        compiled = _FastCompiler(registry, format_checker).compile(schema, resolver, root=True)
    except (_Unsupported, RecursionError):
        return None

    def check(value: Any) -> bool | None:
        try:
            return compiled(value)
        except Exception:
            return None

    return check
