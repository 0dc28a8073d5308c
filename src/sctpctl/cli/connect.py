"""``sctpctl connect``: send stdin as SCTP messages, print what comes back (``nc --sctp``)."""

from __future__ import annotations

import asyncio

import click

from sctpctl.cli.errors import CommandError
from sctpctl.cli.output import OutputFormat, document, emit, output_option
from sctpctl.cli.stackopts import (
    StdinReader,
    event_printer,
    run_tool,
    stack_choice,
    stack_options,
    target_argument,
    timeout_option,
    write_stdout,
)
from sctpctl.outcomes import Outcome
from sctpctl.tools.common import open_chosen_stack
from sctpctl.tools.connect import ConnectOptions, ConnectResult, run_connect

FORMATS = (OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.YAML)


@click.command("connect")
@target_argument
@click.option(
    "--stream",
    type=click.IntRange(0, 65534),
    default=0,
    show_default=True,
    help="The stream messages are sent on.",
)
@click.option(
    "--ppid",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Payload Protocol Identifier of the messages sent.",
)
@click.option("--unordered", is_flag=True, help="Send unordered messages (U bit).")
@click.option(
    "--size",
    type=click.IntRange(1, 16 * 1024 * 1024),
    default=None,
    metavar="BYTES",
    help="Cut stdin into messages of this size (default: one message per read).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0, 86400),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to keep reading after stdin ends.",
)
@timeout_option
@click.option(
    "--streams",
    type=click.IntRange(1, 65535),
    default=10,
    show_default=True,
    help="Outbound streams to ask for.",
)
@click.option(
    "--expect-echo",
    is_flag=True,
    help="The peer must send back exactly the bytes sent (else: mismatch, exit 15).",
)
@stack_options
@output_option(*FORMATS, default=OutputFormat.TEXT)
def connect(
    target: tuple[str, int],
    stream: int,
    ppid: int,
    unordered: bool,
    size: int | None,
    wait: float,
    timeout: float,
    streams: int,
    expect_echo: bool,
    userspace: str | None,
    udp_port: int,
    udp_peer_port: int,
    output: OutputFormat,
) -> None:
    """Connect to HOST:PORT; stdin becomes messages, received messages go to stdout.

    Exit codes: 0 open, 10 closed (ABORT), 11 filtered (no answer), 12 rejected (ICMP
    unreachable), 13 no SCTP on the target (ICMP protocol unreachable), 14 no SCTP here,
    15 mismatch (with --expect-echo). -v prints association events on stderr; -o json prints
    a result document instead of the data.
    """
    if stream >= streams:
        raise click.BadParameter(
            f"--stream {stream} needs --streams above it", param_hint="--stream"
        )
    host, port = target
    options = ConnectOptions(
        host, port, stream, ppid, unordered, size, wait, timeout, streams, expect_echo
    )
    choice = stack_choice(userspace, udp_port, udp_peer_port)
    events = event_printer()
    text = output is OutputFormat.TEXT

    async def main(stop: asyncio.Event) -> ConnectResult:
        async with await open_chosen_stack(choice) as stack:
            return await run_connect(
                stack,
                options,
                read=StdinReader(),
                write=write_stdout if text else None,
                events=events,
                keep_messages=not text,
                stop=stop,
            )

    result = run_tool(main)
    if not text:
        emit(output, document("ConnectResult", result.to_dict()))
    if result.outcome is not Outcome.OPEN:
        detail = f" ({result.detail})" if result.detail else ""
        raise CommandError(f"{result.outcome.explanation}{detail}", result.outcome.exit_code)
    if events is not None:
        events(
            f"sent {result.sent_messages} messages ({result.sent_bytes} bytes), received"
            f" {result.received_messages} ({result.received_bytes} bytes); {result.termination}"
        )
