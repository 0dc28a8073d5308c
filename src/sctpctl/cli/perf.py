"""``sctpctl perf``: throughput and latency over SCTP alone (no TCP control connection)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import click
from rich.live import Live
from rich.text import Text

from sctpctl.cli.output import (
    OutputFormat,
    document,
    emit,
    make_console,
    output_option,
    simple_table,
)
from sctpctl.cli.stackopts import (
    event_printer,
    run_tool,
    stack_choice,
    stack_options,
    target_argument,
    timeout_option,
)
from sctpctl.tools.common import open_chosen_stack
from sctpctl.tools.perf import (
    DEFAULT_PORT,
    PerfClientOptions,
    PerfClientResult,
    PerfServerOptions,
    PerfServerReport,
    Progress,
    run_perf_client,
    run_perf_server,
)

FORMATS = (OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
NOTE = "userspace SCTP in Python: figures are bounded by the stack, not the network"


def _megabytes(rate: float) -> str:
    return f"{rate / 1e6:.2f} MB/s ({rate * 8 / 1e6:.1f} Mbit/s)"


@click.group("perf")
def perf() -> None:
    """Throughput and latency over one SCTP association, like iperf3 --sctp (SCTP only)."""


@contextlib.asynccontextmanager
async def _live_line(progress: Progress, latency: bool) -> AsyncIterator[None]:
    """A progress line on stderr, only when stderr is a terminal."""
    console = make_console(stderr=True)
    if not console.is_terminal:
        yield
        return

    def line() -> Text:
        if latency:
            return Text(f"{progress.round_trips} round trips")
        return Text(f"sent {progress.bytes / 1e6:.1f} MB, {_megabytes(progress.rate())}")

    with Live(line(), console=console, transient=True, refresh_per_second=4) as live:

        async def refresh() -> None:
            while True:
                await asyncio.sleep(0.25)
                live.update(line())

        task = asyncio.ensure_future(refresh())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@perf.command("client")
@target_argument
@click.option(
    "--size",
    type=click.IntRange(1, 16 * 1024 * 1024),
    default=1024,
    show_default=True,
    metavar="BYTES",
    help="Message size.",
)
@click.option(
    "--time",
    "seconds",
    type=click.FloatRange(0.1, 86400),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to send.",
)
@click.option(
    "--streams",
    type=click.IntRange(1, 65535),
    default=1,
    show_default=True,
    help="Send round robin over this many streams.",
)
@click.option("--unordered", is_flag=True, help="Send unordered messages.")
@click.option(
    "--latency",
    is_flag=True,
    help="Measure round trips (one message at a time, echoed): p50/p90/p99.",
)
@timeout_option
@stack_options
@output_option(*FORMATS)
def client(
    target: tuple[str, int],
    size: int,
    seconds: float,
    streams: int,
    unordered: bool,
    latency: bool,
    timeout: float,
    userspace: str | None,
    udp_port: int,
    udp_peer_port: int,
    output: OutputFormat,
) -> None:
    """Send to a perf server (or any SCTP sink or echo server) at HOST:PORT and measure."""
    host, port = target
    options = PerfClientOptions(host, port, size, seconds, streams, unordered, latency, timeout)
    choice = stack_choice(userspace, udp_port, udp_peer_port)
    events = event_printer()

    async def main(_stop: asyncio.Event) -> PerfClientResult:
        async with await open_chosen_stack(choice) as stack:
            progress = Progress()
            async with _live_line(progress, latency):
                return await run_perf_client(stack, options, progress=progress, events=events)

    result = run_tool(main)
    emit(
        output,
        document("PerfResult", {**result.to_dict(), "note": NOTE}),
        table=lambda: _client_table(result),
    )


def _client_table(result: PerfClientResult) -> Text:
    order = "unordered" if result.unordered else "ordered"
    lines = [
        f"{result.mode} to {result.host}:{result.port} ({result.backend}): {result.size}-byte"
        f" messages, {result.streams} stream(s), {order}, {result.seconds:.2f} s",
    ]
    if result.latency is not None:
        report = result.latency
        lines.append(
            f"round trips  {report.samples} ({result.messages_per_second:.0f}/s)"
            f"  p50 {report.p50 * 1e3:.3f} ms  p90 {report.p90 * 1e3:.3f} ms"
            f"  p99 {report.p99 * 1e3:.3f} ms  max {report.maximum * 1e3:.3f} ms"
        )
    else:
        lines.append(
            f"sender       {result.sent_bytes} bytes in {result.sent_messages} messages:"
            f" {_megabytes(result.bytes_per_second)}, {result.messages_per_second:.0f} msg/s"
        )
        if result.receiver is not None:
            receiver = result.receiver
            lines.append(
                f"receiver     {receiver.bytes} bytes in {receiver.messages} messages:"
                f" {_megabytes(receiver.bytes_per_second)}"
            )
    lines.append(f"note: {NOTE}")
    return Text("\n".join(lines))


@perf.command("server")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The SCTP port to listen on.",
)
@click.option(
    "--bind",
    "host",
    default=None,
    metavar="HOST",
    help="Accept only associations addressed to this local address.",
)
@click.option("--once", is_flag=True, help="Serve one client, then exit.")
@stack_options
@output_option(*FORMATS)
def server(
    port: int,
    host: str | None,
    once: bool,
    userspace: str | None,
    udp_port: int,
    udp_peer_port: int,
    output: OutputFormat,
) -> None:
    """Count what perf clients send, echo latency probes, until SIGTERM or Ctrl-C."""
    options = PerfServerOptions(port, host, once)
    choice = stack_choice(userspace, udp_port, udp_peer_port)
    console = make_console(stderr=True)

    def listening(port: int) -> None:
        console.print(f"perf server listening on SCTP port {port}", highlight=False)

    def report(item: PerfServerReport) -> None:
        rate = item.bytes / item.seconds if item.seconds > 0 else 0.0
        console.print(
            f"{item.peer}: {item.bytes} bytes in {item.messages} messages,"
            f" {item.seconds:.2f} s, {_megabytes(rate)}; {item.echoed} echoed;"
            f" {item.termination}",
            highlight=False,
        )

    async def main(stop: asyncio.Event) -> list[PerfServerReport]:
        async with await open_chosen_stack(choice) as stack:
            return await run_perf_server(
                stack, options, stop=stop, on_listening=listening, on_report=report
            )

    reports = run_tool(main)
    if output is not OutputFormat.TABLE:
        emit(
            output,
            document(
                "PerfServerResult", {"port": port, "associations": [r.to_dict() for r in reports]}
            ),
        )
    elif reports:
        emit(
            output,
            None,
            table=lambda: simple_table(
                ["peer", "bytes", "messages", "seconds", "MB/s", "echoed", "ended"],
                [
                    [
                        r.peer,
                        r.bytes,
                        r.messages,
                        f"{r.seconds:.2f}",
                        f"{(r.bytes / r.seconds / 1e6) if r.seconds else 0:.2f}",
                        r.echoed,
                        r.termination,
                    ]
                    for r in reports
                ],
            ),
        )
