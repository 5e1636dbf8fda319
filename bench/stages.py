"""Where the time of one `Runtime.run("customerio-track.track_event")` goes, stage by stage (µs, context only).

Each stage is the same function the pipeline calls, run on its own in a loop; "send" goes over
loopback to the sandbox, and "bare send" is the hand-written client's whole call for comparison.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import clients
from bench.sandbox import Target

TRACK = "customerio-track.track_event"


def _median_us(func: Callable[[], Any], calls: int, batches: int) -> float:
    for _ in range(max(calls // 10, 5)):
        func()
    means = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(calls):
            func()
        means.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(means)


def run_stages(target: Target, *, calls: int, batches: int = 5) -> dict[str, float]:
    from relaykit.call.executor import Executor, decode_body, validate_input
    from relaykit.transport.sender import SendOptions

    rt = clients.relaykit_runtime()
    bare = clients.BareTrack(target)
    conn_config = target.connection("customerio-track")
    people = clients.identifiers()
    raw_input = {"identifier": "bench000@example.com", "name": "signed_up", "data": {"plan": "pro"}}
    try:
        op = rt.operation(TRACK)
        conn = rt.resolve_connection(op.connector.name, conn_config)
        data = validate_input(op, raw_input)
        renderer = rt._kinds.get(op.kind)
        request = renderer(op, data, conn)
        executor: Executor = rt._executor
        transport = executor.transport

        def options() -> SendOptions:
            return executor.send_options(op, conn, request.rate_limit_class)

        opts = options()
        raw = transport.send(request, conn.auth, opts)
        body = decode_body(raw.body, raw.headers)
        output = executor._shape(op, request, raw, body, data)
        out: dict[str, float] = {}
        out["1 operation lookup"] = _median_us(lambda: rt.operation(TRACK), calls * 10, batches)
        out["2 connection resolve (cached)"] = _median_us(
            lambda: rt.resolve_connection(op.connector.name, conn_config), calls * 10, batches)
        out["3 input validation"] = _median_us(lambda: validate_input(op, raw_input), calls * 4, batches)
        out["4 render (+ ULID, limits, same-origin check)"] = _median_us(lambda: renderer(op, data, conn), calls * 4,
                                                                        batches)
        out["5 send options (cached per operation and connection)"] = _median_us(options, calls * 10, batches)
        out["6 Transport.send (requests + loopback + sandbox)"] = _median_us(
            lambda: transport.send(request, conn.auth, opts), calls, batches)
        out["7 decode body"] = _median_us(lambda: decode_body(raw.body, raw.headers), calls * 10, batches)
        out["8 output shaping"] = _median_us(lambda: executor._shape(op, request, raw, body, data), calls * 10,
                                             batches)
        out["9 output validation"] = _median_us(lambda: executor._check_output(op, request, raw, output),
                                                calls * 10, batches)
        out["Runtime.run total"] = _median_us(
            lambda: rt.run(TRACK, {**raw_input, "identifier": next(people)}, conn_config), calls, batches)
        out["bare requests call total"] = _median_us(
            lambda: bare.track_event(next(people), "signed_up", {"plan": "pro"}), calls, batches)
        return out
    finally:
        rt.close()
        bare.close()
