"""S3 "secrets never disclosed", enforced over the whole suite: every ordinary test run is the canary run.

Registered from tests/conftest.py (`pytest_plugins`), this plugin

* gives the tests canary credentials: for the session, the sandbox's built-in defaults (what
  `Sandbox()`, the `sandbox` fixture, `relaykit call --sandbox`, `relaykit demo` and
  `sandbox.connection()` hand out) become the canaries below, and tests that spell credentials out
  import them from here. Each key carries `+/=&%?>'"\\`, so every encoding (URL, JSON, repr, base64)
  changes it and each form has to be looked for separately;
* runs every test with the root, `relaykit*`, `urllib3*` and `requests*` loggers at DEBUG, and scans
  every record as it is emitted (message, exception, stack), without storing it;
* scans, for every setup/call/teardown phase: pytest's captured stdout, stderr and log sections, what
  tests read back through `capsys`/`capfd`, str/repr/to_dict and what the traceback prints (chained
  causes included) of every `RelaykitError` created (also the ones a test or the runtime caught),
  every dry run's repr/to_dict/to_curl and every resolved connection's repr, reprs of relaykit
  objects among the test's fixtures, the session sandbox's journal, and the failure report
  itself; warnings are scanned too;
* turns a phase with any hit into a failure naming the form and the place, with every canary in
  the report replaced by `<canary:LABEL>`: a leak is never printed, not even by the report of it.

A test that shows a secret on purpose (and asserts on it) can be marked `@pytest.mark.prints_secrets`:
its output is still masked, but it does not fail. Only the scanner's own self-test (tests/test_canary_scan.py)
uses it; a runtime leak must be fixed, never marked.

Not covered: output of subprocesses (tests assert on it where it matters, e.g. the sandbox CLI's request
log), and runs with capture off (`-s`), which leave nothing to scan.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import re
import threading
import traceback
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

SPECIALS = "+/=&%?>'\"\\>?"  # each changes under URL, JSON or repr encoding; `>?` put + and / into base64
SITE_ID = "canary-site-5Tb"
TRACK_KEY = f"canary-trk-7Hq{SPECIALS}x"
APP_KEY = f"canary-app-K9z{SPECIALS}y"
PIPELINES_KEY = f"canary-pipe-M2w{SPECIALS}z"

TRACK_AUTH = (SITE_ID, TRACK_KEY)  # requests' `auth=` for the Track API
PIPELINES_AUTH = (PIPELINES_KEY, "")  # Basic key:blank for Pipelines
APP_BEARER = f"Bearer {APP_KEY}"  # App and Beta

CREDENTIALS = {"site_id": SITE_ID, "track_api_key": TRACK_KEY, "app_api_key": APP_KEY,
               "pipelines_api_key": PIPELINES_KEY}
"""The session sandbox's credentials (`Sandbox().credentials`)."""

SPARE_CREDENTIALS = {"site_id": SITE_ID, "track_api_key": f"canary-trk2-Q4n{SPECIALS}u",
                     "app_api_key": f"canary-app2-R8v{SPECIALS}v", "pipelines_api_key": f"canary-pipe2-W3k{SPECIALS}w"}
"""A second set, for tests that need valid-looking credentials the session sandbox refuses."""

_KEYS = {"track": TRACK_KEY, "app": APP_KEY, "pipelines": PIPELINES_KEY,
         "spare-track": SPARE_CREDENTIALS["track_api_key"], "spare-app": SPARE_CREDENTIALS["app_api_key"],
         "spare-pipelines": SPARE_CREDENTIALS["pipelines_api_key"]}
_BASIC = {"track-basic": (SITE_ID, TRACK_KEY), "pipelines-basic": (PIPELINES_KEY, ""),
          "spare-track-basic": (SITE_ID, SPARE_CREDENTIALS["track_api_key"]),
          "spare-pipelines-basic": (SPARE_CREDENTIALS["pipelines_api_key"], "")}


def _b64(raw: bytes) -> dict[str, str]:
    return {"std": base64.b64encode(raw).decode().rstrip("="),
            "urlsafe": base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def _aligned(raw: bytes) -> bytes:
    return raw[: len(raw) - len(raw) % 3]


def forms() -> dict[str, str]:
    """Every string a canary may turn into, by label (`track-json`, `track-basic-std`, ...)."""
    out: dict[str, str] = {}
    for name, key in _KEYS.items():
        core = key[: key.index(SPECIALS)]
        candidates = {
            "raw": key,
            "repr": repr(key)[1:-1],
            "json": json.dumps(key)[1:-1],
            "url": quote(key, safe=""),
            "url-path": quote(key),
            "url-plus": quote_plus(key),
            "url-requote": quote(key, safe="!#$%&'()*+,/:;=?@[]~"),  # requests' requote_uri
        }
        candidates.update({f"base64-{v}": f for v, f in _b64(key.encode()).items()})
        # the key's distinctive head survives every text encoding, truncation and double escaping
        candidates["any-encoding"] = core
        for variant, form in candidates.items():
            if form not in out.values():
                out[f"{name}-{variant}"] = form
    for name, (user, password) in _BASIC.items():
        raw = f"{user}:{password}".encode()
        core = f"{user}:{password}"[: f"{user}:{password}".index(SPECIALS)].encode()
        candidates = {**_b64(raw), **{f"{v}-prefix": f for v, f in _b64(_aligned(core)).items()}}  # + truncated
        for variant, form in candidates.items():
            if form not in out.values():
                out[f"{name}-{variant}"] = form
    return out


FORMS = forms()
_LABEL = {form: label for label, form in FORMS.items()}
_PATTERN = re.compile("|".join(re.escape(f) for f in sorted(FORMS.values(), key=len, reverse=True)))
MARKERS = ("canary-", base64.b64encode(b"canary")[:8].decode())
assert all(any(m in form for m in MARKERS) for form in FORMS.values()), "a form escapes the quick pre-check"


def leaks(text: str) -> list[str]:
    """The labels of the canary forms in `text` (longest match at each place), in order of first appearance."""
    if not any(m in text for m in MARKERS):
        return []
    return list(dict.fromkeys(_LABEL[m.group(0)] for m in _PATTERN.finditer(text)))


def mask(text: str) -> str:
    """`text` with every canary form replaced by `<canary:LABEL>`."""
    if not any(m in text for m in MARKERS):
        return text
    return _PATTERN.sub(lambda m: f"<canary:{_LABEL[m.group(0)]}>", text)


# ------------------------------------------------------------------------------------------------ state
class _Pending:
    """What the running test phase produced outside pytest's report sections (process-wide)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self.errors: list[BaseException] = []
        self.hits: list[tuple[str, list[str]]] = []  # found as things happened
        self.scanned_early = 0

    def take(self) -> tuple[list[tuple[str, str]], list[BaseException], list[tuple[str, list[str]]]]:
        with self.lock:
            texts, self.texts = self.texts, []
            errors, self.errors = self.errors, []
            hits, self.hits = self.hits, []
        return texts, errors, hits


PENDING = _Pending()
MAX_PENDING_ERRORS = 64  # older ones are scanned early, so no test keeps thousands of tracebacks alive


def describe_error(exc: BaseException) -> str:
    """What a user can see of an error: str, repr, to_dict, and what its traceback prints.

    A formatted traceback adds to the error's own lines only file names and source lines, which hold
    no runtime values, so every exception of the chain (causes, contexts, group members, notes) is
    rendered with `format_exception_only`: the same text a traceback shows, at a fraction of the cost.
    Contexts hidden by `raise ... from None` are scanned too: error trackers may still walk them.
    """
    parts: list[str] = []
    to_dict = getattr(exc, "to_dict", None)
    for show in (str, repr, lambda e: json.dumps(to_dict(), ensure_ascii=False, default=str) if to_dict else ""):
        try:
            parts.append(show(exc))
        except Exception as problem:  # an error that cannot describe itself is a finding of its own
            parts.append(f"<{type(problem).__name__} while describing {type(exc).__name__}>")
    seen: set[int] = set()
    stack = [exc]
    while stack:
        link = stack.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        try:
            parts.extend(traceback.format_exception_only(link))
            if link is not exc:
                parts.append(repr(link))
        except Exception:
            parts.append(f"<{type(link).__name__} that cannot be formatted>")
        stack += [link.__cause__, link.__context__, *getattr(link, "exceptions", ())]
    return "\n".join(parts)


def _scan_errors(errors: list[BaseException]) -> list[tuple[str, list[str]]]:
    hits = []
    for exc in errors:
        found = leaks(describe_error(exc))
        if found:
            hits.append((f"{type(exc).__name__} (str/repr/to_dict/traceback)", found))
    return hits


def _remember_error(exc: BaseException) -> None:
    with PENDING.lock:
        PENDING.errors.append(exc)
        if len(PENDING.errors) <= MAX_PENDING_ERRORS:
            return
        half = MAX_PENDING_ERRORS // 2
        early, PENDING.errors = PENDING.errors[:half], PENDING.errors[half:]
    try:
        hits = _scan_errors(early)
    except Exception:  # never break the code under test
        return
    with PENDING.lock:
        PENDING.hits.extend(hits)
        PENDING.scanned_early += len(early)


class _ScanHandler(logging.Handler):
    """Scans every record reaching the root logger as it is emitted, keeping nothing.

    It reads what a formatter would print of the record's content: the rendered message, the
    exception text (or, unformatted yet, the exception chain) and the stack info. Logger filters
    (relaykit's redacting filter) have run by then, as they have for any other handler.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0
        self.chars = 0

    def handle(self, record: logging.LogRecord) -> bool:  # no lock: emit touches shared state only on a hit
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = [record.getMessage()]
        except Exception:  # logging reports a broken record itself
            parts = [str(record.msg)]
        if record.exc_text:
            parts.append(record.exc_text)
        elif record.exc_info and record.exc_info[1] is not None:
            parts.append(describe_error(record.exc_info[1]))
        if record.stack_info:
            parts.append(record.stack_info)
        text = "\n".join(parts)
        self.records += 1
        self.chars += len(text)
        found = leaks(text)
        if found:
            with PENDING.lock:
                PENDING.hits.append((f"a {record.levelname} record of logger {record.name!r}", found))


SCAN_HANDLER = _ScanHandler()


# ------------------------------------------------------------------------------------------------ patches
class _Patches:
    """Process-wide instrumentation, installed once even when pytester nests a session."""

    def __init__(self) -> None:
        self.depth = 0
        self.undo: list[Any] = []

    def install(self) -> None:
        self.depth += 1
        if self.depth > 1:
            return
        self._sandbox_defaults()
        self._track_errors()
        self._track_results()
        self._readouterr()

    def uninstall(self) -> None:
        self.depth -= 1
        if self.depth:
            return
        while self.undo:
            self.undo.pop()()

    def _set(self, obj: Any, name: str, value: Any) -> None:
        old = getattr(obj, name)
        setattr(obj, name, value)
        self.undo.append(lambda: setattr(obj, name, old))

    def _sandbox_defaults(self) -> None:
        """The sandbox's built-in credentials become the canaries for this process.

        The defaults are bound into `Sandbox.__init__` and the `Credentials` dataclass when the
        sandbox is imported, so both functions' default tuples are rewritten along with the
        `DEFAULT_*` constants (which the sandbox CLI reads when it builds its parser).
        """
        import relaykit.sandbox as package
        from relaykit.sandbox import auth, cli, runner

        constants = {"DEFAULT_SITE_ID": SITE_ID, "DEFAULT_TRACK_KEY": TRACK_KEY, "DEFAULT_APP_KEY": APP_KEY,
                     "DEFAULT_PIPELINES_KEY": PIPELINES_KEY}
        for module in (auth, runner, cli, package):
            for name, value in constants.items():
                if hasattr(module, name):
                    self._set(module, name, value)
        for func in (runner.Sandbox.__init__, auth.Credentials.__init__):
            params = [p for p in inspect.signature(func).parameters.values() if p.default is not p.empty]
            positional = [p.name for p in params if p.kind is not p.KEYWORD_ONLY]
            if func.__defaults__:
                self._set(func, "__defaults__", tuple(CREDENTIALS.get(n, d)
                                                      for n, d in zip(positional, func.__defaults__, strict=True)))
            if func.__kwdefaults__:
                self._set(func, "__kwdefaults__", {n: CREDENTIALS.get(n, d) for n, d in func.__kwdefaults__.items()})
        for name, value in CREDENTIALS.items():  # the dataclass's own record of its defaults
            self._set(auth.Credentials.__dataclass_fields__[name], "default", value)
            self._set(auth.Credentials, name, value)
        got = {n: p.default for n, p in inspect.signature(runner.Sandbox).parameters.items() if n in CREDENTIALS}
        if auth.Credentials().as_dict() != CREDENTIALS or got != CREDENTIALS:
            raise pytest.UsageError("tests/canary_scan.py could not make the canaries the sandbox's default "
                                    "credentials; the sandbox's defaults moved: update _sandbox_defaults()")

    def _track_errors(self) -> None:
        from relaykit.errors import RelaykitError

        original = RelaykitError.__init__

        def __init__(self: RelaykitError, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            _remember_error(self)

        self._set(RelaykitError, "__init__", __init__)

    def _track_results(self) -> None:
        """Scan what `dry_run` returns (what `relaykit call --dry-run/--curl` prints) and resolved connections."""
        from relaykit import Runtime

        def scan(where: str, text: str) -> None:
            found = leaks(text)
            if found:
                with PENDING.lock:
                    PENDING.hits.append((where, found))

        dry_run, resolve = Runtime.dry_run, Runtime.resolve_connection

        def dry_run_scanned(self: Runtime, *args: Any, **kwargs: Any) -> Any:
            request = dry_run(self, *args, **kwargs)
            scan("a dry run's repr/to_dict/to_curl", "\n".join(
                [repr(request), json.dumps(request.to_dict(), ensure_ascii=False, default=str), request.to_curl()]))
            return request

        def resolve_scanned(self: Runtime, *args: Any, **kwargs: Any) -> Any:
            connection = resolve(self, *args, **kwargs)
            scan("a resolved connection's repr/str", repr(connection) + "\n" + str(connection))
            return connection

        self._set(Runtime, "dry_run", dry_run_scanned)
        self._set(Runtime, "resolve_connection", resolve_scanned)

    def _readouterr(self) -> None:
        original = pytest.CaptureFixture.readouterr

        def readouterr(self: pytest.CaptureFixture) -> Any:
            result = original(self)
            with PENDING.lock:
                for stream, text in (("stdout", result.out), ("stderr", result.err)):
                    if text:
                        text = text if isinstance(text, str) else bytes(text).decode("utf-8", "replace")
                        PENDING.texts.append((f"{stream} read back through capsys/capfd", text))
            return result

        self._set(pytest.CaptureFixture, "readouterr", readouterr)


PATCHES = _Patches()
LOUD_LOGGERS = ("relaykit", "urllib3", "requests")


# ------------------------------------------------------------------------------------------------ hooks
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "prints_secrets: the test shows a canary on purpose; its output is masked "
                                       "but the S3 canary scan does not fail it")
    if config.getoption("log_level") is None and not config.getini("log_level"):
        # DEBUG records are scanned by SCAN_HANDLER as they are emitted; pytest's capture (shown for failing
        # tests, and caplog) keeps INFO and up, so it does not format and store every DEBUG record as well
        config.option.log_level = "INFO"
    PATCHES.install()
    config.add_cleanup(PATCHES.uninstall)
    config.pluginmanager.register(Scanner(), "relaykit-canary-scanner")


def _fixture_reprs(item: pytest.Item) -> list[tuple[str, str]]:
    funcargs = getattr(item, "funcargs", None) or {}
    out = []
    for name, value in funcargs.items():
        if type(value).__module__.startswith("relaykit"):
            try:
                out.append((f"repr/str of fixture {name!r}", repr(value) + "\n" + str(value)))
            except Exception as problem:
                out.append((f"repr/str of fixture {name!r}", f"<{type(problem).__name__}>"))
    sandbox = funcargs.get("sandbox") or funcargs.get("cio_sandbox")
    if sandbox is not None and hasattr(sandbox, "journal"):
        try:
            out.append(("the sandbox's journal", json.dumps(sandbox.journal(), ensure_ascii=False, default=str)))
        except Exception:  # a stopped sandbox has nothing to show
            pass
    return out


class Scanner:
    """One session's scan: hooks and counters (pytester may run a session inside a session)."""

    def __init__(self) -> None:
        self.phases = 0
        self.chars = 0
        self.errors = 0
        self.records = 0
        self.leaked: list[str] = []

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        root = logging.getLogger()
        saved = [(root, root.level, root.disabled)]
        names = [n for n, lg in list(logging.root.manager.loggerDict.items())
                 if isinstance(lg, logging.Logger) and n.startswith(tuple(f"{p}." for p in LOUD_LOGGERS))]
        for name in (*LOUD_LOGGERS, *names):
            logger = logging.getLogger(name)
            if name in LOUD_LOGGERS or logger.level > logging.DEBUG or logger.disabled:
                saved.append((logger, logger.level, logger.disabled))
        for logger, _level, _disabled in saved:
            logger.setLevel(logging.DEBUG)
            logger.disabled = False
        nested = SCAN_HANDLER in root.handlers  # pytester runs a session inside this one
        if not nested:
            root.addHandler(SCAN_HANDLER)
        records, chars = SCAN_HANDLER.records, SCAN_HANDLER.chars
        try:
            return (yield)
        finally:
            if not nested:
                root.removeHandler(SCAN_HANDLER)
            self.records += SCAN_HANDLER.records - records
            self.chars += SCAN_HANDLER.chars - chars
            for logger, level, disabled in saved:
                logger.setLevel(level)
                logger.disabled = disabled

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        try:
            self._check(item, report)
        except Exception as problem:  # a broken scanner must not pass silently
            report.outcome = "failed"
            report.longrepr = f"S3 canary scan crashed: {type(problem).__name__}: {mask(str(problem))}"
        return report

    def _check(self, item: pytest.Item, report: pytest.TestReport) -> None:
        when = report.when
        texts, errors, hits = PENDING.take()
        sources = [(title, content) for title, content in report.sections if title.endswith(f" {when}")]
        sources += [(f"{where} ({when})", text) for where, text in texts]
        if when == "call":
            sources += _fixture_reprs(item)
        sources += [(f"{type(e).__name__} created during {when} (str/repr/to_dict/traceback)", describe_error(e))
                    for e in errors]
        longrepr = report.longreprtext if report.longrepr is not None else ""
        if longrepr:
            sources.append(("the failure report (traceback with chained causes)", longrepr))
        self.phases += 1
        self.errors += len(errors) + PENDING.scanned_early
        PENDING.scanned_early = 0
        for title, text in sources:
            self.chars += len(text)
            found = leaks(text)
            if found:
                hits.append((title, found))

        # nothing pytest prints may show a canary, whichever phase leaked it
        report.sections = [(title, mask(content)) for title, content in report.sections]
        if not hits:
            return
        message = "\n".join([f"S3 canary scan: a secret was disclosed during {when} (masked as <canary:LABEL>):",
                             *(f"  {', '.join(found)} in {title}" for title, found in hits)])
        if item.get_closest_marker("prints_secrets") is not None:
            report.sections.append(("S3 canary scan (allowed by @pytest.mark.prints_secrets)", message))
            if leaks(longrepr):
                report.longrepr = mask(longrepr)
            return
        self.leaked.append(f"{report.nodeid} ({when}): " + "; ".join(f"{', '.join(f)} in {t}" for t, f in hits))
        report.longrepr = (mask(longrepr) + "\n\n" if longrepr else "") + message
        report.outcome = "failed"
        if hasattr(report, "wasxfail"):
            del report.wasxfail

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: Any, when: str, nodeid: str, location: Any) -> None:
        text = str(warning_message.message)
        found = leaks(text)
        if found:
            self.leaked.append(f"{nodeid or when}: {', '.join(found)} in a warning")
            warning_message.message = type(warning_message.message)(mask(text))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.leaked and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", "S3 canary scan")
        terminalreporter.write_line(
            f"S3 canary scan: {self.phases} test phases, {self.records} log records, {self.errors} relaykit errors, "
            f"{self.chars / 1e6:.1f} MB of text scanned for {len(FORMS)} canary forms: {len(self.leaked)} leak(s)")
        for line in self.leaked:
            terminalreporter.write_line(f"  {line}", red=True)
