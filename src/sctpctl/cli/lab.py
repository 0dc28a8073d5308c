"""``sctpctl lab``: the local lab cluster (DESIGN.md section 5).

``lab up`` starts the lab daemon detached and waits until every node is Ready; ``lab status``
and ``lab down`` inspect and remove it; ``lab kubeconfig`` prints the kubeconfig's path;
``lab apiserver`` runs only the API server in the foreground; ``lab daemon`` is what ``up``
starts (the whole lab in the foreground).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import RenderableType

from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.output import OutputFormat, emit, make_console, output_option, simple_table
from sctpctl.host.commands import HostError
from sctpctl.lab import control
from sctpctl.lab.daemon import LabDaemon, read_config
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
    with _environment(state):
        exists = state.kubeconfig.exists()
    if not exists:
        raise CommandError(
            f"the lab at {state.root} has no kubeconfig yet",
            hint="start the lab first (sctpctl lab up)",
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


def _state(state_dir: Path | None) -> LabState:
    return LabState(state_dir or default_state_dir())


@contextlib.contextmanager
def _environment(state: LabState) -> Iterator[None]:
    """What the host lacks (root, ip, nft, access to the state folder) becomes exit 3."""
    try:
        yield
    except HostError as error:
        raise EnvironmentProblem(
            str(error), hint="the lab needs root, iproute2 (ip) and nftables (nft)"
        ) from error
    except PermissionError as error:
        raise EnvironmentProblem(
            f"cannot use the lab's state folder {state.root}: {error.strerror}",
            hint=f"run as root or choose another folder with --state or ${ENV_VAR}",
        ) from error


def _print_status(found: control.LabStatus, output: OutputFormat) -> None:
    def table() -> list[RenderableType]:
        lines: list[RenderableType] = []
        if not found.running:
            lines.append(f"lab at {found.state_dir}: not running")
            return lines
        config = found.config
        lines.append(
            f"lab {config.lab_id if config else '?'} on {found.url} (pid {found.pid}), "
            f"state {found.state_dir}"
        )
        lines.append(
            simple_table(
                ["name", "status", "roles", "internal-ip"],
                [(n.name, n.status, n.roles, n.address) for n in found.nodes],
            )
        )
        if found.kubeconfig:
            lines.append(f"export KUBECONFIG={found.kubeconfig}")
        return lines

    emit(
        output,
        {"apiVersion": "sctpctl.dev/v1alpha1", "kind": "LabStatus", **found.to_json()},
        table=table,
    )


@lab.command()
@state_option
@click.option(
    "--workers", type=click.IntRange(0, 99), default=2, show_default=True, help="Worker nodes."
)
@click.option(
    "--masters", type=click.IntRange(0, 99), default=1, show_default=True, help="Master nodes."
)
@click.option(
    "--reboot-seconds",
    type=click.FloatRange(0, 600),
    default=None,
    help="How long a node stays NotReady when the machine-config daemon reboots it (default 2).",
)
@click.option(
    "--restart-backoff",
    type=click.FloatRange(0.1, 300),
    default=None,
    help="The kubelet's first restart back-off in seconds (default 10, doubling up to 300).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="API server port (default: any free one).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=120,
    show_default=True,
    help="Seconds to wait for every node to be Ready.",
)
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
def up(
    state_dir: Path | None,
    workers: int,
    masters: int,
    reboot_seconds: float | None,
    restart_backoff: float | None,
    port: int | None,
    timeout: float,
    output: OutputFormat,
) -> None:
    """Start the lab (or keep the running one) and wait until every node is Ready.

    Idempotent: a running lab is left as it is; after a crash the lab is started again and
    the leftovers of the old run (processes, namespaces) are removed first.
    """
    state = _state(state_dir)
    if masters + workers == 0:
        raise click.BadParameter("a lab needs at least one node", param_hint="--workers")
    with _environment(state):
        try:
            found = control.up(
                state, masters=masters, workers=workers, reboot_seconds=reboot_seconds,
                restart_backoff=restart_backoff, port=port, timeout=timeout,
            )  # fmt: skip
        except control.LabError as error:
            raise CommandError(str(error)) from error
    if output is OutputFormat.TABLE:
        console = make_console(stderr=True)
        console.print("lab started" if found.started else "lab already running")
    _print_status(found, output)


@lab.command("status")
@state_option
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
def lab_status(state_dir: Path | None, output: OutputFormat) -> None:
    """Whether the lab runs, its API server and its nodes. Exit 1 when it is not running."""
    state = _state(state_dir)
    with _environment(state):
        found = control.status(state)
    _print_status(found, output)
    if not found.running:
        raise SystemExit(1)


@lab.command()
@state_option
@click.option("--keep-state", is_flag=True, help="Keep the state folder (objects, certificates).")
def down(state_dir: Path | None, keep_state: bool) -> None:
    """Stop the lab and remove every namespace, process and file it made."""
    state = _state(state_dir)
    with _environment(state):
        report = control.down(state, keep_state=keep_state)
    console = make_console(stderr=True)
    parts = ["daemon stopped" if report.stopped_daemon else "no daemon was running"]
    if report.ended_processes:
        parts.append(f"{report.ended_processes} leftover process(es) ended")
    if report.removed_namespaces:
        parts.append(f"{len(report.removed_namespaces)} namespace(s) removed")
    if report.removed_state:
        parts.append("state removed")
    elif keep_state:
        parts.append(f"state kept in {state.root}")
    console.print("lab down: " + ", ".join(parts))


@lab.command(hidden=True)
@state_option
def daemon(state_dir: Path | None) -> None:
    """Run the whole lab in the foreground (what ``lab up`` starts)."""
    state = _state(state_dir)
    with _environment(state):
        config = read_config(state)
    if config is None:
        raise CommandError(f"no lab is configured at {state.root}", hint="use sctpctl lab up")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    with _environment(state):
        asyncio.run(LabDaemon(state, config).serve())
