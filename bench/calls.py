"""P1, P1b and S-lat: per-call wall time against the sandbox, relaykit vs bare requests vs the official client."""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

from bench import clients
from bench.sandbox import Target
from bench.stats import interleave, summarise

TRACK = "customerio-track.track_event"
IDENTIFY = "customerio-track.create_or_update_customer"
APP_RAW = "customerio-app.raw_http_request"
ATTRIBUTES = {"first_name": "Ada", "plan": "pro"}
EVENT_DATA = {"plan": "pro"}


def _ratio_figure(fid: str, figure: str, comparison: Any, a: str, b: str, target: float) -> dict[str, Any]:
    spread = summarise(comparison.ratios(a, b))
    return {"id": fid, "figure": figure, "kind": "ratio", "value": spread["median"], "spread": spread,
            "target": target, "target_text": f"<= {target:.2f}x", "met": spread["median"] <= target,
            "context_us": {a: comparison.median_us(a), b: comparison.median_us(b)}}


def _check(label: str, ok: bool) -> None:
    if not ok:
        raise RuntimeError(f"{label}: the call did not return what the benchmark expects")


def run_calls(target: Target, *, rounds: int, calls: int, warmup: int) -> list[dict[str, Any]]:
    """P1 (track_event, 3 ways), P1b (identify, App raw GET); one figure per comparison."""
    rt = clients.relaykit_runtime()
    track_conn, app_conn = target.connection("customerio-track"), target.connection("customerio-app")
    bare, bare_app = clients.BareTrack(target), clients.BareApp(target)
    by_hand = clients.AdapterTrack(target)
    official = clients.official_track(target)
    people = clients.identifiers()
    figures: list[dict[str, Any]] = []
    try:
        def rk_track() -> Any:
            return rt.run(TRACK, {"identifier": next(people), "name": "signed_up", "data": EVENT_DATA}, track_conn)

        def bare_track() -> Any:
            return bare.track_event(next(people), "signed_up", EVENT_DATA)

        def adapter_track() -> Any:
            return by_hand.track_event(next(people), "signed_up", EVENT_DATA)

        _check("relaykit track_event", rk_track().output["accepted"] is True)
        _check("bare track_event", bare_track() == {})
        _check("adapter track_event", adapter_track() == {})
        variants = [("relaykit", rk_track), ("bare", bare_track), ("adapter", adapter_track)]
        if official is not None:
            def official_track() -> Any:
                return official.track(next(people), "signed_up", EVENT_DATA, id=clients.ulid())

            _check("official track", official_track().status_code == 200)
            variants.append(("official", official_track))
        comp = interleave(variants, rounds=rounds, calls=calls, warmup=warmup)
        figures.append(_ratio_figure("P1", "Runtime.run track_event / bare requests", comp, "relaykit", "bare", 1.05))
        if official is not None:
            figures.append(_ratio_figure("P1", "Runtime.run track_event / official customerio track()", comp,
                                         "relaykit", "official", 1.0))
        lean = _ratio_figure("P1", "Runtime.run track_event / the same call by hand through HTTPAdapter.send "
                             "(relaykit's own overhead)", comp, "relaykit", "adapter", 0.0)
        lean.update(scored=False, target_text="(context)", met=None)
        figures.append(lean)

        def rk_identify() -> Any:
            who = next(people)
            return rt.run(IDENTIFY, {"identifier": who, "email": who, "attributes": ATTRIBUTES}, track_conn)

        def bare_identify() -> Any:
            who = next(people)
            return bare.identify(who, who, ATTRIBUTES)

        _check("relaykit identify", rk_identify().output == {"accepted": True})
        _check("bare identify", bare_identify() == {})
        comp = interleave([("relaykit", rk_identify), ("bare", bare_identify)], rounds=rounds, calls=calls,
                          warmup=warmup)
        figures.append(_ratio_figure("P1b", "Runtime.run create_or_update_customer / bare", comp, "relaykit",
                                     "bare", 1.05))

        def rk_app() -> Any:
            return rt.run(APP_RAW, {"method": "GET", "endpoint": "/segments"}, app_conn)

        def bare_app_get() -> Any:
            return bare_app.get("/segments")

        _check("relaykit raw GET", rk_app().output["body"] == bare_app_get())
        comp = interleave([("relaykit", rk_app), ("bare", bare_app_get)], rounds=rounds, calls=calls, warmup=warmup)
        figures.append(_ratio_figure("P1b", "Runtime.run App raw_http_request GET /segments / bare", comp,
                                     "relaykit", "bare", 1.05))
    finally:
        rt.close()
        bare.close()
        by_hand.close()
        bare_app.close()
        if official is not None:
            official.close()
    return figures


def run_sandbox_latency(target: Target, *, rounds: int, calls: int, warmup: int) -> dict[str, Any]:
    """S-lat: a lean keep-alive client (http.client, one connection) doing small Track v1 event calls."""
    parts = urlsplit(target.base_urls["customerio-track"]["us"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    creds = target.credentials
    token = base64.b64encode(f"{creds['site_id']}:{creds['track_api_key']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json", "Accept": "application/json"}
    people = clients.identifiers()

    def call() -> None:
        body = json.dumps({"name": "signed_up", "data": EVENT_DATA, "id": clients.ulid()})
        who = next(people).replace("@", "%40")
        conn.request("POST", f"{parts.path}/v1/customers/{who}/events", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"S-lat: HTTP {resp.status}")

    try:
        for _ in range(warmup):
            call()
        per_round, every = [], []
        for _ in range(rounds):
            times = []
            for _ in range(calls):
                start = time.perf_counter_ns()
                call()
                times.append((time.perf_counter_ns() - start) / 1000)
            per_round.append(statistics.median(times))
            every.extend(times)
    finally:
        conn.close()
    spread = summarise(per_round)
    every.sort()
    return {"id": "S-lat", "figure": "sandbox median per-call latency, keep-alive Track calls (µs)",
            "kind": "absolute_us", "value": spread["median"], "spread": spread, "target": 1000.0,
            "target_text": "<= 1000 µs", "met": spread["median"] <= 1000.0,
            "context_us": {"p90": every[int(len(every) * 0.9)], "p99": every[int(len(every) * 0.99)]}}
