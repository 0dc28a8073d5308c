"""``sctpctl status``: per node and pool, whether SCTP is there; ``sctpctl node-state``: what its
check pods run on each node.

``status`` exits 0 when every selected node has the module loaded, 1 otherwise (3 for cluster
trouble). Its check pods are removed whatever happens, Ctrl-C included.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import RenderableType
from rich.text import Text

from sctpctl.cli.cluster import DURATION, ClusterOptions, cluster_options, run_on_cluster
from sctpctl.cli.errors import CommandError
from sctpctl.cli.output import (
    OutputFormat,
    document,
    emit,
    make_console,
    output_option,
    simple_table,
)
from sctpctl.enable.checkpods import HOST_ROOT
from sctpctl.enable.nodestate import ModuleReport, read_node_state
from sctpctl.enable.plan import PlanError
from sctpctl.enable.status import ClusterStatus, collect_status
from sctpctl.manifests.verification import DEFAULT_IMAGE
from sctpctl.netpol.selectors import Selector, SelectorError
from sctpctl.outcomes import ExitCode


@click.command()
@click.option(
    "--pool", "pools", multiple=True, metavar="POOL",
    help="Only the nodes of this MachineConfigPool (repeatable; default: every node).",
)  # fmt: skip
@click.option(
    "-l", "--selector", default=None, metavar="SELECTOR",
    help="Only the nodes with these labels (kubectl's -l syntax).",
)  # fmt: skip
@click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True,
    help="Image of the check pods (sctpctl's own; a mirror of it on disconnected clusters).",
)  # fmt: skip
@click.option(
    "--timeout", type=DURATION, default="2m", show_default=True,
    help="How long the check pods may take (90s, 2m).",
)  # fmt: skip
@output_option(OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)
@cluster_options(
    namespace_help="Namespace for the check pods (default: one made for the run and removed)."
)
def status(
    cluster: ClusterOptions,
    pools: tuple[str, ...],
    selector: str | None,
    image: str,
    timeout: float,
    output: OutputFormat,
) -> None:
    """Per node: role, pool, SCTP MachineConfig applied, and the sctp module's state.

    The module state is read on each node by a short-lived pod that only reads files
    (/sys/module/sctp/initstate, /etc/modprobe.d, /etc/modules-load.d, /lib/modules, all
    read-only) and never opens an SCTP socket, which could load the module. States: loaded,
    blacklisted, not-loaded, absent (this kernel has no sctp module), unknown (no check could
    run). Exit 0 when every selected node has SCTP loaded, 1 otherwise.
    """
    if selector:
        try:
            Selector.parse(selector)
        except SelectorError as error:
            raise click.BadParameter(str(error), param_hint="-l/--selector") from error
    try:
        found = run_on_cluster(
            cluster,
            lambda client: collect_status(
                client,
                pools=pools,
                selector=selector,
                namespace=cluster.namespace,
                image=image,
                timeout=timeout,
            ),
        )
    except PlanError as error:
        raise CommandError(str(error), ExitCode.USAGE) from error
    except KeyboardInterrupt:
        make_console(stderr=True).print("interrupted; the check pods were removed")
        click.get_current_context().exit(ExitCode.INTERRUPTED)
    emit(
        output,
        document("SctpStatus", found.to_json()),
        table=lambda: _tables(found),
        soft_wrap=True,
    )
    if not found.ok:
        click.get_current_context().exit(ExitCode.FAILED)


def _tables(found: ClusterStatus) -> list[RenderableType]:
    """The nodes table, then one line of evidence per node, the pools table and the count; the
    long sentences stay out of the tables so they keep their shape at any width."""
    parts: list[RenderableType] = [
        simple_table(
            ("node", "roles", "pool", "ready", "sctp mc", "module"),
            (
                (
                    n.name,
                    ",".join(n.roles) or "<none>",
                    n.pool or "-",
                    "Ready" if n.ready else "NotReady",
                    n.machineconfig.value,
                    n.module.state.value,
                )
                for n in found.nodes
            ),
        ),
        Text(""),
        *(Text(f"{n.name}: {n.module.detail}") for n in found.nodes),
    ]
    if found.pools:
        parts.append(Text(""))
        parts.append(
            simple_table(
                ("pool", "state", "updated", "degraded", "sctp in config"),
                (
                    (p.name, p.state.value, f"{p.updated}/{p.machines}", p.degraded,
                     "yes" if p.sctp else "no")
                    for p in found.pools
                ),
            )
        )  # fmt: skip
        parts.extend(Text(f"{p.name}: {p.message}") for p in found.pools if p.message)
    loaded = sum(1 for n in found.nodes if n.has_sctp)
    parts.append(Text(""))
    parts.append(
        Text(
            f"{loaded} of {len(found.nodes)} node(s) have SCTP"
            + ("" if found.openshift else " (no MachineConfig operator on this cluster)")
        )
    )
    return parts


@click.command("node-state", hidden=True)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help=f"Where this node's /etc and /lib/modules are (the check pod mounts them at {HOST_ROOT}).",
)
@output_option(OutputFormat.JSON, OutputFormat.YAML, OutputFormat.TABLE, default=OutputFormat.JSON)
def node_state(root: Path, output: OutputFormat) -> None:
    """The sctp module state of the machine this runs on, read from files only.

    What each 'sctpctl status' check pod runs. It reads /sys/module/sctp/initstate,
    /proc/cmdline, ROOT/etc/modprobe.d, ROOT/etc/modules-load.d and ROOT/lib/modules, and
    never opens an SCTP socket.
    """
    report = read_node_state(root)
    emit(output, document("NodeModuleState", report.to_json()), table=lambda: _report(report))


def _report(report: ModuleReport) -> RenderableType:
    return simple_table(
        ("module", "kernel", "initstate", "boot", "detail"),
        [
            (
                report.state.value,
                report.kernel,
                report.initstate or "-",
                report.boot or "-",
                report.detail,
            )
        ],
    )
