"""Load connector and operation YAML into frozen, ready-to-run specs, reporting every problem at once.

Pipeline per file: strict YAML (`specfiles`) -> meta-schema (all errors, with file:line:col) ->
semantic checks the meta-schema cannot express (names match their files, schemas exist and are
valid, templates parse and read only allowed variables, secrets are read only by `auth`) -> frozen
dataclasses with compiled templates and validators, so a call does no parsing at all.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from .errors import Problem, SpecError
from .jsonschemas import FORMAT_CHECKER, SchemaStore, error_problems
from .registry import ConnectorSource, Location, suggest
from .specfiles import Document, load_yaml_file
from .templates import Compiled, FilterRegistry, compile_value

REQUEST_ROOTS = ("input", "connection", "region")
RESPONSE_ROOTS = ("response", "request", "input")
AUTH_ROOTS = ("connection",)
RAW_INPUT_SCHEMA = "raw_http_request.input.json"
RAW_OUTPUT_SCHEMA = "raw_http_request.output.json"
_EXPR = re.compile(r"\{\{\s*(.*?)\s*\}\}")


@dataclass(frozen=True)
class Timeouts:
    """Per-attempt connect and read timeouts, and the whole call's deadline across attempts."""

    connect: float = 5.0
    read: float = 30.0
    total: float = 90.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, the backoff envelope, and the longest Retry-After worth waiting for."""

    max_attempts: int = 4
    initial: float = 0.5
    factor: float = 2.0
    max: float = 8.0
    max_retry_after: float = 60.0


@dataclass(frozen=True)
class Settings:
    """The connector defaults an operation may override (StackStorm's overridable attributes)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    rate_limit_class: str | None = None
    limits: Mapping[str, Any] = field(default_factory=dict)
    max_response_bytes: int = 10 * 1024 * 1024

    def merged(self, raw: Mapping[str, Any]) -> Settings:
        """These settings with the named keys of `raw` (YAML) overriding, nested ones key by key."""
        timeout = self.timeout
        if "timeout" in raw:
            timeout = Timeouts(**{**timeout.__dict__, **raw["timeout"]})
        retry = self.retry
        if "retry" in raw:
            flat = dict(raw["retry"])
            backoff = flat.pop("backoff", {})
            retry = RetryPolicy(**{**retry.__dict__, **flat, **backoff})
        return Settings(
            headers={**self.headers, **raw.get("headers", {})},
            timeout=timeout,
            retry=retry,
            rate_limit_class=raw.get("rate_limit_class", self.rate_limit_class),
            limits={**self.limits, **raw.get("limits", {})},
            max_response_bytes=raw.get("max_response_bytes", self.max_response_bytes),
        )


@dataclass(frozen=True)
class RateLimit:
    """A token bucket declaration: `requests` per `per` seconds, with an optional burst size."""

    requests: int
    per: float
    burst: int | None = None


@dataclass(frozen=True)
class Idempotency:
    """safe: repeat freely; keyed: a dedupe id at `key` is reused on retries; unsafe: send at most once."""

    mode: str = "safe"
    key: str | None = None


@dataclass(frozen=True)
class RawRule:
    """Raw HTTP: which rate-limit class, idempotency and limits apply to a path glob."""

    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    rate_limit_class: str | None
    idempotency: Idempotency | None
    limits: Mapping[str, Any]

    def matches(self, method: str, endpoint: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.pattern.fullmatch(endpoint))


@dataclass(frozen=True)
class ConnectorSpec:
    """A loaded connector: connection schema, regions, auth, defaults, rate limits and error rules."""

    name: str
    title: str
    version: str
    description: str
    docs_url: str | None
    base_urls: Mapping[str, str]
    default_region: str
    connection_schema: Mapping[str, Any]
    secret_fields: frozenset[str]
    auth_type: str
    auth: Compiled
    defaults: Settings
    rate_limits: Mapping[str, RateLimit]
    raw_rules: tuple[RawRule, ...]
    message_from: tuple[str, ...]
    request_id_header: str | None
    hints: Mapping[int, str]
    operation_names: tuple[str, ...]
    source: ConnectorSource
    provider: str
    file: str

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.base_urls)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "description": self.description,
            "regions": list(self.regions),
            "base_urls": dict(self.base_urls),
            "operations": list(self.operation_names),
            "provider": self.provider,
        }


@dataclass(frozen=True)
class RequestTemplate:
    """The compiled request mapping of a declarative (`http`) operation."""

    method: str
    path: Compiled
    path_display: str
    query: Compiled | None
    headers: Compiled | None
    body_kind: str | None  # json | form | raw | None
    body: Compiled | None
    content_type: str | None


@dataclass(frozen=True)
class OperationSpec:
    """A loaded operation: schemas (raw and compiled), request/response mapping and call settings."""

    connector: ConnectorSpec
    name: str
    title: str
    description: str
    docs_url: str | None
    kind: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    input_validator: Draft202012Validator
    output_validator: Draft202012Validator
    idempotency: Idempotency
    request: RequestTemplate | None
    success: tuple[int, ...]
    output: Compiled | None
    settings: Settings
    examples: tuple[Mapping[str, Any], ...]
    file: str
    # compiled at load (see `fast_check`): True proves the value valid, so the validator is skipped
    input_check: Callable[[Any], bool | None] | None = None
    output_check: Callable[[Any], bool | None] | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.connector.name}.{self.name}"

    def describe(self) -> dict[str, Any]:
        """Schemas and docs, for host UIs that render forms and for `relaykit describe`."""
        request = None
        if self.request is not None:
            request = {"method": self.request.method, "path": self.request.path_display}
        return {
            "name": self.qualified_name,
            "connector": self.connector.name,
            "operation": self.name,
            "title": self.title,
            "description": self.description,
            "docs_url": self.docs_url,
            "kind": self.kind,
            "request": request,
            "idempotency": self.idempotency.mode,
            "rate_limit_class": self.settings.rate_limit_class,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "connection_schema": self.connector.connection_schema,
            "examples": [dict(e) for e in self.examples],
        }


def _display(location: Location, fallback: str) -> str:
    text = str(location)
    for marker in ("operations/", "schemas/", "connectors/"):
        index = text.rfind("/" + marker)
        if index >= 0:
            return text[index + 1:]
    return text or fallback


def _meta_problems(doc: Document, validator: Draft202012Validator) -> list[Problem]:
    found = error_problems(validator.iter_errors(doc.data))
    return [doc.problem(p.pointer, p.message, p.hint) for p in found]


def _compile(value: Any, roots: tuple[str, ...], filters: FilterRegistry, doc: Document, pointer: str,
             problems: list[Problem]) -> Compiled | None:
    try:
        return compile_value(value, roots=roots, filters=filters, file=doc.file, pointer=pointer, locate=doc.locate)
    except SpecError as exc:
        problems.extend(exc.problems)
        return None


def _glob_to_regex(glob: str) -> re.Pattern[str]:
    parts = []
    for chunk in re.split(r"(\*\*|\*)", glob):
        if chunk == "**":
            parts.append(".*")
        elif chunk == "*":
            parts.append("[^/]+")
        else:
            parts.append(re.escape(chunk))
    return re.compile("".join(parts))


def _idempotency(raw: Mapping[str, Any] | None, default: str) -> Idempotency:
    if not raw:
        return Idempotency(default)
    return Idempotency(raw["mode"], raw.get("key"))


def _secret_fields(connection: Mapping[str, Any]) -> frozenset[str]:
    props = connection.get("properties", {})
    return frozenset(
        name for name, sub in props.items()
        if isinstance(sub, Mapping) and (sub.get("secret") or sub.get("writeOnly"))
    )


class SpecLoader:
    """Loads connectors and their operations for one `Runtime` (filters, auth schemes and kinds fixed)."""

    def __init__(self, store: SchemaStore, filters: FilterRegistry, auth_schemes: list[str], kinds: list[str]) -> None:
        self.store = store
        self.filters = filters
        self.auth_schemes = auth_schemes
        self.kinds = kinds
        self._connector_meta = store.validator(store.load(store.uri("", "connector.schema.json")))
        self._operation_meta = store.validator(store.load(store.uri("", "operation.schema.json")))

    # -- connectors ---------------------------------------------------------------------------
    def load_connector(self, source: ConnectorSource, provider: str) -> ConnectorSpec:
        display = _display(source.connector, f"{source.name}/connector.yaml")
        if not source.connector.is_file():
            raise SpecError(Problem(f"connector file not found for {source.name!r} (provided by {provider})",
                                    file=display))
        doc = load_yaml_file(source.connector, display=display)
        problems = _meta_problems(doc, self._connector_meta)
        if problems:
            raise SpecError(problems, f"{display}: invalid connector")
        data: dict[str, Any] = doc.data
        if data["name"] != source.name:
            problems.append(doc.problem("/name", f"must equal the registered connector name {source.name!r}"))
        regions = list(data["base_url"])
        default_region = data.get("default_region", regions[0])
        if default_region not in regions:
            problems.append(doc.problem("/default_region", f"must be one of: {', '.join(regions)}"))
        auth_raw = dict(data["auth"])
        auth_type = auth_raw.pop("type")
        if auth_type not in self.auth_schemes:
            problems.append(doc.problem("/auth/type", "unknown auth scheme",
                                        _hint(auth_type, self.auth_schemes)))
        connection = deepcopy(data["connection"])
        try:
            Draft202012Validator.check_schema(connection)
        except Exception:
            problems.append(doc.problem("/connection", "is not a valid JSON Schema"))
        props = connection.setdefault("properties", {})
        fields = set(props)
        for reserved in ("region", "sandbox_url"):
            if reserved in fields:
                problems.append(doc.problem(f"/connection/properties/{reserved}",
                                            "is added by relaykit; do not declare it"))
        props["region"] = {"type": "string", "title": "Region", "enum": regions, "default": default_region}
        props["sandbox_url"] = {
            "type": "string",
            "title": "Sandbox URL",
            "description": "Root URL of a running relaykit sandbox (loopback only), e.g. http://127.0.0.1:8080",
        }
        connection.setdefault("additionalProperties", False)
        auth = _compile(auth_raw, AUTH_ROOTS, self.filters, doc, "/auth", problems)
        if auth is not None:
            for ref in auth.references():
                if len(ref) < 2 or ref[1] not in fields:
                    problems.append(doc.problem("/auth", "reads a connection field that is not declared",
                                                _hint(ref[1] if len(ref) > 1 else "", sorted(fields))))
        defaults = Settings().merged(data.get("defaults", {}))
        rate_limits = {name: RateLimit(v["requests"], float(v["per"]), v.get("burst"))
                       for name, v in data.get("rate_limits", {}).items()}
        if defaults.rate_limit_class and defaults.rate_limit_class not in rate_limits:
            problems.append(doc.problem("/defaults/rate_limit_class", "is not declared under rate_limits",
                                        _hint(defaults.rate_limit_class, list(rate_limits))))
        rules = []
        for index, rule in enumerate(data.get("raw_http", {}).get("rules", [])):
            cls = rule.get("rate_limit_class")
            if cls and cls not in rate_limits:
                problems.append(doc.problem(f"/raw_http/rules/{index}/rate_limit_class",
                                            "is not declared under rate_limits", _hint(cls, list(rate_limits))))
            rules.append(RawRule(
                pattern=_glob_to_regex(rule["path"]),
                methods=frozenset(m.upper() for m in rule["methods"]) if "methods" in rule else None,
                rate_limit_class=cls,
                idempotency=_idempotency(rule.get("idempotency"), "safe") if "idempotency" in rule else None,
                limits=rule.get("limits", {}),
            ))
        errors = data.get("errors", {})
        hints: dict[int, str] = {}
        for key, text in errors.get("hints", {}).items():
            if not str(key).isdigit():
                problems.append(doc.problem(f"/errors/hints/{key}", "keys must be HTTP status codes"))
            else:
                hints[int(key)] = text
        names = self._operation_names(source)
        if problems:
            raise SpecError(problems, f"{display}: invalid connector")
        return ConnectorSpec(
            name=data["name"], title=data["title"], version=str(data["version"]),
            description=data.get("description", ""), docs_url=data.get("docs_url"),
            base_urls=dict(data["base_url"]), default_region=default_region,
            connection_schema=connection, secret_fields=_secret_fields(connection),
            auth_type=auth_type, auth=auth,  # type: ignore[arg-type]
            defaults=defaults, rate_limits=rate_limits, raw_rules=tuple(rules),
            message_from=tuple(errors.get("message_from", ())), request_id_header=errors.get("request_id_header"),
            hints=hints, operation_names=names, source=source, provider=provider, file=display,
        )

    @staticmethod
    def _operation_names(source: ConnectorSource) -> tuple[str, ...]:
        if not source.operations.is_dir():
            return ()
        return tuple(sorted(
            entry.name[:-5] for entry in source.operations.iterdir()
            if entry.name.endswith(".yaml") and entry.is_file()
        ))

    # -- operations ---------------------------------------------------------------------------
    def load_operation(self, connector: ConnectorSpec, name: str, location: Location | None = None) -> OperationSpec:
        """Load `name` from the connector's operations folder (or from `location`, for `relaykit validate`)."""
        location = location if location is not None else connector.source.operations / f"{name}.yaml"
        display = _display(location, f"operations/{connector.name}/{name}.yaml")
        doc = load_yaml_file(location, display=display)
        problems = _meta_problems(doc, self._operation_meta)
        if problems:
            raise SpecError(problems, f"{display}: invalid operation")
        data: dict[str, Any] = doc.data
        if data["connector"] != connector.name:
            problems.append(doc.problem("/connector", f"must be {connector.name!r}, the connector shipping this file"))
        if data["name"] != name:
            problems.append(doc.problem("/name", f"must equal the file name {name!r}"))
        kind = data.get("kind", "http")
        if kind not in self.kinds:
            problems.append(doc.problem("/kind", "unknown operation kind", _hint(kind, self.kinds)))

        raw = kind == "raw_http"
        schemas = data.get("schemas", {})
        input_schema = self._operation_schema(connector, schemas.get("input"), RAW_INPUT_SCHEMA if raw else None,
                                              doc, "/schemas/input", problems)
        output_schema = self._operation_schema(connector, schemas.get("output"), RAW_OUTPUT_SCHEMA if raw else None,
                                               doc, "/schemas/output", problems)

        request = None
        if "request" in data:
            request = self._request(connector, data["request"], doc, problems)
        output = None
        response = data.get("response", {})
        if "output" in response:
            output = _compile(response["output"], RESPONSE_ROOTS, self.filters, doc, "/response/output", problems)
        idempotency = _idempotency(data.get("idempotency"), "safe")
        if idempotency.mode == "keyed" and request is not None and request.body_kind != "json":
            problems.append(doc.problem("/idempotency/key", "a keyed operation needs a JSON body to carry the key"))
        settings = connector.defaults.merged(data)
        if settings.rate_limit_class and settings.rate_limit_class not in connector.rate_limits:
            problems.append(doc.problem("/rate_limit_class", "is not declared by the connector",
                                        _hint(settings.rate_limit_class, list(connector.rate_limits))))
        examples = tuple(data.get("examples", ()))
        if input_schema is not None:
            validator = self.store.validator(input_schema)
            for index, example in enumerate(examples):
                for p in error_problems(validator.iter_errors(example["input"])):
                    problems.append(doc.problem(f"/examples/{index}/input{p.pointer}", p.message, p.hint))
        if problems:
            raise SpecError(problems, f"{display}: invalid operation")
        assert input_schema is not None and output_schema is not None
        return OperationSpec(
            connector=connector, name=name, title=data["title"], description=data.get("description", ""),
            docs_url=data.get("docs_url"), kind=kind,
            input_schema=input_schema, output_schema=output_schema,
            input_validator=self.store.validator(input_schema), output_validator=self.store.validator(output_schema),
            idempotency=idempotency, request=request, success=tuple(response.get("success", ())),
            output=output, settings=settings, examples=examples, file=display,
            input_check=fast_check(input_schema, self.store.registry, FORMAT_CHECKER),
            output_check=fast_check(output_schema, self.store.registry, FORMAT_CHECKER),
        )

    def _operation_schema(self, connector: ConnectorSpec, relative: str | None, shared: str | None,
                          doc: Document, pointer: str, problems: list[Problem]) -> dict[str, Any] | None:
        if relative is None and shared is None:
            return {"$schema": "https://json-schema.org/draft/2020-12/schema"}  # anything goes
        uri = self.store.uri(f"{connector.name}/", relative) if relative else self.store.uri("", shared or "")
        try:
            schema = self.store.load(uri)
        except SpecError as exc:
            problems.append(doc.problem(pointer, "schema file not found or invalid"))
            problems.extend(exc.problems)
            return None
        ref_problems = self.store.check_refs(schema, uri)
        problems.extend(ref_problems)
        return schema

    def _request(self, connector: ConnectorSpec, raw: Mapping[str, Any], doc: Document,
                 problems: list[Problem]) -> RequestTemplate:
        before = len(problems)
        if re.search(r"\|\s*urlencode\b", raw["path"]):
            problems.append(doc.problem("/request/path", "path expressions are percent-encoded automatically; "
                                        "`| urlencode` here would encode twice", "remove `| urlencode`"))
        path = _compile(raw["path"], REQUEST_ROOTS, self.filters, doc, "/request/path", problems)
        query = _compile(raw["query"], REQUEST_ROOTS, self.filters, doc, "/request/query", problems) \
            if "query" in raw else None
        headers = _compile(raw["headers"], REQUEST_ROOTS, self.filters, doc, "/request/headers", problems) \
            if "headers" in raw else None
        body_kind, body, content_type = None, None, None
        if raw.get("body"):
            body_kind = next(iter(raw["body"]))
            value = raw["body"][body_kind]
            if body_kind == "raw":
                content_type = value["content_type"]
                value = value["content"]
            body = _compile(value, REQUEST_ROOTS, self.filters, doc, f"/request/body/{body_kind}", problems)
        for part, pointer in ((path, "/request/path"), (query, "/request/query"), (headers, "/request/headers"),
                              (body, f"/request/body/{body_kind}")):
            if part is None:
                continue
            for ref in part.references():
                if ref[0] == "connection" and len(ref) > 1 and ref[1] in connector.secret_fields:
                    problems.append(doc.problem(pointer, "reads a secret connection field; only the connector's "
                                                         "auth block may use secrets"))
        display = _EXPR.sub(lambda m: "{" + re.split(r"[.\[|\s]", m.group(1).replace("input.", "", 1))[0] + "}",
                            raw["path"])
        if len(problems) > before:
            return RequestTemplate(raw["method"], path, display, None, None, None, None, None)  # type: ignore[arg-type]
        return RequestTemplate(raw["method"], path, display, query, headers, body_kind, body, content_type)  # type: ignore[arg-type]


def _hint(name: str, choices: list[str]) -> str | None:
    close = suggest(name, choices)
    return f"did you mean {close[0]!r}?" if close else None


# -- fast validity checks ---------------------------------------------------------------------------
# jsonschema walks a schema through `iter_errors`, `descend` and the `referencing` resolver on every
# call: ~80-180 µs for a three-field input, more than everything else relaykit does before sending.
# A call's input is almost always valid, so each operation also gets a check compiled at load that
# answers True (certainly valid), False (certainly invalid) or None (cannot tell). Only True is
# trusted: anything else runs the full jsonschema validator, so every problem reported, and every
# verdict, is still jsonschema's. Each keyword below mirrors jsonschema's own implementation for
# Draft 2020-12 (bool is never a number, 1.0 is an integer, `equal` for enum/const); a keyword it
# does not mirror makes the whole schema "cannot tell" at compile time.

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
        return lambda value: True
    if len(checks) == 1:
        return checks[0]

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
            return lambda value: True
        if schema is False:
            return lambda value: False
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
            return lambda v: any(t(v) for t in tests)
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
                return lambda v: len(v) >= bound if isinstance(v, kind) else True
            return lambda v: len(v) <= bound if isinstance(v, kind) else True
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
                regex = re.compile(value)
            except re.error:
                raise _Unsupported("pattern") from None
            return lambda v: regex.search(v) is not None if isinstance(v, str) else True
        if kw == "format":
            checker, fmt = self.format_checker, value
            return None if checker is None else lambda v: checker.conforms(v, fmt)
        if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            limit = value
            # written as jsonschema writes them (`not v < limit`), so NaN passes exactly as it does there
            compare = {"minimum": lambda v: not v < limit, "maximum": lambda v: not v > limit,
                       "exclusiveMinimum": lambda v: not v <= limit, "exclusiveMaximum": lambda v: not v >= limit}[kw]
            return lambda v: compare(v) if _is_number(v) else True
        if kw == "allOf":
            return _all([self.compile(sub, resolver) for sub in value])
        if kw == "anyOf":
            subs = [self.compile(sub, resolver) for sub in value]
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
                patterns.append((re.compile(pattern), self.compile(sub, resolver)))
            # which names are "additional" is decided by one joined regex, as in jsonschema
            joined = re.compile("|".join(schema["patternProperties"])) if patterns else None
        except re.error:
            raise _Unsupported("patternProperties") from None
        additional = schema.get("additionalProperties", True)
        extra = None if additional is True else self.compile(additional, resolver)
        closed = additional is False

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
                if joined is not None:
                    if not isinstance(name, str):
                        return None
                    for regex, pattern_check in patterns:
                        if regex.search(name):
                            verdict = pattern_check(item)
                            if verdict is not True:
                                if verdict is False:
                                    return False
                                result = None
                    matched = matched or joined.search(name) is not None
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
