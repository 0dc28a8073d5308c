"""``sctpctl stack``: the host stack service (DESIGN.md section 3, docs/host-stack.md).

``serve`` runs it in the foreground; ``add-netns``, ``remove-netns`` and ``list`` talk to a running
one through its control socket; ``status`` asks the service of the current network namespace.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click

from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.output import OutputFormat, document, emit, make_console, output_option
from sctpctl.host.commands import HostError, MissingPrivilege
from sctpctl.host.stack.control import StackControlError, control_request
from sctpctl.host.stack.daemon import run_service
from sctpctl.host.stack.service import StackService
from sctpctl.outcomes import ExitCode, Outcome
from sctpctl.sockets import HostStack

FORMATS = (OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)

control_option = click.option(
    "--control",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="PATH",
    help="The service's control socket.",
)


@click.group("stack")
def stack() -> None:
    """The host stack service: SCTP for network namespaces without kernel SCTP."""


@stack.command()
@click.option(
    "--netns",
    "namespaces",
    multiple=True,
    metavar="NAME",
    help="A named network namespace to serve (repeatable). Without --netns and --control, the "
    "namespace this process runs in is served.",
)
@click.option(
    "--control",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="Listen on this Unix socket for add-netns / remove-netns / list (mode 0600).",
)
@click.option(
    "--grace",
    type=click.FloatRange(0, 600),
    default=5.0,
    show_default=True,
    help="Seconds SIGTERM waits for associations to shut down before ABORTing them.",
)
def serve(namespaces: tuple[str, ...], control: Path | None, grace: float) -> None:
    """Own SCTP in network namespaces until SIGTERM or Ctrl-C.

    In each served namespace the service holds one raw socket per address family (IP protocol
    132), answers INITs to closed ports with ABORT, and serves applications (sctpctl listen,
    connect, probe, perf) on the abstract Unix socket @sctpctl-stack. SIGTERM shuts every
    association down (SHUTDOWN, at most --grace seconds, then ABORT).
    """
    console = make_console(stderr=True)

    def ready(service: StackService) -> None:
        served = ", ".join(name or "its own network namespace" for name in service.names())
        where = f"; control socket {control}" if control else ""
        console.print(f"stack service (pid {os.getpid()}) serving {served or 'nothing yet'}{where}")

    try:
        asyncio.run(run_service(namespaces, control=control, grace=grace, on_ready=ready))
    except MissingPrivilege as error:
        raise EnvironmentProblem(str(error), hint="run it as root") from error
    except HostError as error:
        raise EnvironmentProblem(str(error)) from error
    console.print("stack service stopped")


def _control(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    try:
        return asyncio.run(control_request(path, request))
    except StackControlError as error:
        raise CommandError(str(error), ExitCode.FAILED) from error


@stack.command("add-netns")
@click.argument("name")
@control_option
def add_netns(name: str, control: Path) -> None:
    """Have a running service serve network namespace NAME too."""
    _control(control, {"op": "add-netns", "netns": name})


@stack.command("remove-netns")
@click.argument("name")
@control_option
def remove_netns(name: str, control: Path) -> None:
    """Stop serving NAME: its associations are aborted and its sockets closed."""
    answer = _control(control, {"op": "remove-netns", "netns": name})
    if not answer.get("removed"):
        make_console(stderr=True).print(f"{name} was not served")


@stack.command("list")
@control_option
@output_option(*FORMATS)
def list_(control: Path, output: OutputFormat) -> None:
    """The namespaces a running service serves."""
    answer = _control(control, {"op": "list"})
    names = [str(n) for n in answer.get("netns", [])]
    emit(
        output,
        document("StackNamespaceList", {"pid": answer.get("pid"), "netns": names}),
        table=lambda: "\n".join(n or "(its own network namespace)" for n in names) or "(none)",
    )


@stack.command()
@output_option(*FORMATS)
def status(output: OutputFormat) -> None:
    """Whether a stack service serves this network namespace (exit 14 when none does)."""

    async def ask() -> dict[str, Any] | None:
        found = await HostStack.find()
        return None if found is None else await found.info()

    info = asyncio.run(ask())
    if info is None:
        if output is not OutputFormat.TABLE:
            emit(output, document("StackStatus", {"served": False}))
        raise CommandError(
            "no stack service serves this network namespace", Outcome.NO_SCTP_LOCAL.exit_code
        )
    body = {"served": True, **{k: info.get(k) for k in ("pid", "netns", "associations")}}
    body["listening"] = info.get("listening", [])
    emit(
        output,
        document("StackStatus", body),
        table=lambda: (
            f"served by the stack service (pid {body['pid']}): {body['associations']}"
            f" associations, listening on {body['listening'] or 'no port'}"
        ),
    )
