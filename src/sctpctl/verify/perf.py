"""``--perf``: throughput and latency from the cross-node client to a perf server pod.

The server pod ``sctpperf`` (``sctpctl perf server``) runs on the server's node; the client
runs ``sctpctl perf client -o json`` twice in the cross-node client pod: a throughput run with
64 KiB messages and a latency run (one message at a time, echoed). The check runs after every
other one, alone, so other probes do not share the path while it measures. It passes when both
runs complete; the figures are in the report either way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sctpctl.outcomes import Outcome
from sctpctl.verify import probes, workload
from sctpctl.verify.context import RunContext, host_port
from sctpctl.verify.model import CHECK_FAILED, EXPECT_OPEN, Action, Observation
from sctpctl.verify.workload import PERF_PORT

THROUGHPUT_SIZE = 64 * 1024


def _rate(data: Any) -> str:
    rate = float(data.get("bytesPerSecond") or 0.0)
    receiver = data.get("receiver") or {}
    received = float(receiver.get("bytesPerSecond") or 0.0)
    text = f"{rate / 1e6:.2f} MB/s sent ({rate * 8 / 1e6:.1f} Mbit/s)"
    if received:
        text += f", {received / 1e6:.2f} MB/s received"
    return (
        f"{text} in {float(data.get('seconds') or 0):.1f} s, {THROUGHPUT_SIZE // 1024} KiB messages"
    )


def _latency(data: Any) -> str:
    latency = data.get("latency") or {}

    def ms(key: str) -> str:
        value = latency.get(key)
        return "?" if value is None else f"{float(value):.2f} ms"

    return (
        f"round trip p50 {ms('p50Ms')}, p90 {ms('p90Ms')}, p99 {ms('p99Ms')} "
        f"over {latency.get('samples')} messages"
    )


async def _run(ctx: RunContext, *, latency: bool) -> Observation:
    server = workload.perf_server(ctx)
    host = ctx.pod_ip(server)
    if host is None:
        return Observation(CHECK_FAILED, "the perf server has no address")
    seconds = ctx.options.perf_seconds
    argv = ["perf", "client", host_port(host, PERF_PORT), "--time", f"{seconds:g}"]
    argv += ["--timeout", f"{ctx.options.probe_timeout:g}", "-o", "json"]
    argv += ["--latency"] if latency else ["--size", str(THROUGHPUT_SIZE)]
    started = time.monotonic()
    result = await probes.run_tool(
        ctx, workload.client(ctx), argv, deadline=seconds + ctx.options.probe_timeout + 10
    )
    took = time.monotonic() - started
    if isinstance(result, str):
        return Observation(CHECK_FAILED, result, seconds=took)
    outcome = Outcome.from_exit_code(result.exit_code)
    data = probes.parse_json(result.stdout)
    if outcome is Outcome.OPEN and isinstance(data, dict):
        detail = _latency(data) if latency else _rate(data)
        return Observation(outcome.value, detail, result.exit_code, data, seconds=took)
    if outcome is not None:
        return Observation(outcome.value, probes.stderr_line(result), result.exit_code)
    return probes.unexpected(result)


async def scenario(ctx: RunContext) -> Sequence[Action]:
    source, server = workload.client(ctx), workload.perf_server(ctx)
    host = ctx.pod_ip(server) or "?"

    async def throughput(ctx: RunContext) -> Observation:
        return await _run(ctx, latency=False)

    async def latency(ctx: RunContext) -> Observation:
        return await _run(ctx, latency=True)

    name = f"{ctx.short(source)} -> {ctx.short(server)} ({host_port(host, PERF_PORT)})"
    return [
        Action(
            f"{name}: {what}",
            EXPECT_OPEN,
            perform=perform,
            source=str(source),
            target=server,
            port=PERF_PORT,
        )
        for what, perform in (("throughput", throughput), ("latency", latency))
    ]
