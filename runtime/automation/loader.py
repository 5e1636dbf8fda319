"""Load an automation file and validate it completely, reporting every mistake with file:line.

Order: strict YAML (`specs.documents`) -> the meta-schema `schemas/automation.schema.json` -> checks the
schema cannot express: operations exist (with suggestions), each step's connection exists and is
for the operation's connector, connection fields are known and never secret, templates parse and
read only `inputs`, earlier steps (and `item`/`index` inside loops), literal inputs satisfy the
operation's input schema, `for_each` is a list expression -> frozen `Automation`.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from ..call.render import check_endpoint
from ..errors import Problem, SpecError, UnknownNameError
from ..names import did_you_mean, suggest
from ..specs.documents import Document, dump_pointer, load_json_file, load_yaml, load_yaml_file
from ..specs.jsonschemas import FORMAT_CHECKER, DataValidator, error_problems
from ..templates.compiled import Compiled, compile_value
from .conditions import compile_condition
from .examples import PREFIX, example_file, example_name
from .input_schema import inputs_schema_problems
from .model import BUILTIN_STEPS, Automation, ConnectionRef, RetrySpec, Step
from .webhook_step import WEBHOOK_INPUT_SCHEMA, header_problems

if TYPE_CHECKING:
    from .host import AutomationHost

__all__ = ["WEBHOOK_VALIDATOR", "check_automation", "load_automation", "meta_schema", "parse_automation",
           "runtime_filters", "schema_validator", "static_input_problems"]

STEP_ROOTS = ("inputs", "steps")
LOOP_ROOTS = ("inputs", "steps", "item", "index")
RESULT_FIELDS = ("input", "output", "ok", "status", "error", "outcome")
_WHOLE_EXPR_RE = re.compile(r"\s*\{\{.*\}\}\s*", re.S)

_META: dict[str, Any] = {}
_META_LOCK = threading.Lock()


def meta_schema() -> dict[str, Any]:
    """The automation meta-schema shipped in `relaykit.schemas` (loaded once)."""
    with _META_LOCK:
        if "schema" not in _META:
            doc = load_json_file(resources.files("relaykit.schemas") / "automation.schema.json",
                                 display="schemas/automation.schema.json")
            _META["schema"] = doc.data
            _META["validator"] = DataValidator(doc.data)
        return _META["schema"]


def _meta_validator() -> Draft202012Validator:
    meta_schema()
    return _META["validator"]


def runtime_filters(rt: AutomationHost) -> Any:
    """The runtime's template filters (plugins included)."""
    return rt.template_filters


def schema_validator(rt: AutomationHost, schema: Mapping[str, Any]) -> Any:
    """A 2020-12 validator for `schema` that resolves relaykit's shipped schemas by `$ref`."""
    return rt.schema_validator(schema)


def load_automation(rt: AutomationHost, path: str | os.PathLike[str], *, display: str | None = None) -> Automation:
    """Load and validate an automation file; `SpecError` listing every problem with file:line.

    `example:NAME` (or a bare NAME that is no file) loads one of the examples shipped with relaykit.
    """
    name = example_name(path)
    if name is not None:
        return parse_automation(rt, example_file(name).read_bytes(), display or f"{PREFIX}{name}")
    return _Loader(rt, load_yaml_file(path, display=display or str(path))).build()


def parse_automation(rt: AutomationHost, text: str | bytes, file: str = "<automation>") -> Automation:
    """Like `load_automation`, from YAML text (for embedders that keep automations elsewhere)."""
    return _Loader(rt, load_yaml(text, file)).build()


def check_automation(rt: AutomationHost, path: str | os.PathLike[str], *, display: str | None = None) -> list[Problem]:
    """Every problem in an automation file (empty when valid): what `relaykit validate` reports."""
    try:
        load_automation(rt, path, display=display)
    except SpecError as exc:
        return list(exc.problems)
    return []


class _Hole:
    """Stands for a templated value in static input checks: its real value is known only at run time."""

    def __repr__(self) -> str:
        return "<template>"


_HOLE = _Hole()
_KEY_LEVEL = frozenset({"required", "additionalProperties", "unevaluatedProperties", "propertyNames",
                        "dependentRequired", "minProperties", "maxProperties"})


def _static_view(value: Any) -> Any:
    if isinstance(value, str):
        return _HOLE if "{{" in value else value
    if isinstance(value, dict):
        return {k: _static_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_static_view(v) for v in value]
    return value


def _has_hole(value: Any) -> bool:
    if value is _HOLE:
        return True
    if isinstance(value, dict):
        return any(_has_hole(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_hole(v) for v in value)
    return False


def static_input_problems(validator: Any, value: Any) -> list[Problem]:
    """Schema problems that hold whatever the templates in `value` render to (pointers relative to it)."""
    if isinstance(value, str) and "{{" in value:
        return []  # the whole input comes from one expression: only known at run time
    view = _static_view(value)
    errors = [e for e in validator.iter_errors(view) if e.validator in _KEY_LEVEL or not _has_hole(e.instance)]
    return error_problems(errors)


def _suggest(name: str, choices: list[str], n: int = 3) -> str | None:
    return did_you_mean(suggest(name, choices, n=n))


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class _Loader:
    def __init__(self, rt: AutomationHost, doc: Document) -> None:
        self.rt = rt
        self.doc = doc
        self.problems: list[Problem] = []
        self.filters = runtime_filters(rt)
        self.loop_ids: set[str] = set()

    def add(self, pointer: str, message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.problem(pointer, message, hint))

    def extend(self, problems: list[Problem], base: str = "") -> None:
        """Add problems found in a sub-value, re-located in this file."""
        for p in problems:
            pointer = base + p.pointer if base else p.pointer
            self.problems.append(self.doc.problem(pointer, p.message, p.hint))

    def compile(self, value: Any, pointer: str, roots: tuple[str, ...]) -> Compiled | None:
        try:
            return compile_value(value, roots=roots, filters=self.filters, file=self.doc.file, pointer=pointer,
                                 locate=self.doc.locate)
        except SpecError as exc:
            self.problems.extend(self._explain_roots(exc.problems, roots))
            return None

    @staticmethod
    def _explain_roots(problems: list[Problem], roots: tuple[str, ...]) -> list[Problem]:
        out = []
        for p in problems:
            if p.message in ("unknown variable 'item'", "unknown variable 'index'") and "item" not in roots:
                p = Problem(p.message, p.pointer, p.file, p.line, p.column,
                            "item and index exist only in a for_each step")
            elif p.message == "unknown variable 'env'":
                p = Problem(p.message, p.pointer, p.file, p.line, p.column,
                            "automations cannot read the environment; pass values as inputs, secrets as connections")
            out.append(p)
        return out

    # -- top level ----------------------------------------------------------------------------
    def build(self) -> Automation:
        data = self.doc.data
        if not isinstance(data, dict):
            raise SpecError(self.doc.problem("", "an automation must be a mapping"), "invalid automation")
        errors = list(_meta_validator().iter_errors(data))
        self.extend(error_problems(errors))
        unsound = _unsound_steps(errors)
        if unsound is None:  # the file's frame is wrong: what follows could only guess
            raise SpecError(self.problems, f"{self.doc.file}: invalid automation")
        inputs_schema, inputs_validator = self.inputs(data.get("inputs"))
        connections = self.connections(data.get("connections") or {})
        steps = self.steps(data["steps"], connections, inputs_schema, unsound)
        outputs = None
        if "outputs" in data:
            outputs = self.compile(data["outputs"], "/outputs", STEP_ROOTS)
            if outputs is not None:
                ids = [i for i in _step_ids(data["steps"]) if i is not None]
                self.check_references(outputs.references(), "/outputs", ids, [], None, inputs_schema)
        if self.problems:
            raise SpecError(self.problems, f"{self.doc.file}: invalid automation")
        return Automation(
            name=data["name"], file=self.doc.file, steps=tuple(steps),
            connections=MappingProxyType(connections), inputs_schema=MappingProxyType(inputs_schema),
            inputs_validator=inputs_validator, outputs=outputs, title=data.get("title", ""),
            description=data.get("description", ""),
        )

    def inputs(self, schema: Any) -> tuple[dict[str, Any], Any]:
        if schema is None:
            schema = {"type": "object"}
        schema = dict(schema)
        for err in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
            self.add("/inputs" + dump_pointer(err.absolute_path), "is not valid JSON Schema")
        if schema.get("type", "object") != "object":
            self.add("/inputs/type", "the inputs (the trigger payload) must be an object", "use type: object")
        schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
        try:
            validator = schema_validator(self.rt, schema)
        except Exception:
            self.add("/inputs", "is not a usable JSON Schema")
            validator = None
        found = inputs_schema_problems(self.rt, schema, validator)
        for problem in found:
            self.add(problem.pointer, problem.message, problem.hint)
        return schema, (None if found else validator)

    def connections(self, raw: Mapping[str, Any]) -> dict[str, ConnectionRef]:
        out: dict[str, ConnectionRef] = {}
        for name, entry in raw.items():
            pointer = f"/connections/{_escape(name)}"
            connector_name = entry["connector"]
            try:
                connector = self.rt.connector(connector_name)
            except UnknownNameError as exc:
                hint = did_you_mean(exc.suggestions) or "installed: " + ", ".join(self.rt.connector_names())
                self.add(f"{pointer}/connector", f"unknown connector {connector_name!r}", hint)
                continue
            except SpecError as exc:
                self.problems.extend(exc.problems)
                continue
            fields = dict(entry.get("fields") or {})
            properties = connector.connection_schema.get("properties", {})
            for field_name, value in fields.items():
                where = f"{pointer}/fields/{_escape(field_name)}"
                if field_name in connector.secret_fields:
                    self.add(where, f"{field_name!r} is a secret; secrets never go in an automation",
                             f"give it in a --connections file, RELAYKIT_{_env(entry.get('ref') or name)}_"
                             f"{field_name.upper()} or your resolve_connection hook")
                elif field_name not in properties:
                    self.add(where, f"{connector_name} connections have no field {field_name!r}",
                             _suggest(field_name, list(properties)))
                elif isinstance(value, str) and "{{" in value:
                    self.add(where, "connection fields are fixed values, not templates")
                else:
                    validator = schema_validator(self.rt, properties[field_name])
                    self.extend(error_problems(validator.iter_errors(value)), where)
            out[name] = ConnectionRef(name=name, connector=connector_name, ref=entry.get("ref") or name,
                                      fields=MappingProxyType(fields))
        return out

    # -- steps --------------------------------------------------------------------------------
    def steps(self, raw_steps: list[dict[str, Any]], connections: dict[str, ConnectionRef],
              inputs_schema: Mapping[str, Any], unsound: set[int]) -> list[Step]:
        """Check every step; a broken step still counts as declared, so it causes no errors elsewhere."""
        ids = _step_ids(raw_steps)
        # whether a step loops is read from the file, so a step with its own problems changes nothing for
        # the steps that read it (steps.lines[0] stays valid when `lines` has a misspelt `uses:`)
        self.loop_ids = {i for i, raw in zip(ids, raw_steps, strict=True) if i is not None and "for_each" in raw}
        seen: dict[str, int] = {}
        steps: list[Step] = []
        for index, raw in enumerate(raw_steps):
            pointer = f"/steps/{index}"
            sid = ids[index]
            if sid is not None and sid in seen:
                self.add(f"{pointer}/id", f"duplicate step id {sid!r} (first used by step {seen[sid] + 1})")
            elif sid is not None:
                seen[sid] = index
            if index in unsound:  # its shape is wrong (reported above): its contents cannot be checked
                continue
            earlier = [i for i in ids[:index] if i is not None]
            later = [i for i in ids[index + 1:] if i is not None]
            step = self.step(raw, pointer, connections, earlier, later, steps, inputs_schema)
            if step is not None:
                steps.append(step)
        return steps

    def step(self, raw: dict[str, Any], pointer: str, connections: dict[str, ConnectionRef], earlier: list[str],
             later: list[str], done: list[Step], inputs_schema: Mapping[str, Any]) -> Step | None:
        uses = raw["uses"]
        loops = "for_each" in raw
        roots = LOOP_ROOTS if loops else STEP_ROOTS
        before = len(self.problems)
        op = None
        if uses in BUILTIN_STEPS:
            kind = uses
            if "connection" in raw:
                self.add(f"{pointer}/connection", f"the built-in {uses!r} step takes no connection")
        elif "." in uses:
            kind = "operation"
            try:
                op = self.rt.operation(uses)
            except UnknownNameError as exc:
                hint = did_you_mean(exc.suggestions)
                self.add(f"{pointer}/uses", str(exc).split(" (did you mean")[0], hint)
            except SpecError as exc:
                self.problems.extend(exc.problems)
        else:
            kind = "unknown"
            choices = list(BUILTIN_STEPS) + self.rt.operations()
            self.add(f"{pointer}/uses", f"unknown step type {uses!r}: use CONNECTOR.OPERATION or a built-in step "
                     f"({', '.join(BUILTIN_STEPS)})", _suggest(uses, choices))
        connection = self.step_connection(raw, pointer, op, connections) if kind == "operation" else None

        with_raw = raw.get("with", {} if kind != "webhook" else None)
        if kind == "webhook" and with_raw is None:
            self.add(pointer, "a webhook step needs `with:` with at least a url")
        if kind == "set" and not isinstance(with_raw, dict):
            self.add(f"{pointer}/with", "a set step's `with` must be a mapping of names to values")
        if kind == "operation" and not isinstance(with_raw, dict) and not (
                isinstance(with_raw, str) and _WHOLE_EXPR_RE.fullmatch(with_raw)):
            self.add(f"{pointer}/with", "must be a mapping of input fields (or one expression giving the whole input)")
        with_compiled = self.compile(with_raw, f"{pointer}/with", roots) if with_raw is not None else None
        if with_compiled is not None and len(self.problems) == before:
            if op is not None:
                self.extend(static_input_problems(op.input_validator, with_raw), f"{pointer}/with")
                endpoint = with_raw.get("endpoint") if isinstance(with_raw, dict) else None
                if op.kind == "raw_http" and isinstance(endpoint, str) and "{{" not in endpoint:
                    bad = check_endpoint(endpoint, op.connector.base_urls.get(op.connector.default_region, ""))
                    self.extend([bad] if bad else [], f"{pointer}/with")
            elif kind == "webhook":
                self.extend(static_input_problems(WEBHOOK_VALIDATOR, with_raw), f"{pointer}/with")
                if isinstance(with_raw, dict) and isinstance(with_raw.get("headers"), dict):
                    self.extend(header_problems(with_raw["headers"], "/headers", literal_check=True),
                                f"{pointer}/with")
                if isinstance(with_raw, dict):
                    bodies = [k for k in ("json", "form", "body") if k in with_raw]
                    if len(bodies) > 1:
                        self.add(f"{pointer}/with/{bodies[1]}", f"give only one of json, form and body "
                                 f"(also has {bodies[0]})")

        condition = None
        per_item = False
        if "if" in raw:
            try:
                condition = compile_condition(raw["if"], roots=roots, filters=self.filters, file=self.doc.file,
                                              pointer=f"{pointer}/if", locate=self.doc.locate)
                per_item = any(ref[0] in ("item", "index") for ref in condition.references())
            except SpecError as exc:
                self.problems.extend(self._explain_roots(exc.problems, roots))

        for_each = None
        if loops:
            for_each = self.for_each(raw["for_each"], f"{pointer}/for_each", inputs_schema, done)
        elif "max_parallel" in raw:
            self.add(f"{pointer}/max_parallel", "max_parallel applies only to a for_each step")

        references: list[tuple[str, set[tuple[str | int, ...]]]] = []
        if with_compiled is not None:
            references.append((f"{pointer}/with", with_compiled.references()))
        if condition is not None:
            references.append((f"{pointer}/if", condition.references()))
        if for_each is not None:
            references.append((f"{pointer}/for_each", for_each.references()))
        for where, refs in references:
            self.check_references(refs, where, earlier, later, raw["id"], inputs_schema)

        paginate = None
        if raw.get("paginate"):
            paginate = raw["paginate"] if isinstance(raw["paginate"], dict) else {}
            if kind != "operation":
                self.add(f"{pointer}/paginate", "paginate applies only to an operation step")
            elif op is not None and op.pagination is None:
                self.add(f"{pointer}/paginate", f"{uses} does not page",
                         "paginate operations that declare `pagination:` (see `relaykit describe`)")

        retry = RetrySpec()
        if "retry" in raw:
            r = raw["retry"]
            retry = RetrySpec(max_attempts=r.get("max_attempts", 3), delay=float(r.get("delay", 1.0)),
                              factor=float(r.get("factor", 2.0)), max_delay=float(r.get("max_delay", 60.0)),
                              when=r.get("when", "retryable"))
            if kind == "set":
                self.add(f"{pointer}/retry", "a set step sends nothing, so it has nothing to retry")
        if len(self.problems) != before or kind == "unknown":
            return None
        return Step(
            id=raw["id"], uses=uses, kind=kind, pointer=pointer, title=raw.get("name", ""), connection=connection,
            with_=with_compiled, condition=condition, condition_per_item=per_item and loops, for_each=for_each,
            max_parallel=raw.get("max_parallel", 1), on_error=raw.get("on_error", "fail"), retry=retry,
            paginate=paginate,
        )

    def step_connection(self, raw: dict[str, Any], pointer: str, op: Any,
                        connections: dict[str, ConnectionRef]) -> str | None:
        name = raw.get("connection")
        if op is None:
            return name
        needed = op.connector.name
        if name is None:
            candidates = [n for n, c in connections.items() if c.connector == needed]
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                self.add(pointer, f"{raw['uses']} needs a {needed} connection",
                         f"declare one under connections: (e.g. cio: {{connector: {needed}, ref: NAME}}) "
                         "and name it with connection:")
            else:
                self.add(pointer, f"several connections use {needed} ({', '.join(candidates)}); "
                         "choose one with connection:")
            return None
        if name not in connections:
            self.add(f"{pointer}/connection", f"unknown connection {name!r}",
                     _suggest(name, list(connections)) or ("declared: " + ", ".join(connections) if connections
                                                           else "declare it under connections:"))
            return None
        if connections[name].connector != needed:
            self.add(f"{pointer}/connection", f"connection {name!r} is a {connections[name].connector} connection, "
                     f"but {raw['uses']} needs {needed}")
            return None
        return name

    def for_each(self, value: Any, pointer: str, inputs_schema: Mapping[str, Any], done: list[Step]) -> Compiled | None:
        if isinstance(value, str) and not (_WHOLE_EXPR_RE.fullmatch(value) and value.count("{{") == 1):
            self.add(pointer, "for_each must be a list or one expression that gives a list",
                     'e.g. for_each: "{{ inputs.events }}"')
            return None
        compiled = self.compile(value, pointer, STEP_ROOTS)
        if compiled is None or not isinstance(value, str) or "|" in value:
            return compiled
        refs = list(compiled.references())
        if len(refs) == 1:
            kind = self._static_type(refs[0], inputs_schema, done)
            if kind is not None and kind != "array":
                self.add(pointer, f"for_each must give a list, but {_path(refs[0])} is {_TYPE_WORDS.get(kind, kind)}")
        return compiled

    @staticmethod
    def _static_type(ref: tuple[str | int, ...], inputs_schema: Mapping[str, Any], done: list[Step]) -> str | None:
        """The JSON type a path certainly has, when the schema or the result shape says so."""
        if ref[0] == "inputs":
            schema: Any = inputs_schema
            for part in ref[1:]:
                if not isinstance(schema, Mapping) or not isinstance(part, str):
                    return None
                schema = (schema.get("properties") or {}).get(part)
            if isinstance(schema, Mapping) and isinstance(schema.get("type"), str):
                return schema["type"]
            return None
        if ref[0] == "steps" and len(ref) == 3 and isinstance(ref[2], str):
            step = next((s for s in done if s.id == ref[1]), None)
            if step is not None and not step.loops:
                return {"ok": "boolean", "status": "integer", "outcome": "string", "error": "object"}.get(ref[2])
        if ref[0] == "steps" and len(ref) == 2:
            step = next((s for s in done if s.id == ref[1]), None)
            if step is not None and not step.loops:
                return "object"
        return None

    def check_references(self, refs: set[tuple[str | int, ...]], pointer: str, earlier: list[str], later: list[str],
                         own: str | None, inputs_schema: Mapping[str, Any]) -> None:
        loops = self.loop_ids
        for ref in sorted(refs, key=lambda r: json.dumps(r, default=str)):
            if ref[0] == "steps":
                if len(ref) < 2 or not isinstance(ref[1], str):
                    self.add(pointer, "name a step: steps.<id>.output")
                    continue
                sid = ref[1]
                if sid == own and sid not in earlier:
                    self.add(pointer, f"step {sid!r} cannot read its own result")
                elif sid in later and sid not in earlier:  # a duplicate id is reported once, at the duplicate
                    self.add(pointer, f"step {sid!r} runs later; only earlier steps can be read")
                elif sid not in earlier:
                    self.add(pointer, f"unknown step {sid!r}", _suggest(sid, earlier) or
                             ("earlier steps: " + ", ".join(earlier) if earlier else "there is no earlier step"))
                elif len(ref) >= 3:
                    part = ref[2]
                    if sid in loops and isinstance(part, str):
                        self.add(pointer, f"steps.{sid} is a list of results (it loops): use steps.{sid}[0].{part} "
                                 "or a filter such as length")
                    elif sid not in loops and part not in RESULT_FIELDS:
                        self.add(pointer, f"steps.{sid} has no field {part!r}",
                                 _suggest(str(part), list(RESULT_FIELDS)) or "fields: " + ", ".join(RESULT_FIELDS))
            elif ref[0] == "inputs" and len(ref) >= 2 and isinstance(ref[1], str):
                props = inputs_schema.get("properties")
                extra = inputs_schema.get("additionalProperties", False)
                if isinstance(props, Mapping) and props and ref[1] not in props and extra in (False, None):
                    self.add(pointer, f"unknown input {ref[1]!r}",
                             _suggest(ref[1], list(props)) or "declared inputs: " + ", ".join(props))


def _step_ids(raw_steps: Any) -> list[str | None]:
    """Each step's id as written (None where it is missing or not a string)."""
    if not isinstance(raw_steps, list):
        return []
    return [raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            for raw in raw_steps]


def _unsound_steps(errors: list[Any]) -> set[int] | None:
    """Steps whose shape breaks the meta-schema; None when something outside the steps does.

    An unknown key (`max_paralel`) is reported and ignored, so it never hides the file's other problems.
    """
    unsound: set[int] = set()
    for error in errors:
        if error.validator in ("additionalProperties", "unevaluatedProperties"):
            continue
        path = list(error.absolute_path)
        if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
            unsound.add(path[1])
        else:
            return None
    return unsound


_TYPE_WORDS = {"object": "an object", "string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "null": "null"}


def _path(ref: tuple[str | int, ...]) -> str:
    text = str(ref[0])
    for part in ref[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _env(reference: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in reference.upper())


WEBHOOK_VALIDATOR = DataValidator(WEBHOOK_INPUT_SCHEMA, format_checker=FORMAT_CHECKER)
"""The compiled validator of the webhook step's input (shared: validators are thread-safe)."""
