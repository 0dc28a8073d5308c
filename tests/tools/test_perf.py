"""perf: the control messages, percentiles, and client against server over UDP on 127.0.0.1."""

from __future__ import annotations

import asyncio

from sctpctl.sockets import Message
from sctpctl.tools.perf import (
    CONTROL_PPID,
    LatencyReport,
    PerfClientOptions,
    PerfServerOptions,
    control_message,
    parse_control,
    percentile,
    run_perf_client,
    run_perf_server,
)
from tests.sockets.helpers import udp_pair


def test_control_messages_are_told_apart_from_data():
    body = control_message("end", bytes=10, messages=1)
    assert parse_control(Message(body, 0, CONTROL_PPID)) == {
        "perf": 1,
        "type": "end",
        "bytes": 10,
        "messages": 1,
    }
    assert parse_control(Message(body, 0, 0)) is None  # data that happens to look alike
    assert parse_control(Message(body, 1, CONTROL_PPID)) is None
    assert parse_control(Message(b"not json", 0, CONTROL_PPID)) is None


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.9) == 90.0
    assert percentile(values, 0.99) == 99.0
    report = LatencyReport.of([0.003, 0.001, 0.002])
    assert (report.minimum, report.p50, report.maximum, report.samples) == (0.001, 0.002, 0.003, 3)
    assert LatencyReport.of([]).samples == 0


async def _serve(server, stop):
    listening = asyncio.Event()
    task = asyncio.create_task(
        run_perf_server(
            server, PerfServerOptions(5201), stop=stop, on_listening=lambda _p: listening.set()
        )
    )
    await listening.wait()
    return task


async def test_throughput_is_counted_by_both_ends_and_they_agree():
    async with udp_pair() as (server, client):
        stop = asyncio.Event()
        serving = await _serve(server, stop)
        result = await run_perf_client(
            client, PerfClientOptions("127.0.0.1", 5201, size=4096, seconds=0.5, streams=3)
        )
        assert result.streams == 3 and result.sent_messages > 10
        assert result.receiver is not None
        assert result.receiver.bytes == result.sent_bytes
        assert result.receiver.messages == result.sent_messages
        assert result.termination == "shutdown"
        stop.set()
        (report,) = await serving
        assert report.bytes == result.sent_bytes and report.termination == "shutdown"


async def test_latency_round_trips_through_the_perf_server():
    async with udp_pair() as (server, client):
        stop = asyncio.Event()
        serving = await _serve(server, stop)
        result = await run_perf_client(
            client, PerfClientOptions("127.0.0.1", 5201, size=100, seconds=0.3, latency=True)
        )
        assert result.latency is not None and result.latency.samples == result.sent_messages > 10
        assert 0 < result.latency.p50 <= result.latency.p99 <= result.latency.maximum
        stop.set()
        (report,) = await serving
        assert report.echoed == result.sent_messages


async def test_against_a_plain_sink_the_sender_times_until_everything_was_acknowledged():
    async with udp_pair() as (server, client):
        listener = await server.listen(5201)

        async def sink() -> int:
            association = await listener.accept()
            return sum([len(m.data) async for m in association])

        draining = asyncio.create_task(sink())
        result = await run_perf_client(
            client, PerfClientOptions("127.0.0.1", 5201, size=1000, seconds=0.3)
        )
        assert result.receiver is None and result.seconds >= 0.3
        assert await draining == result.sent_bytes + 1000  # and "start", padded to 1000
