"""``sctpctl probe``: an INIT scan, like ``nmap -sY``, in the outcome words of DESIGN.md."""

from __future__ import annotations

import asyncio
import sys

import click

from sctpctl.cli.output import (
    OutputFormat,
    dump_json,
    emit,
    make_console,
    output_option,
    simple_table,
)
from sctpctl.cli.stackopts import run_tool, stack_choice, stack_options
from sctpctl.sockets import ProbeResult
from sctpctl.tools.common import open_chosen_stack
from sctpctl.tools.probe import (
    ProbeOptions,
    exit_code,
    parse_hosts,
    parse_ports,
    run_probe,
    summary,
)

FORMATS = (OutputFormat.TABLE, OutputFormat.WIDE, OutputFormat.JSON, OutputFormat.YAML)


def _hosts(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_hosts(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _ports(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return parse_ports(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("probe")
@click.argument("hosts", metavar="HOST[,HOST...]", callback=_hosts)
@click.option(
    "-p",
    "--ports",
    required=True,
    callback=_ports,
    metavar="PORTS",
    help="Ports: 7000, 7000,7001 or 7000-7010 (mixes allowed).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.05, 600),
    default=3.0,
    show_default=True,
    metavar="SECONDS",
    help="How long each probe waits for an answer.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 65536),
    default=256,
    show_default=True,
    help="Probes in flight at once.",
)
@stack_options
@output_option(*FORMATS)
def probe(
    hosts: tuple[str, ...],
    ports: tuple[int, ...],
    timeout: float,
    concurrency: int,
    userspace: str | None,
    udp_port: int,
    udp_peer_port: int,
    output: OutputFormat,
) -> None:
    """INIT-probe every HOST:PORT without completing an association.

    Outcomes: open (INIT-ACK), closed (ABORT), filtered (no answer), rejected (ICMP
    unreachable), no-sctp-on-target (ICMP protocol unreachable). The exit code is the outcome's
    (0, 10, 11, 12, 13) when all targets agree, 1 when they differ, 14 without SCTP here.
    -o json prints a list of {"host", "port", "outcome"} objects.
    """
    options = ProbeOptions(hosts, ports, timeout, concurrency)
    choice = stack_choice(userspace, udp_port, udp_peer_port)

    async def main(_stop: asyncio.Event) -> list[ProbeResult]:
        async with await open_chosen_stack(choice) as stack:
            return await run_probe(stack, options)

    results = run_tool(main)
    if output is OutputFormat.JSON:
        rows = [{"host": r.host, "port": r.port, "outcome": r.outcome.value} for r in results]
        sys.stdout.write(dump_json(rows))
        sys.stdout.flush()
    else:
        wide = output is OutputFormat.WIDE
        columns = ["host", "port", "outcome", *(["evidence"] if wide else [])]
        emit(
            output,
            [
                {"host": r.host, "port": r.port, "outcome": r.outcome.value, "evidence": r.detail}
                for r in results
            ],
            table=lambda: simple_table(
                columns,
                [[r.host, r.port, r.outcome.value, *([r.detail] if wide else [])] for r in results],
            ),
        )
        if output in (OutputFormat.TABLE, OutputFormat.WIDE) and len(results) > 1:
            counts = ", ".join(f"{n} {word}" for word, n in summary(results).items())
            make_console(stderr=True).print(f"{len(results)} probed: {counts}", highlight=False)
    code = exit_code(results)
    if code:
        click.get_current_context().exit(code)
