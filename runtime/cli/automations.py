"""The `relaykit run` and `relaykit serve` commands: arguments, the step-by-step report, exit codes.

`run` runs an automation once (or renders it with `--dry-run`) and prints one line per step
(outcome, time, attempts; loops show item counts), or the whole run as JSON with `--json`.
`serve` runs it once per verified Customer.io reporting webhook. Exit codes follow `call`: 0 the
automation succeeded, 1 a step failed, 2 bad usage, spec, inputs or connections (nothing ran).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..transport.waits import human_duration
from .args import EXIT_CALL_FAILED, EXIT_OK, UsageError, make_runtime, print_json, read_data_arg

if TYPE_CHECKING:
    from ..automation.model import Automation, AutomationRun, StepRun

__all__ = ["add_run_arguments", "add_serve_arguments", "format_report", "run_command", "serve_command"]

def _connections_arg(value: str | None) -> dict[str, Any]:
    data = read_data_arg(value, "connections")
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, (dict, str)) for v in data.values()):
        raise UsageError("--connections must map connection names to field mappings (or reference strings)")
    return data


def _load(rt: Any, path: str) -> Automation:
    from ..automation import load_automation
    from ..automation.examples import example_name, example_names
    from ..names import did_you_mean, suggest

    if not Path(path).is_file() and example_name(path) is None:
        hint = did_you_mean(suggest(Path(path).stem, example_names()))
        raise UsageError(f"{path}: file not found, and no shipped example has that name"
                         + (f" ({hint})" if hint else "") + "; `relaykit examples` lists the examples")
    return load_automation(rt, path)


# -- run ------------------------------------------------------------------------------------------


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `relaykit run` (the lead registers the sub-command; `--json` is added by cli.py)."""
    parser.add_argument("automation", help="the automation YAML file, or a shipped example's name (relaykit examples)")
    parser.add_argument("--input", "-i", help="inputs as JSON, @file (.json/.yaml) or - for stdin")
    parser.add_argument("--connections", "-c",
                        help="@file (.json/.yaml) mapping connection names to their fields (secrets may live here); "
                             "connections not listed are resolved from their ref (plugins, RELAYKIT_<REF>_<FIELD>)")
    parser.add_argument("--dry-run", action="store_true", help="render every request without sending anything")
    parser.add_argument("--sandbox", action="store_true",
                        help="start an embedded sandbox and point every connection at it")
    parser.add_argument("--strict", action="store_true", help="fail a step whose response breaks its output schema")


def run_command(args: argparse.Namespace) -> int:
    """`relaykit run`: 0 ok, 1 a step failed, 2 bad usage/spec/inputs/connections."""
    from ..automation import run_automation

    rt = make_runtime(args)
    sandbox = None
    try:
        automation = _load(rt, args.automation)
        inputs = read_data_arg(args.input, "input")
        if inputs is None:
            inputs = {}
        connections = _connections_arg(args.connections)
        if getattr(args, "sandbox", False):
            from ..sandbox import Sandbox

            sandbox = Sandbox(processing_delay=0.0).start()
            for name, ref in automation.connections.items():
                given = connections.get(name)
                if given is None or isinstance(given, dict):  # a reference string is left alone
                    connections[name] = {**sandbox.connection(ref.connector), **(given or {})}
        run = run_automation(rt, automation, inputs, connections, dry_run=args.dry_run)
        if getattr(args, "json", False):
            print_json(run.to_dict())
        else:
            from ..redact import REDACTOR

            sys.stdout.write(REDACTOR.scrub(format_report(run)) + "\n")
        return EXIT_OK if run.ok else EXIT_CALL_FAILED
    finally:
        if sandbox is not None:
            sandbox.stop()
        rt.close()


def _step_line(run: StepRun, width: int) -> list[str]:
    parts = [f"  {run.outcome:<8} {run.id:<{width}}  {run.uses}"]
    if run.outcome in ("skipped", "not_run"):
        if run.reason:
            parts.append(f"({run.reason})")
        return ["  ".join(parts)]
    parts.append(human_duration(run.elapsed))
    if run.items is not None:
        counts = run.counts()
        detail = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
        parts.append(f"{len(run.items)} item(s): {detail or 'none'}")
        if run.uses != "set" and not any(r.request is not None for r in run.items):
            parts.append(f"{run.attempts} attempt(s)")
    elif run.result is not None:
        if run.result.status is not None:
            parts.append(f"status {run.result.status}")
        if run.uses != "set" and run.result.request is None:  # nothing is sent by set steps and dry runs
            attempts = f"{run.result.attempts} attempt(s)"
            if run.result.tries > 1:
                attempts += f" over {run.result.tries} tries"
            parts.append(attempts)
    lines = ["  ".join(parts)]
    errors = run.errors()
    for error in errors[:3]:
        lines.append(f"           error: {error.get('message', error.get('error'))}")
    if len(errors) > 3:
        lines.append(f"           ... and {len(errors) - 3} more failed item(s)")
    if run.result is not None and run.result.request is not None:
        request = run.result.request
        lines.append(f"           would send: {request.get('method')} {request.get('url')}")
    return lines


def format_report(run: AutomationRun) -> str:
    """The readable report: a header, one line per step, the outputs."""
    failed = [r.id for r in run.steps.values() if r.outcome == "failed"]
    if run.ok:
        state = "dry run ok" if run.dry_run else "ok"
        if failed:
            state += f" ({len(failed)} step(s) failed and continued)"
    else:
        state = f"failed at step {run.error.step_id!r}" if run.error else "failed"
    lines = [f"automation {run.name}: {state} in {human_duration(run.elapsed)}"]
    width = max((len(s) for s in run.steps), default=4)
    for step_run in run.steps.values():
        lines.extend(_step_line(step_run, width))
    if run.error is not None and run.error.step_id == "outputs":
        lines.append(f"  error: {run.error.cause}")
    if run.outputs:
        lines.append("outputs:")
        text = json.dumps(run.outputs, indent=2, ensure_ascii=False, default=str)
        lines.extend("  " + line for line in text.splitlines())
    return "\n".join(lines)


# -- serve ----------------------------------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `relaykit serve`."""
    from ..webhooks.defaults import DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE, SIGNING_KEYS_ENV

    parser.add_argument("automation", help="the automation YAML file (or a shipped example's name) to run once per "
                                           "webhook event")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 picks a free one)")
    parser.add_argument("--path", default="/", help="URL path to accept events on (default /)")
    parser.add_argument("--signing-key", action="append", default=[], metavar="KEY",
                        help=f"a webhook signing key (repeat for rotation); default: ${SIGNING_KEYS_ENV}, "
                             "comma-separated (preferred: command lines are visible to other users)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"accepted clock distance of X-CIO-Timestamp in seconds (default {DEFAULT_TOLERANCE:g}; "
                             "0 disables the window)")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest body accepted, bytes")
    parser.add_argument("--connections", "-c", help="@file mapping connection names to their fields")
    parser.add_argument("--input-defaults", help="JSON or @file merged under every event (the event's fields win)")
    parser.add_argument("--store", metavar="DIR",
                        help="keep accepted events, the event_id dedupe set and each run's finished steps in DIR "
                             "(SQLite), so a restart loses nothing and resumes what a stop or crash interrupted")
    parser.add_argument("--drain-deadline", type=float, default=10.0, metavar="SECONDS",
                        help="on Ctrl-C, SIGTERM or SIGHUP, run queued events for at most this long (default 10); "
                             "with --store the rest runs after the restart")
    parser.add_argument("--register-with", metavar="CONNECTION",
                        help="once listening, create a Customer.io reporting webhook for --public-url through this "
                             "customerio-app connection (ref:NAME, JSON or @file), reusing one left by an earlier "
                             "run; it is deleted on shutdown")
    parser.add_argument("--public-url", metavar="URL",
                        help="with --register-with: the URL Customer.io reaches this receiver at")
    parser.add_argument("--events", metavar="LIST",
                        help="with --register-with: comma-separated events to subscribe to (default: the "
                             "object_type/metric pairs the automation's inputs admit through const or enum)")


def build_receiver(rt: Any, automation: Automation, signing_keys: list[str], *, connections: dict[str, Any] | None
                   = None, input_defaults: dict[str, Any] | None = None, store: str | os.PathLike[str] | None = None,
                   **options: Any) -> Any:
    """A `WebhookReceiver` that runs `automation` once per new verified event (also used by tests).

    With `store` (a directory), events wait on disk (`webhooks.db`) and each event's run is
    journaled under `webhook:<event_id>` (`runs.db`), so one interrupted mid-run resumes.
    """
    from ..automation import run_automation
    from ..durable import StoreError
    from ..errors import RelaykitError
    from ..webhooks.receiver import WebhookReceiver

    journal = None
    if store is not None:
        from ..automation.journal import RunJournal

        Path(store).mkdir(parents=True, exist_ok=True)
        journal = RunJournal(Path(store) / "runs.db")
        options["store"] = Path(store) / "webhooks.db"

    def on_event(event: dict[str, Any]) -> bool:
        journaled = {} if journal is None else {"journal": journal, "run_id": f"webhook:{event['event_id']}"}
        try:
            run = run_automation(rt, automation, {**(input_defaults or {}), **event}, connections or {}, **journaled)
        except StoreError:
            raise  # the journal closed under the run (a stop): the receiver leaves the event unfinished
        except RelaykitError as exc:  # inputs or connections refused: nothing ran
            import logging

            logging.getLogger("relaykit.automation").warning("webhook %s: automation not run (%s)",
                                                             event.get("event_id"), type(exc).__name__)
            return False
        return run.ok

    try:
        receiver = WebhookReceiver(on_event, signing_keys, **options)
    except Exception:
        if journal is not None:
            journal.close()
        raise
    receiver.journal = journal  # closed by `serve_command` after the receiver stops
    return receiver


def _unregister(rt: Any, registration: Any) -> int:
    """Delete the webhook `--register-with` made; a refusal is reported and makes the exit status 1."""
    if registration is None or registration.webhook_id is None:
        return EXIT_OK
    from ..errors import RelaykitError
    from ..redact import REDACTOR

    try:
        registration.unregister(rt)
    except RelaykitError as exc:
        print(REDACTOR.scrub(f"relaykit: could not delete reporting webhook {registration.webhook_id}: {exc}"),
              file=sys.stderr)
        return EXIT_CALL_FAILED
    print(f"relaykit: deleted reporting webhook {registration.webhook_id}", file=sys.stderr, flush=True)
    return EXIT_OK


def serve_command(args: argparse.Namespace) -> int:
    """`relaykit serve`: verify and acknowledge webhooks, run the automation per event; Ctrl-C stops."""
    import logging

    from ..webhooks.receiver import SIGNING_KEYS_ENV, parse_signing_keys

    keys = [k.strip() for k in args.signing_key if k.strip()]
    keys = keys or parse_signing_keys(os.environ.get(SIGNING_KEYS_ENV))
    if not keys:
        raise UsageError(f"no webhook signing key: set {SIGNING_KEYS_ENV} (comma-separated) or pass --signing-key; "
                           "refusing to accept unsigned webhooks")
    if args.max_body < 1 or args.tolerance < 0 or args.drain_deadline < 0:
        raise UsageError("--max-body must be positive, --tolerance and --drain-deadline zero or more")
    defaults = read_data_arg(args.input_defaults, "input-defaults")
    if defaults is not None and not isinstance(defaults, dict):
        raise UsageError("--input-defaults must be a JSON object")
    rt = make_runtime(args)
    try:
        automation = _load(rt, args.automation)
        connections = _connections_arg(args.connections)
        from ..automation.runner import resolve_connections

        resolve_connections(rt, automation, connections)  # fail now, not at the first event
        from .register import plan_registration

        registration = plan_registration(rt, args, automation)
        from ..durable import StoreError

        try:
            receiver = build_receiver(rt, automation, keys, connections=connections, input_defaults=defaults,
                                      host=args.host, port=args.port, path=args.path, tolerance=args.tolerance,
                                      max_body_bytes=args.max_body, store=args.store)
        except StoreError as exc:
            raise UsageError(f"--store: {exc}") from None
        try:
            receiver.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        logging.getLogger("relaykit.automation").setLevel(logging.INFO)
        print(f"relaykit: serving {automation.name} on {receiver.url} ({len(keys)} signing key(s), "
              f"tolerance {args.tolerance:g}s{', store ' + args.store if args.store else ''}); Ctrl-C to stop",
              file=sys.stderr, flush=True)
        from .. import exit_signals

        held = exit_signals.hold()  # SIGTERM and SIGHUP drain like Ctrl-C
        try:
            if registration is not None:
                registration.register(rt)
                print(f"relaykit: {'reusing' if registration.reused else 'registered'} reporting webhook "
                      f"{registration.webhook_id} for {registration.endpoint} "
                      f"({', '.join(registration.events)})", file=sys.stderr, flush=True)
            receiver.serve_forever(args.drain_deadline)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            receiver.stop(args.drain_deadline)  # a no-op after serve_forever; needed when registering failed
            if held:
                exit_signals.release()
            if receiver.journal is not None:
                receiver.journal.close()
        stats = receiver.stats()
        print("relaykit: stopped; " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())), file=sys.stderr)
        return _unregister(rt, registration)
    finally:
        rt.close()
