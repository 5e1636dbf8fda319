"""Load connector and operation YAML into frozen, ready-to-run specs, reporting every problem at once.

Pipeline per file: strict YAML (`specs.documents`) -> meta-schema (all errors, with file:line:col) ->
semantic checks the meta-schema cannot express (names match their files, schemas exist and are
valid, templates parse and read only allowed variables, secrets are read only by `auth`) -> frozen
dataclasses with compiled templates and validators, so a call does no parsing at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator

from ..errors import Problem, SpecError
from ..names import did_you_mean, suggest
from ..templates.compiled import Compiled, compile_value
from ..templates.filters import FilterRegistry
from .batching import BatchItem, load_batch_response, spread_paths, whole_input_constants
from .documents import Document, load_yaml_file
from .fastcheck import fast_check
from .jsonschemas import FORMAT_CHECKER, SchemaStore, error_problems
from .models import (
    ConnectorSpec,
    Idempotency,
    OperationSpec,
    Pagination,
    RateLimit,
    RawRule,
    RequestTemplate,
    Settings,
)
from .sources import ConnectorSource, Location

REQUEST_ROOTS = ("input", "connection", "region")
BATCH_ITEM_ROOTS = ("input",)
RESPONSE_ROOTS = ("response", "request", "input")
AUTH_ROOTS = ("connection",)
RAW_INPUT_SCHEMA = "raw_http_request.input.json"
RAW_OUTPUT_SCHEMA = "raw_http_request.output.json"
_EXPR = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _display(location: Location, fallback: str) -> str:
    text = str(location)
    for marker in ("operations/", "schemas/", "connectors/"):
        index = text.rfind("/" + marker)
        if index >= 0:
            return text[index + 1:]
    return text or fallback


def _meta_problems(doc: Document, validator: Draft202012Validator, check: Callable[[Any], bool | None] | None = None
                   ) -> list[Problem]:
    if check is not None and check(doc.data) is True:
        return []  # proven valid by the compiled check: jsonschema would report nothing
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
    return Idempotency(raw["mode"], raw.get("key"), raw.get("input_key"))


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
        self._meta: dict[str, tuple[Draft202012Validator, Callable[[Any], bool | None] | None]] = {}

    def _meta_schema(self, name: str) -> tuple[Draft202012Validator, Callable[[Any], bool | None] | None]:
        """The meta-schema validator for connector or operation files, and its compiled fast check.

        Loaded on first use: `relaykit connectors` never reads operation files, so it never pays
        for the operation meta-schema.
        """
        meta = self._meta.get(name)
        if meta is None:
            schema = self.store.load(self.store.uri("", name))
            meta = self._meta[name] = (self.store.validator(schema),
                                       fast_check(schema, self.store.registry, FORMAT_CHECKER))
        return meta

    @property
    def _connector_meta(self) -> Draft202012Validator:
        return self._meta_schema("connector.schema.json")[0]

    @property
    def _operation_meta(self) -> Draft202012Validator:
        return self._meta_schema("operation.schema.json")[0]

    # -- connectors ---------------------------------------------------------------------------
    def load_connector(self, source: ConnectorSource, provider: str, *, trusted: bool = False) -> ConnectorSpec:
        """Load and check a connector file.

        `trusted` (relaykit's own files, checked by CI) skips re-checking that the connection block
        is a valid JSON Schema: the one check the compiled meta-schema check cannot do fast.
        """
        display = _display(source.connector, f"{source.name}/connector.yaml")
        if not source.connector.is_file():
            raise SpecError(Problem(f"connector file not found for {source.name!r} (provided by {provider})",
                                    file=display, hint="does the distribution ship its spec files as package data?"))
        doc = load_yaml_file(source.connector, display=display)
        problems = _meta_problems(doc, *self._meta_schema("connector.schema.json"))
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
            if not trusted:
                Draft202012Validator.check_schema(connection)
        except Exception:
            problems.append(doc.problem("/connection", "is not a valid JSON Schema"))
        props = connection.setdefault("properties", {})
        fields = set(props)
        for reserved in ("region", "sandbox_url", "rate_limits"):
            if reserved in fields:
                problems.append(doc.problem(f"/connection/properties/{reserved}",
                                            "is added by relaykit; do not declare it"))
        lookup = data.get("region_lookup")
        props["region"] = {"type": "string", "title": "Region", "enum": [*regions, *(["auto"] if lookup else [])],
                           "default": default_region}
        if lookup:
            props["region"]["description"] = "`auto` asks Customer.io once per credential (cached; never guessed)"
        props["sandbox_url"] = {
            "type": "string",
            "title": "Sandbox URL",
            "description": "Root URL of a running relaykit sandbox (loopback only), e.g. http://127.0.0.1:8080",
        }
        props["rate_limits"] = {  # checked by relaykit.transport.ratelimit_config, which names class and field
            "title": "Rate limits",
            "description": "This connection's overrides of the connector's rate-limit classes: "
                           "{class: {requests, per, burst} or false}, or false for every class",
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
        for block in ("region_lookup", "check"):
            named = data.get(block, {}).get("operation")
            if named is not None and named not in names:
                problems.append(doc.problem(f"/{block}/operation", "is not an operation of this connector",
                                            _hint(named, list(names))))
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
            region_lookup=(lookup["operation"], lookup["region"]) if lookup else None,
            check=(data["check"]["operation"], data["check"].get("input", {})) if "check" in data else None,
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
        problems = _meta_problems(doc, *self._meta_schema("operation.schema.json"))
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
        batch = self._batch(connector, name, data.get("batch"), doc, problems)
        fields = self._top_level_fields(input_schema, connector, schemas.get("input"))
        pagination = _pagination(data.get("pagination"), fields, doc, problems)
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
            batch=batch, batch_response=load_batch_response(data.get("batch_response")),
            pagination=pagination,
        )

    def _batch(self, connector: ConnectorSpec, name: str, raw: Mapping[str, Any] | None, doc: Document,
               problems: list[Problem]) -> BatchItem | None:
        """The compiled `batch:` block; the batch operation must be another operation of this connector."""
        if raw is None:
            return None
        target = raw["operation"]
        if target == name or target not in connector.operation_names:
            choices = [n for n in connector.operation_names if n != name]
            problems.append(doc.problem("/batch/operation", f"is not another operation of {connector.name}",
                                        _hint(target, choices)))
        item = _compile(raw["item"], BATCH_ITEM_ROOTS, self.filters, doc, "/batch/item", problems)
        if item is None:
            return None
        return BatchItem(target, item, tuple(spread_paths(raw["item"])), whole_input_constants(raw["item"]))

    def _top_level_fields(self, schema: Mapping[str, Any] | None, connector: ConnectorSpec,
                          relative: str | None) -> set[str] | None:
        """The input's top-level field names, following a wrapper's `$ref` (Beta shares App's schemas)."""
        uri = self.store.uri(f"{connector.name}/", relative) if relative else None
        for _ in range(4):
            if schema is None or "properties" in schema or "$ref" not in schema or uri is None:
                break
            uri = urljoin(uri, schema["$ref"]).split("#", 1)[0]
            try:
                schema = self.store.load(uri)
            except SpecError:
                return None
        return set(schema.get("properties", {})) if schema is not None else None

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
        return RequestTemplate(raw["method"], path, display, query, headers, body_kind, body, content_type,  # type: ignore[arg-type]
                               raw.get("base", "api"))


def _hint(name: str, choices: list[str]) -> str | None:
    return did_you_mean(suggest(name, choices)[:1])


def _pagination(raw: Mapping[str, Any] | None, fields: set[str] | None, doc: Document,
                problems: list[Problem]) -> Pagination | None:
    """The `pagination:` block; its cursor must be an input field, so a page request validates like any call."""
    if raw is None:
        return None
    cursor = raw["cursor_input"]
    if fields is not None and cursor not in fields:
        problems.append(doc.problem("/pagination/cursor_input", f"the input schema has no field {cursor!r}",
                                    "declare the cursor (e.g. `start`) in the operation's input schema"))
    return Pagination(cursor_input=cursor, next=raw["next"], items=raw["items"], max_pages=raw.get("max_pages", 100))

