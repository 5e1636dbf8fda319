"""JSON Schema plumbing: one offline schema registry, compiled validators, and value-free messages.

Every schema gets an identity under `https://schemas.relaykit.invalid/` derived from where it ships
(`common/customerio.json`, `customerio-track/track_event.input.json`, ...), so relative `$ref`s
work across files and connectors. The `.invalid` host can never resolve, and the registry's
retrieve function only reads registered folders: nothing is ever fetched.

jsonschema's own messages quote the offending instance (which may be an email or a key), so
problems are rebuilt here from the failing keyword and the schema alone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from copy import deepcopy
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from ..errors import Problem, SpecError
from ..names import did_you_mean, suggest
from .documents import dump_pointer, load_json_file
from .patterns import PatternError, SafePattern, compile_pattern
from .sources import Location

BASE_URI = "https://schemas.relaykit.invalid/"

_RFC3339 = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
    r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")  # used with fullmatch


def ecma_pattern(pattern: str) -> SafePattern:
    r"""A JSON Schema `pattern` compiled for linear-time matching, `$` meaning the end of the string.

    jsonschema runs Python's `re.search` as is: `$` also matches before a final newline (`"^[0-9]+$"`
    would accept `"12\n"`) and backtracking makes `^(a+)+$` exponential. RE2 has neither problem
    (see `specs.patterns`); `PatternError` for a pattern it refuses.
    """
    return compile_pattern(pattern)


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Any:
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = ecma_pattern(pattern).found(instance)
    except PatternError:  # refused at load for every schema relaykit loads; never backtrack here
        matched = False
    if not matched:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _matches(pattern: str, name: str) -> bool:
    try:
        return ecma_pattern(pattern).found(name)
    except PatternError:
        return False


def _pattern_properties(validator: Any, pattern_properties: Mapping[str, Any], instance: Any,
                        schema: Mapping[str, Any]) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for name, value in instance.items():
            if _matches(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in instance if k not in properties and not any(_matches(p, k) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield ValidationError("Additional properties are not allowed")


def pattern_problems(schema: Any, display: str, base: str = "") -> list[Problem]:
    """Every `pattern` / `patternProperties` regex that RE2 refuses, found at load rather than at a call."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str]] = [(schema, base)]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            found = [("pattern", node["pattern"])] if isinstance(node.get("pattern"), str) else []
            if isinstance(node.get("patternProperties"), dict):
                found += [(f"patternProperties/{dump_pointer([p])[1:]}", p) for p in node["patternProperties"]]
            for where, pattern in found:
                try:
                    ecma_pattern(pattern)
                except PatternError as exc:
                    problems.append(Problem(f"pattern {exc}", pointer=f"{pointer}/{where}", file=display))
            stack.extend((child, f"{pointer}/{dump_pointer([key])[1:]}") for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, f"{pointer}/{index}") for index, child in enumerate(node))
    return problems


DataValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern_keyword, "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties})
"""Draft 2020-12 with every regex matched by RE2, `$` as ECMA-262 anchors it; used for every data validator."""


def _format_checker() -> FormatChecker:
    """Draft 2020-12 formats that matter here, without optional third-party format packages."""
    checker = FormatChecker()
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_RFC3339.match(v)))
    checker.checks("email")(lambda v: not isinstance(v, str) or bool(_EMAIL.fullmatch(v)))
    return checker


FORMAT_CHECKER = _format_checker()


class SchemaStore:
    """Schemas by URI, loaded lazily from registered folders; thread-safe, never touches the network."""

    def __init__(self) -> None:
        self._folders: dict[str, Location] = {}
        self._trusted: set[str] = set()
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.registry: Registry = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]

    def add_folder(self, prefix: str, folder: Location, *, trusted: bool = False) -> None:
        """Serve `BASE_URI + prefix + name` from `folder / name` (prefix "" for the shared root).

        Schemas in a trusted folder (relaykit's own, checked by its guard tests and CI) skip the
        meta-schema check at load: it costs more than the rest of loading a connector.
        """
        self._folders[prefix] = folder
        if trusted:
            self._trusted.add(prefix)
        else:
            self._trusted.discard(prefix)

    def uri(self, prefix: str, name: str) -> str:
        return f"{BASE_URI}{prefix}{name}"

    def load(self, uri: str) -> dict[str, Any]:
        """The schema document at `uri`, parsed strictly and cached; SpecError if absent or invalid."""
        with self._lock:
            if uri in self._cache:
                return self._cache[uri]
        location, display = self._locate(uri)
        if location is None or not location.is_file():
            raise SpecError(Problem(f"schema not found: {display}"))
        doc = load_json_file(location, display=display)
        schema = doc.data
        problems = [doc.problem("", "a schema must be a JSON object")] if not isinstance(schema, dict) else []
        if not problems and not self._is_trusted(uri):
            for err in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
                problems.append(doc.problem(dump_pointer(err.absolute_path), describe_error(err)))
            for problem in pattern_problems(schema, display):
                problems.append(doc.problem(problem.pointer, problem.message))
        if problems:
            raise SpecError(problems)
        schema = dict(schema)
        schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
        schema["$id"] = uri
        with self._lock:
            self._cache[uri] = schema
        return schema

    def _is_trusted(self, uri: str) -> bool:
        rest = uri[len(BASE_URI):]
        prefix = max((p for p in self._folders if rest.startswith(p)), key=len, default=None)
        return prefix in self._trusted

    def _locate(self, uri: str) -> tuple[Location | None, str]:
        if not uri.startswith(BASE_URI):
            return None, uri
        rest = uri[len(BASE_URI):].split("#", 1)[0]
        # longest prefix first, so "customerio-track/" wins over the shared root ""
        for prefix in sorted(self._folders, key=len, reverse=True):
            if rest.startswith(prefix):
                name = rest[len(prefix):]
                if not name or ".." in name.split("/"):
                    return None, rest
                location = self._folders[prefix]
                for part in name.split("/"):
                    location = location / part
                return location, f"schemas/{rest}"
        return None, rest

    def _retrieve(self, uri: str) -> Resource:
        try:
            schema = self.load(uri)
        except SpecError as exc:
            raise NoSuchResource(ref=uri) from exc
        return Resource.from_contents(schema)

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        """A compiled validator (2020-12, formats checked) that resolves refs through this store."""
        return DataValidator(schema, registry=self.registry, format_checker=FORMAT_CHECKER)

    def check_refs(self, schema: Mapping[str, Any], display: str) -> list[Problem]:
        """Problems for `$ref`s that point nowhere (found at load, not at the first call)."""
        problems: list[Problem] = []
        resolver = self.registry.resolver(base_uri=schema.get("$id", BASE_URI))
        for pointer, ref in _walk_refs(schema, ""):
            try:
                resolver.lookup(ref)
            except Exception:
                problems.append(Problem(f"$ref {ref!r} cannot be resolved", pointer=pointer, file=display))
        return problems


def _walk_refs(node: Any, pointer: str) -> Iterable[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{pointer}/{key}"
            if key == "$ref" and isinstance(value, str):
                yield child, value
            else:
                yield from _walk_refs(value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_refs(value, f"{pointer}/{index}")


_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _expected_types(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value)
    return " or ".join(_TYPE_NAMES.get(n, n) for n in names)


def _short(value: Any) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _required_choices(forms: Any) -> list[str]:
    """The field names when every form is `{"required": [one field]}` (what "give one of these" looks like), else []."""
    if not isinstance(forms, list) or not forms:
        return []
    names = []
    for form in forms:
        required = form.get("required") if isinstance(form, Mapping) else None
        if set(form) - {"required", "description", "title"} or not isinstance(required, list) or len(required) != 1:
            return []
        names.append(str(required[0]))
    return names


def describe_error(error: ValidationError) -> str:
    """A message built from the failing keyword and the schema, never from the instance value."""
    kw, sv = error.validator, error.validator_value
    if kw == "type":
        return f"expected {_expected_types(sv)}"
    if kw == "enum":
        return f"must be one of: {_short(sv)}"
    if kw == "const":
        return f"must be {_short(sv)}"
    if kw == "minLength":
        return "must not be empty" if sv == 1 else f"must be at least {sv} characters long"
    if kw == "maxLength":
        return f"must be at most {sv} characters long"
    if kw == "pattern":
        return "does not have the expected form"
    if kw == "format":
        return f"must be a valid {sv}"
    if kw in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": "at least", "exclusiveMinimum": "greater than", "maximum": "at most",
                 "exclusiveMaximum": "less than"}
        return f"must be {words[kw]} {sv}"
    if kw == "minItems":
        return f"must have at least {sv} item{'s' if sv != 1 else ''}"
    if kw == "maxItems":
        return f"must have at most {sv} items"
    if kw == "minProperties":
        return f"must have at least {sv} field{'s' if sv != 1 else ''}"
    if kw == "maxProperties":
        return f"must have at most {sv} fields"
    if kw == "uniqueItems":
        return "items must be unique"
    if kw == "multipleOf":
        return f"must be a multiple of {sv}"
    if kw == "not":
        if isinstance(sv, dict) and "enum" in sv:
            return "must not be " + " or ".join(repr(v) for v in sv["enum"])
        if isinstance(sv, dict) and "required" in sv:
            return "must not combine " + ", ".join(sv["required"])
        return "is not allowed here"
    if kw in ("oneOf", "anyOf"):
        fields = _required_choices(sv)
        if fields:  # each form only names a field to give: say which, as a person would
            names = ", ".join(f"`{name}`" for name in fields)
            return f"needs at least one of {names}" if kw == "anyOf" else f"needs exactly one of {names}"
        return "does not match any allowed form" if kw == "anyOf" else "must match exactly one allowed form"
    if kw == "dependentRequired":
        return "is incomplete: a field it depends on is missing"
    return f"is invalid ({kw})"


def _suggest(name: str, choices: Iterable[str]) -> str | None:
    return did_you_mean(suggest(name, list(choices), n=1))


def error_problems(errors: Iterable[ValidationError], *, base: str = "") -> list[Problem]:
    """Turn validation errors into problems with JSON pointers; one problem per distinct place."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        for problem in _error_to_problems(error, base):
            key = (problem.pointer, problem.message)
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    return problems


def _error_to_problems(error: ValidationError, base: str) -> list[Problem]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = best_match(error.context)
        if deepest is not None and len(deepest.absolute_path) > len(error.absolute_path):
            return _error_to_problems(deepest, base)
    pointer = base + dump_pointer(error.absolute_path)
    kw, sv = error.validator, error.validator_value
    instance = error.instance
    if kw == "required" and isinstance(instance, dict):
        return [Problem("is required", pointer=f"{pointer}/{name}") for name in sv if name not in instance]
    if kw == "additionalProperties" and isinstance(instance, dict):
        allowed = list((error.schema.get("properties") or {}).keys())
        extras = [k for k in instance if k not in allowed]
        return [Problem("is not an allowed field", pointer=f"{pointer}/{dump_pointer([k])[1:]}",
                        hint=_suggest(k, allowed)) for k in extras]
    if kw == "unevaluatedProperties" and isinstance(instance, dict):
        return [Problem("is not an allowed field here", pointer=pointer)]
    if kw == "dependentRequired" and isinstance(instance, dict):
        return [Problem(f"is required when {trigger!r} is given", pointer=f"{pointer}/{need}")
                for trigger, needs in sv.items() if trigger in instance for need in needs if need not in instance]
    return [Problem(describe_error(error), pointer=pointer)]


_HAS_DEFAULTS: dict[int, tuple[Any, bool]] = {}


def _has_defaults(schema: Mapping[str, Any]) -> bool:
    """Whether any property at any depth declares a `default` (most inputs have none: skip the walk)."""
    hit = _HAS_DEFAULTS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]

    def walk(node: Any) -> bool:
        props = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(props, Mapping):
            return False
        return any(isinstance(sub, Mapping) and ("default" in sub or walk(sub)) for sub in props.values())

    found = walk(schema)
    if len(_HAS_DEFAULTS) >= 4096:
        _HAS_DEFAULTS.clear()
    _HAS_DEFAULTS[id(schema)] = (schema, found)  # the entry holds the schema, so its id is not reused
    return found


def apply_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """A copy of `value` with `default`s of absent object properties filled in (the caller's stays intact)."""
    if not isinstance(value, Mapping) or not isinstance(schema, Mapping):
        return value
    if not _has_defaults(schema):
        return dict(value)
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return dict(value)
    out = dict(value)
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            continue
        if name not in out and "default" in sub:
            out[name] = deepcopy(sub["default"])
        elif name in out and isinstance(out[name], dict):
            out[name] = apply_defaults(sub, out[name])
    return out
