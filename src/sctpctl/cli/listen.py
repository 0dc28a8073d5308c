"""``sctpctl listen``: accept SCTP associations, print what arrives, optionally echo it."""

from __future__ import annotations

import asyncio

import click

from sctpctl.cli.output import OutputFormat, document, emit, output_option
from sctpctl.cli.stackopts import (
    StdinReader,
    event_printer,
    run_tool,
    stack_choice,
    stack_options,
    write_stdout,
)
from sctpctl.sockets.addresses import parse_endpoint
from sctpctl.tools.common import open_chosen_stack
from sctpctl.tools.listen import ListenOptions, ListenResult, run_listen

FORMATS = (OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.YAML)


def _where(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str | None, int]:
    try:
        return parse_endpoint(value, host_required=False)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("listen")
@click.argument("where", metavar="[HOST:]PORT", callback=_where)
@click.option(
    "--echo",
    is_flag=True,
    help="Send every message back on its stream, with its PPID and order flag.",
)
@click.option(
    "-k",
    "--keep-open",
    is_flag=True,
    help="Accept any number of associations (default: serve one, then exit).",
)
@click.option(
    "--count",
    type=click.IntRange(1),
    default=None,
    metavar="N",
    help="Exit after N messages (all associations together).",
)
@click.option(
    "--streams",
    type=click.IntRange(1, 65535),
    default=10,
    show_default=True,
    help="Outbound streams offered to each association.",
)
@stack_options
@output_option(*FORMATS, default=OutputFormat.TEXT)
def listen(
    where: tuple[str | None, int],
    echo: bool,
    keep_open: bool,
    count: int | None,
    streams: int,
    userspace: str | None,
    udp_port: int,
    udp_peer_port: int,
    output: OutputFormat,
) -> None:
    """Listen on [HOST:]PORT; received messages go to stdout, stdin goes to the peers.

    Exits when its association ends (with --keep-open: on SIGTERM or Ctrl-C), after --count
    messages, or with 14 when there is no SCTP in this network namespace. -v prints
    association events on stderr; -o json prints a summary instead of the data.
    """
    host, port = where
    options = ListenOptions(port, host, echo, keep_open, count, streams)
    choice = stack_choice(userspace, udp_port, udp_peer_port)
    events = event_printer()
    text = output is OutputFormat.TEXT

    async def main(stop: asyncio.Event) -> ListenResult:
        async with await open_chosen_stack(choice) as stack:

            def listening(port: int) -> None:
                if events is not None:
                    events(f"listening on port {port} ({stack.name})")

            return await run_listen(
                stack,
                options,
                read=StdinReader() if text else None,
                write=write_stdout if text else None,
                events=events,
                on_listening=listening,
                stop=stop,
            )

    result = run_tool(main)
    if not text:
        emit(output, document("ListenResult", result.to_dict()))
