"""``sctpctl lab``: the local lab cluster (DESIGN.md section 5).

For now the lab is its API server: ``lab apiserver`` runs it in the foreground and ``lab
kubeconfig`` prints the path of the kubeconfig that reaches it. ``up``/``down``/``status`` come
with the nodes and controllers.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.output import make_console
from sctpctl.lab.server import DEFAULT_PORT, HOST, LabApiServer
from sctpctl.lab.state import ENV_VAR, LabState, default_state_dir

state_option = click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"The lab's state folder (default: ${ENV_VAR}, else /var/lib/sctpctl/lab).",
)


@click.group()
def lab() -> None:
    """A bare-metal cluster on this machine, driven with kubectl like a real one."""


@lab.command()
@state_option
def kubeconfig(state_dir: Path | None) -> None:
    """Print the path of the lab's kubeconfig (use it as KUBECONFIG)."""
    state = LabState(state_dir or default_state_dir())
    if not state.kubeconfig.exists():
        raise CommandError(
            f"the lab at {state.root} has no kubeconfig yet",
            hint="start the lab first (sctpctl lab apiserver)",
        )
    click.echo(str(state.kubeconfig))


@lab.command()
@state_option
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help=f"TCP port on {HOST} (0 picks a free one).",
)
def apiserver(state_dir: Path | None, port: int) -> None:
    """Run the lab's API server in the foreground until Ctrl-C or SIGTERM.

    It listens on 127.0.0.1 only, keeps its objects in the state folder, and writes the
    kubeconfig there for kubectl and sctpctl.
    """
    state = LabState(state_dir or default_state_dir())
    try:
        asyncio.run(_serve(state, port))
    except PermissionError as error:
        raise EnvironmentProblem(
            f"cannot use the state folder {state.root}: {error.strerror}",
            hint=f"run as root or choose another folder with --state or ${ENV_VAR}",
        ) from error
    except OSError as error:
        raise EnvironmentProblem(
            f"cannot start the API server on {HOST}:{port}: {error}"
        ) from error


async def _serve(state: LabState, port: int) -> None:
    server = LabApiServer(state, port=port)
    await server.start()
    console = make_console(stderr=True)
    console.print(f"lab API server on {server.url}; kubeconfig: {state.kubeconfig}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        console.print("lab API server stopped")
