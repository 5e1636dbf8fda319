"""`Runtime`: the embeddable entry point — plugins, loaded specs, connections and the call pipeline.

A runtime owns its plugin manager, schema store, session and rate-limit buckets; nothing is global
except the secret redactor. Specs load lazily (a connector when first named, its operations when
first used) and are cached, so `relaykit connectors` stays fast and a long-lived runtime pays for
parsing once. After loading, everything it holds is immutable, so one runtime can be shared by
the threads of a host workflow engine.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from .call.check import CheckReport, check_connection
from .call.connection import ConnectionResolver, ResolvedConnection, wrap_secrets
from .call.pagination import Paginator
from .call.region import AUTO, RegionResolver
from .errors import (
    ConnectionConfigError,
    PluginError,
    Problem,
    RelaykitError,
    SpecError,
    UnknownConnectorError,
    UnknownOperationError,
)
from .models import HttpRequest, Result
from .names import suggest
from .plugins.manager import BrokenPlugin, PluginInfo, build_plugin_manager, describe_plugins, provider_name
from .plugins.registry import AuthRegistrar, ConnectorRegistrar, OperationKindRegistrar
from .redact import Secret, install_log_filter
from .specs.deref import dereference
from .specs.jsonschemas import SchemaStore
from .specs.loader import SpecLoader
from .specs.models import ConnectorSpec, OperationSpec, RetryPolicy, Timeouts
from .templates.filters import FilterRegistry, default_filters
from .transport.ratelimit_config import check_runtime_overrides
from .transport.retry import check_overrides

if TYPE_CHECKING:
    import requests

    from .automation.journal import RunJournal
    from .automation.model import Automation, AutomationRun
    from .call.executor import Executor
    from .transport.ratelimit import LimiterStore
    from .transport.sender import Transport


_log = logging.getLogger("relaykit.runtime")


def split_name(name: str) -> tuple[str, str]:
    """`connector.operation` -> its two parts (the connector part may contain hyphens, not dots)."""
    if not isinstance(name, str) or "." not in name:
        raise UnknownOperationError(str(name), [])
    connector, _, operation = name.partition(".")
    return connector, operation


def env_prefix(reference: str) -> str:
    """`customerio-track` -> `RELAYKIT_CUSTOMERIO_TRACK_` (the environment variables of a connection)."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in reference.upper())
    return f"RELAYKIT_{cleaned}_"


class Runtime:
    """Load connectors and run their operations.

    Args:
        plugins: extra plugin objects (modules or instances with `@hookimpl` functions).
        load_entry_points: discover installed plugins of the `relaykit.connectors` group.
        disable_plugins / only_plugins: block or allow-list entry points by name (default: the
            `RELAYKIT_DISABLE_PLUGINS` / `RELAYKIT_LOAD_PLUGINS` environment variables).
        session: a `requests.Session` whose mounted adapters, `verify`, `cert`, `proxies` and default
            headers relaykit sends with (never its `auth`, cookies, hooks or environment); relaykit's
            own otherwise.
        clock, wall_clock, sleep, rng: injectable time and randomness (deterministic tests).
        strict_output: raise `OutputValidationError` when a response breaks its output schema
            (default: log a warning, since APIs add fields over time).
        environ: where connection environment variables are read from (default `os.environ`).
        trust_builtin_specs: skip the meta-schema check of relaykit's own JSON Schemas at load
            (CI checks them); `relaykit validate` turns this off to check everything.
        timeouts: override the YAML `timeout` of every operation, e.g. `{"read": 5, "total": 20}`
            (seconds; keys `connect`, `read`, `total`), for hosts with their own time budget and tests.
        retry: override the YAML `retry` of every operation, e.g. `{"max_attempts": 10}` for a
            backfill (keys `max_attempts`, `initial`, `factor`, `max`, `max_retry_after`).
        rate_limits: override the YAML's client-side rate limits per connector and class, e.g.
            `{"customerio-track": {"track": {"requests": 50}}, "customerio-app": {"broadcast_trigger": False}}`
            (`requests`, `per` seconds, `burst`; `False` turns a class, or a whole connector, off).
            A connection's own `rate_limits` field overrides these for its calls. Checked when the
            runtime is built (`SettingsError`).
        rate_limit_store: where the windows are kept (default: in this process). Pass
            `relaykit.transport.ratelimit_redis.RedisStore(url)` to share them between processes and machines
            that use the same credentials.
    """

    def __init__(
        self,
        *,
        plugins: Iterable[Any] = (),
        load_entry_points: bool = True,
        disable_plugins: Iterable[str] | None = None,
        only_plugins: Iterable[str] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        strict_output: bool = False,
        environ: Mapping[str, str] | None = None,
        trust_builtin_specs: bool = True,
        timeouts: Mapping[str, float] | None = None,
        retry: Mapping[str, float] | None = None,
        rate_limits: Mapping[str, Any] | None = None,
        rate_limit_store: LimiterStore | None = None,
    ) -> None:
        install_log_filter()
        self._broken: list[BrokenPlugin] = []
        self._pm = build_plugin_manager(plugins, load_entry_points=load_entry_points, disable=disable_plugins,
                                        only=only_plugins, broken=self._broken)
        self._environ = environ if environ is not None else os.environ
        self._lock = threading.RLock()
        self._provider_cache: dict[int, str] = {}
        self._filters = default_filters()
        try:
            self._pm.hook.register_template_filters(registry=self._filters)
        except ValueError as exc:  # the filter registry refuses duplicates and bad names
            raise PluginError(f"register_template_filters: {exc}") from None
        self._auth = self._collect(AuthRegistrar(), "register_auth_schemes")
        self._kinds = self._collect(OperationKindRegistrar(), "register_operation_kinds")
        self._sources = self._collect(ConnectorRegistrar(), "register_connectors")
        self._store = SchemaStore()
        # relaykit's own connector files are checked by CI (`relaykit validate`, the spec tests)
        self._trusted_root = str(resources.files("relaykit.connectors")) if trust_builtin_specs else None
        shipped = resources.files("relaykit.schemas")
        self._store.add_folder("", shipped, trusted=trust_builtin_specs)
        for name in self._sources.names():
            folder = self._sources.get(name).schemas
            own = trust_builtin_specs and str(folder).startswith(str(shipped))
            self._store.add_folder(f"{name}/", folder, trusted=own)
        self._loader: SpecLoader | None = None
        self._connectors: dict[str, ConnectorSpec] = {}
        self._operations: dict[tuple[str, str], OperationSpec] = {}
        self._connection_validators: dict[str, Any] = {}
        # Without an on_request/on_response plugin (or hook tracing) there is nobody to tell: the
        # transport then skips building the redacted views it would hand them (~20 µs a call).
        observed = (self._pm.hook.on_request.get_hookimpls() or self._pm.hook.on_response.get_hookimpls()
                    or os.environ.get("RELAYKIT_TRACE_PLUGINS") == "1")
        # The send pipeline (transport, executor, and with them requests and urllib3) is built on
        # first use: `relaykit connectors`, `operations`, `describe` and `validate` never import it.
        def make_pipeline() -> tuple[Any, Any]:
            from .call.executor import Executor
            from .transport.sender import Transport

            transport = Transport(session, clock=clock, wall_clock=wall_clock, sleep=sleep, rng=rng,
                                  observers=self._pm.hook if observed else None, timeouts=timeouts, retry=retry,
                                  rate_limit_store=rate_limit_store)
            executor = Executor(transport, strict_output=strict_output, rate_limits=self._rate_limits)
            return transport, executor

        check_overrides(timeouts, Timeouts)  # a typo in an override fails here, not at the first call
        check_overrides(retry, RetryPolicy)
        self._rate_limits = check_runtime_overrides(rate_limits, self._sources.names(), self.connector)
        self._make_pipeline = make_pipeline
        self._pipeline: tuple[Any, Any] | None = None
        self._connections = ConnectionResolver(self._connection_validator, self._auth.get)
        self._regions = RegionResolver()

    def _collect(self, registrar: Any, hook_name: str) -> Any:
        """Call one contribution hook plugin by plugin, so each registration knows its provider."""
        caller = getattr(self._pm.hook, hook_name)
        installed = {id(plugin) for plugin, _ in self._pm.list_plugin_distinfo()}
        for impl in reversed(caller.get_hookimpls()):
            registrar.current_provider = provider_name(self._pm, impl.plugin, self._provider_cache)
            try:
                impl.function(registry=registrar)
            except PluginError:
                raise
            except Exception as exc:  # an installed plugin's bug is reported, not fatal to the others
                if id(impl.plugin) not in installed:
                    raise
                self._broken.append(BrokenPlugin(impl.plugin_name, registrar.current_provider,
                                                 f"{hook_name} raised {type(exc).__name__}: {exc}"))
        registrar.current_provider = "relaykit"
        return registrar

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool."""
        if self._pipeline is not None:
            self._pipeline[0].close()

    def _build_pipeline(self) -> tuple[Any, Any]:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = self._make_pipeline()
            return self._pipeline

    @property
    def _transport(self) -> Transport:
        return (self._pipeline or self._build_pipeline())[0]

    @property
    def _executor(self) -> Executor:
        return (self._pipeline or self._build_pipeline())[1]

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Runtime(connectors={self._sources.names()})"

    # -- catalogue ----------------------------------------------------------------------------
    @property
    def loader(self) -> SpecLoader:
        with self._lock:
            if self._loader is None:
                self._loader = SpecLoader(self._store, self._filters, self._auth.names(), self._kinds.names())
            return self._loader

    def connector_names(self) -> list[str]:
        return self._sources.names()

    def connector(self, name: str) -> ConnectorSpec:
        """The loaded connector; `UnknownConnectorError` with suggestions if there is none."""
        spec = self._connectors.get(name)
        if spec is not None:
            return spec
        if name not in self._sources:
            for broken in self._broken:
                if broken.name == name:
                    raise PluginError(f"connector {name!r} cannot load: {broken}")
        source = self._sources.source(name)
        with self._lock:
            if name not in self._connectors:
                trusted = self._trusted_root is not None and str(source.connector).startswith(self._trusted_root)
                self._connectors[name] = self.loader.load_connector(source, self._sources.provider(name),
                                                                    trusted=trusted)
            return self._connectors[name]

    def connectors(self) -> list[dict[str, Any]]:
        """Every connector's summary: name, title, version, regions, operations, provider."""
        return [self.connector(name).summary() for name in self.connector_names()]

    def catalogue(self) -> tuple[list[dict[str, Any]], list[BrokenPlugin]]:
        """The summaries of every connector that loads, and what cannot load (one never hides the others)."""
        summaries: list[dict[str, Any]] = []
        broken = list(self._broken)
        for name in self.connector_names():
            try:
                summaries.append(self.connector(name).summary())
            except (SpecError, PluginError) as exc:
                problem = "; ".join(str(p) for p in exc.problems) if isinstance(exc, SpecError) else str(exc)
                broken.append(BrokenPlugin(name, self._sources.provider(name), problem))
        return summaries, broken

    def broken_plugins(self) -> list[BrokenPlugin]:
        """Installed plugins left out because they failed to import or register (name, provider, problem)."""
        return list(self._broken)

    def operations(self, connector: str | None = None) -> list[str]:
        """Qualified operation names (`connector.operation`), for one connector or all."""
        names = [connector] if connector else self.connector_names()
        return [f"{c}.{op}" for c in names for op in self.connector(c).operation_names]

    def operation(self, name: str) -> OperationSpec:
        """The loaded operation `connector.operation`, with suggestions when either part is unknown."""
        connector_name, op_name = split_name(name)
        key = (connector_name, op_name)
        spec = self._operations.get(key)
        if spec is not None:
            return spec
        try:
            connector = self.connector(connector_name)
        except UnknownConnectorError as exc:
            everything = [f"{c}.{o}" for c in self.connector_names() for o in self.connector(c).operation_names]
            raise UnknownConnectorError(connector_name, exc.suggestions or
                                        [s.split(".")[0] for s in suggest(name, everything)]) from None
        if op_name not in connector.operation_names:
            hints = [f"{connector_name}.{s}" for s in suggest(op_name, list(connector.operation_names))]
            raise UnknownOperationError(name, hints)
        with self._lock:
            if key not in self._operations:
                self._operations[key] = self.loader.load_operation(connector, op_name)
            return self._operations[key]

    def describe(self, name: str) -> dict[str, Any]:
        """Input/output/connection schemas, docs and examples of an operation (or a connector's summary).

        The schemas are self-contained (every `$ref` inlined, cycles as local `$defs`), so a host
        engine can draw a form from them without resolving anything.
        """
        if "." not in name:
            info = self.connector(name).summary() | {"connection_schema": self.connector(name).connection_schema}
        else:
            info = self.operation(name).describe()
        for key in ("input_schema", "output_schema", "connection_schema"):
            if isinstance(info.get(key), Mapping):
                info[key] = dereference(info[key], self._store.registry)
        return info

    @property
    def template_filters(self) -> FilterRegistry:
        """The expression language's filters (built-ins plus plugins'), for automation templates."""
        return self._filters

    @property
    def transport(self) -> Transport:
        """The one transport (session, rate limits, retries) this runtime sends through."""
        return self._transport

    @property
    def schema_registry(self) -> Any:
        """The offline `referencing` registry of every loaded schema (to follow `$ref`s, e.g. for CSV coercion)."""
        return self._store.registry

    def schema_validator(self, schema: Mapping[str, Any]) -> Any:
        """A compiled validator that resolves `$ref`s through this runtime's offline schema store."""
        return self._store.validator(schema)

    def plugins(self) -> list[PluginInfo]:
        """What is loaded and from which distribution."""
        return describe_plugins(self._pm)

    def validate_all(self) -> list[Problem]:
        """Load every connector and operation strictly; every problem found (empty when all is well)."""
        problems: list[Problem] = []
        for name in self.connector_names():
            try:
                connector = self.connector(name)
            except SpecError as exc:
                problems.extend(exc.problems)
                continue
            for op in connector.operation_names:
                try:
                    self.operation(f"{name}.{op}")
                except SpecError as exc:
                    problems.extend(exc.problems)
        return problems

    # -- connections --------------------------------------------------------------------------
    def _connection_validator(self, spec: ConnectorSpec) -> Any:
        validator = self._connection_validators.get(spec.name)
        if validator is None:
            validator = self._connection_validators[spec.name] = self._store.validator(spec.connection_schema)
        return validator

    def connection_from_env(self, connector: str, reference: str | None = None) -> dict[str, Any]:
        """Fields of a connection from `RELAYKIT_<REFERENCE>_<FIELD>` variables (reference: the connector).

        Secret fields come back as `Secret`s, so no frame that later refuses the connection holds them in clear.
        """
        spec = self.connector(connector)
        prefix = env_prefix(reference or connector)
        out = {}
        for field in spec.connection_schema.get("properties", {}):
            value = self._environ.get(prefix + field.upper())
            if value is not None:
                out[field] = Secret(value) if field in spec.secret_fields else value
        return out

    def connection_config(self, connector: str, reference: str | None) -> dict[str, Any]:
        """The config a reference stands for: plugins first (`resolve_connection`), then the environment.

        Secret fields are `Secret`s in the result whichever source answered.
        """
        if reference is not None:
            found = self._pm.hook.resolve_connection(connector=connector, reference=reference)
            if found is not None:
                if not isinstance(found, Mapping):
                    raise ConnectionConfigError(connector, [Problem(
                        f"the resolve_connection hook returned {type(found).__name__} for reference {reference!r}; "
                        "it must return a mapping of connection fields or None")])
                return wrap_secrets(found, self.connector(connector).secret_fields)
        return self.connection_from_env(connector, reference)

    def resolve_connection(self, connector: str, connection: Mapping[str, Any] | str | None, *,
                           reference: str | None = None) -> ResolvedConnection:
        """Validate a connection (a dict, a reference string, or None for the environment).

        `reference`: the reference a dict was read from, so a missing field's hint names the
        variables that reference reads (`RELAYKIT_PROD_API_KEY`, not the connector's own).
        """
        spec = self.connector(connector)
        if connection is None or isinstance(connection, str):
            reference = connection or connector
            connection = self.connection_config(connector, connection)
        if isinstance(connection, Mapping) and connection.get("region") == AUTO:
            connection = self._regions.resolve(spec, connection, lambda name, conn: self.run(name, {}, conn))
        prefix = env_prefix(reference) if reference is not None else None
        return self._connections.resolve(spec, connection, prefix)

    # -- automations --------------------------------------------------------------------------
    def load_automation(self, path: str | os.PathLike[str]) -> Automation:
        """Load and check an automation file, or a shipped example by name (`example:onboard_user`)."""
        from .automation.loader import load_automation

        return load_automation(self, path)

    def run_automation(self, automation: Automation | str | os.PathLike[str], inputs: Mapping[str, Any] | None = None,
                       connections: Mapping[str, Any] | None = None, *, dry_run: bool = False,
                       journal: RunJournal | str | os.PathLike[str] | None = None,
                       run_id: str | None = None) -> AutomationRun:
        """Run an automation: per-step results (`{input, output, ok, status, error}`) and outputs.

        `journal` (a path or `RunJournal`) and `run_id` make the run resumable after a crash.
        """
        from .automation.runner import run_automation

        return run_automation(self, automation, inputs, connections, dry_run=dry_run, journal=journal, run_id=run_id)

    # -- calls --------------------------------------------------------------------------------
    def prepare(self, name: str, input: Mapping[str, Any], connection: Any) -> tuple[
            OperationSpec, dict[str, Any], ResolvedConnection, HttpRequest]:
        """Everything before sending: look up, resolve the connection, validate input, render."""
        op = self.operation(name)
        conn = self.resolve_connection(op.connector.name, connection)
        from .call.executor import validate_input  # the send pipeline loads on first use (see `make_pipeline`)

        data = validate_input(op, input)
        request = self._kinds.get(op.kind)(op, data, conn)
        for warning in request.warnings:
            _log.warning("%s", warning)
        return op, data, conn, request

    def dry_run(self, name: str, input: Mapping[str, Any], connection: Any = None) -> HttpRequest:
        """The exact request `run` would send (credentials masked), without sending anything."""
        return self.prepare(name, input, connection)[3]

    def send_request(self, op: OperationSpec, request: HttpRequest, conn: ResolvedConnection) -> Any:
        """Send a request already rendered for `op` (rate limits, retries) and return the raw response.

        Whatever its status: for callers that classify the answer themselves, such as `relaykit bulk`
        reading a batch's per-item outcomes. Raises a `CallError` when no usable response came.
        """
        executor = self._executor
        return executor.transport.send(request, conn.auth, executor.send_options(op, conn, request.rate_limit_class))

    def run(self, name: str, input: Mapping[str, Any], connection: Any = None) -> Result:
        """Run an operation: validated, authenticated, rate-limited and retried; returns a `Result`.

        Raises a `RelaykitError` subclass: `InputValidationError`, `ConnectionConfigError` and
        `RenderError` before anything is sent; a `CallError` subclass when the call fails.
        """
        op, data, conn, request = self.prepare(name, input, connection)
        fail = data.get("fail_on_http_error", True) if op.kind == "raw_http" else True
        return self._executor.send(op, request, conn, data, fail_on_http_error=fail)

    def check(self, connector: str, connection: Any = None) -> CheckReport:
        """Prove a connection's credentials and region with the connector's declared harmless call.

        Returns a `CheckReport` whose `message` says what is wrong in words; a connection that does not
        even validate raises `ConnectionConfigError`, before anything is sent, as `run` would.
        """
        spec = self.connector(connector)
        conn = self.resolve_connection(connector, connection)
        config = connection if isinstance(connection, Mapping) else None
        if config is not None and config.get("region") == AUTO:
            config = {**config, "region": conn.region}
        target = config if config is not None else connection
        return check_connection(spec, conn.region, lambda name, data: self.run(name, data, target))

    def paginate(self, name: str, input: Mapping[str, Any], connection: Any = None, *,
                 max_pages: int | None = None, max_items: int | None = None) -> Paginator:
        """Walk a paged list operation: iterate for items, or call `.pages()` for each page's `Result`.

        Every page is a full `run` (validated, rate-limited, retried). Paging always stops: at the last
        page, on a repeated cursor, after `max_pages` (the operation's declared default when not given)
        or `max_items`; `stopped_by` on the returned `Paginator` says which.
        """
        op = self.operation(name)
        return Paginator(op, input, lambda page: self.run(name, page, connection),
                         max_pages=max_pages, max_items=max_items)


__all__ = ["RelaykitError", "Runtime"]
