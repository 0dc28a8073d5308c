"""``sctpctl enable`` and ``sctpctl disable``: the procedure's first step, safely and visibly.

Each run: plan (read only) and print the plan on stderr; with ``--dry-run`` print the objects on
stdout and stop; ask for confirmation on a terminal (``--yes`` skips it; elsewhere ``--yes`` is
required for any change); apply; follow the rollout with a progress display on stderr until the
pool is updated, degraded or the ``--timeout`` passes. Ctrl-C while following stops the
following only: the rollout goes on in the cluster, and the message says how to follow it again
(``--watch-only``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as ProgressBar

from sctpctl.cli.cluster import DURATION, ClusterOptions, cluster_options, run_on_cluster
from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.output import dump_yaml_all, make_console
from sctpctl.cli.render import parse_node_selector
from sctpctl.enable.daemonset import DaemonSetPlan, DaemonSetProgress
from sctpctl.enable.operation import (
    AnyPlan,
    AnyProgress,
    Method,
    NoMachineConfigOperator,
    PlanChanged,
    Request,
    RolloutTimeout,
    apply,
    follow,
    make_plan,
)
from sctpctl.enable.plan import DEFAULT_POOLS, PlanError
from sctpctl.enable.rollout import Progress
from sctpctl.k8s.client import Client
from sctpctl.manifests.daemonset import DEFAULT_NAMESPACE as DAEMONSET_NAMESPACE
from sctpctl.manifests.daemonset import Tolerate
from sctpctl.manifests.verification import DEFAULT_IMAGE
from sctpctl.node.ignition import IgnitionVersion
from sctpctl.node.machineconfig import RENDERABLE_VERSIONS
from sctpctl.outcomes import ExitCode

DEFAULT_TIMEOUT = "45m"


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options enable and disable share."""
    for option in reversed(
        (
            click.option(
                "--pool", "pools", multiple=True, metavar="POOL",
                help="MachineConfigPool (repeatable; default: worker).",
            ),
            click.option(
                "--name", default=None,
                help="The MachineConfig (or DaemonSet) sctpctl manages (default: "
                "load-sctp-module for worker, load-sctp-module-POOL for other pools; "
                "sctp-module-loader for the DaemonSet).",
            ),
            click.option(
                "--method", type=click.Choice([m.value for m in Method]), default=None,
                help="machineconfig (OpenShift; the default) or daemonset (clusters without a "
                "MachineConfig operator).",
            ),
            click.option(
                "--timeout", type=DURATION, default=DEFAULT_TIMEOUT, show_default=True,
                help="How long to follow the rollout (90s, 45m, 1h30m).",
            ),
            click.option(
                "--dry-run", is_flag=True,
                help="Print the plan and the objects; change nothing.",
            ),
            click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation."),
            click.option(
                "--watch-only", is_flag=True,
                help="Change nothing; follow a rollout an earlier run started.",
            ),
        )
    ):  # fmt: skip
        func = option(func)
    return func


@click.command()
@_common
@click.option(
    "--ignition",
    type=click.Choice([v.value for v in RENDERABLE_VERSIONS]),
    default=None,
    help="Ignition version of the MachineConfig (default: that of an existing one, else 3.2.0).",
)
@click.option("--image", default=None, help=f"DaemonSet image (default {DEFAULT_IMAGE}).")
@click.option(
    "--node-selector", "node_selector", multiple=True, metavar="KEY=VALUE",
    help="DaemonSet: run on nodes with this label (repeatable; default kubernetes.io/os=linux).",
)  # fmt: skip
@click.option(
    "--tolerate", type=click.Choice([t.value for t in Tolerate]), default=None,
    help="DaemonSet: also run on tainted nodes (control-plane, or all).",
)  # fmt: skip
@cluster_options(namespace_help=f"DaemonSet namespace (default {DAEMONSET_NAMESPACE}).")
def enable(
    cluster: ClusterOptions,
    pools: tuple[str, ...],
    name: str | None,
    method: str | None,
    timeout: float,
    dry_run: bool,
    yes: bool,
    watch_only: bool,
    ignition: str | None,
    image: str | None,
    node_selector: tuple[str, ...],
    tolerate: str | None,
) -> None:
    """Enable SCTP: the procedure's MachineConfig on a pool, then follow the rollout.

    On OpenShift it creates (or brings in line) the MachineConfig of 'sctpctl render
    machineconfig' for each pool; the MachineConfig operator then drains and reboots the pool's
    nodes one by one. It is done when the pool is Updated with that MachineConfig in its
    configuration. Running it again changes nothing and reboots nothing.
    """
    chosen = Method(method) if method else None
    daemonset_only = {"--image": image, "--node-selector": node_selector, "--tolerate": tolerate}
    _check_method_options(chosen, pools, ignition, daemonset_only)
    request = Request(
        enable=True,
        method=chosen,
        pools=pools or DEFAULT_POOLS,
        name=name,
        ignition=IgnitionVersion(ignition) if ignition else None,
        image=image or DEFAULT_IMAGE,
        namespace=cluster.namespace or DAEMONSET_NAMESPACE,
        node_selector=parse_node_selector(node_selector),
        tolerate=Tolerate(tolerate) if tolerate else Tolerate.NONE,
    )
    _run(request, cluster, dry_run=dry_run, yes=yes, watch_only=watch_only, timeout=timeout)


@click.command()
@_common
@cluster_options(namespace_help=f"DaemonSet namespace (default {DAEMONSET_NAMESPACE}).")
def disable(
    cluster: ClusterOptions,
    pools: tuple[str, ...],
    name: str | None,
    method: str | None,
    timeout: float,
    dry_run: bool,
    yes: bool,
    watch_only: bool,
) -> None:
    """Disable SCTP: remove sctpctl's MachineConfig and follow the rollback.

    The pool's nodes are drained and rebooted again, back to the blacklisted module. A
    MachineConfig sctpctl does not manage that also enables SCTP is left alone (the plan
    names it). With --method daemonset it deletes the DaemonSet.
    """
    chosen = Method(method) if method else None
    _check_method_options(chosen, pools, None, {})
    request = Request(
        enable=False,
        method=chosen,
        pools=pools or DEFAULT_POOLS,
        name=name,
        namespace=cluster.namespace or DAEMONSET_NAMESPACE,
    )
    _run(request, cluster, dry_run=dry_run, yes=yes, watch_only=watch_only, timeout=timeout)


def _check_method_options(
    method: Method | None, pools: tuple[str, ...], ignition: str | None, daemonset: dict[str, Any]
) -> None:
    if method is Method.DAEMONSET:
        if pools or ignition:
            raise click.UsageError("--pool and --ignition are for the MachineConfig method")
        return
    given = [flag for flag, value in daemonset.items() if value]
    if given:
        raise click.UsageError(f"{', '.join(given)} need --method daemonset")


def _plan(request: Request, cluster: ClusterOptions) -> AnyPlan:
    try:
        return run_on_cluster(cluster, lambda client: make_plan(client, request))
    except NoMachineConfigOperator as error:
        raise EnvironmentProblem(str(error), hint=error.hint) from error
    except PlanError as error:
        raise CommandError(str(error), ExitCode.USAGE) from error
    except ValueError as error:  # the DaemonSet's name, namespace or selector
        raise click.UsageError(str(error)) from error


def _show_plan(console: Console, plan: AnyPlan, request: Request, *, dry_run: bool) -> None:
    verb = "enable" if request.enable else "disable"
    if isinstance(plan, DaemonSetPlan):
        console.print(f"plan: {verb} SCTP with a DaemonSet (no MachineConfig operator involved)")
        console.print(f"  {plan.describe()}")
        return
    console.print(f"plan: {verb} SCTP with MachineConfigs (machine-config operator)")
    for change in plan.changes:
        console.print(f"  {change.describe()}")
        for warning in change.warnings:
            console.print(f"    warning: {warning}")
    if plan.changes_anything:
        console.print(f"in total {plan.reboots} node(s) will reboot")
    elif not dry_run:
        console.print("nothing to change; following the pools' state")


def _confirm(console: Console, plan: AnyPlan, *, yes: bool) -> None:
    if yes or not plan.changes_anything:
        return
    if not sys.stdin.isatty():
        raise CommandError(
            "this changes the cluster and stdin is not a terminal to confirm it on",
            ExitCode.USAGE,
            hint="add --yes to go ahead without a question (or --dry-run to only look)",
        )
    if not click.confirm("go ahead?", default=False, err=True):
        console.print("nothing was changed")
        click.get_current_context().exit(ExitCode.FAILED)


def _resume_command(request: Request, cluster: ClusterOptions) -> str:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().info_name if ctx is not None else None
    words: list[str] = [
        root or "sctpctl",
        "enable" if request.enable else "disable",
        "--watch-only",
    ]
    if request.method is not None:
        words += ["--method", request.method.value]
    if request.method is not Method.DAEMONSET and tuple(request.pools) != DEFAULT_POOLS:
        for pool in request.pools:
            words += ["--pool", pool]
    if request.name:
        words += ["--name", request.name]
    for flag, value in (("--kubeconfig", cluster.kubeconfig), ("--context", cluster.context)):
        if value:
            words += [flag, value]
    if request.method is Method.DAEMONSET and cluster.namespace:
        words += ["-n", cluster.namespace]
    return " ".join(words)


class RolloutView:
    """The progress display: bars on a terminal, a plain line per change elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.live = console.is_terminal
        self.bars = ProgressBar(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} nodes"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        self.printed: dict[str, str] = {}

    def __enter__(self) -> RolloutView:
        if self.live:
            self.bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.live:
            self.bars.stop()

    def _line(self, key: str, total: int, completed: int, detail: str) -> None:
        if self.live:
            if key not in self.tasks:
                self.tasks[key] = self.bars.add_task(key, total=total, detail="")
            self.bars.update(self.tasks[key], total=total, completed=completed, detail=detail)
        elif self.printed.get(key) != detail:
            self.printed[key] = detail
            elapsed = int(time.monotonic() - self.started)
            self.console.print(f"[{elapsed // 60:d}:{elapsed % 60:02d}] {key}: {detail}")

    def update(self, progress: AnyProgress) -> None:
        if isinstance(progress, DaemonSetProgress):
            self._line("DaemonSet", progress.desired, progress.ready, progress.summary())
            return
        for pool in progress.pools:
            detail = pool.activity()
            if not self.live:
                detail = f"{pool.updated}/{pool.total} updated; {detail}"
            self._line(f"pool {pool.pool}", pool.total, pool.updated, detail)


def _run(
    request: Request,
    cluster: ClusterOptions,
    *,
    dry_run: bool,
    yes: bool,
    watch_only: bool,
    timeout: float,
) -> None:
    console = make_console(stderr=True)
    console.soft_wrap = True  # names and reasons are long; a log line is not cut at 80 columns
    plan = _plan(request, cluster)
    if not watch_only:
        _show_plan(console, plan, request, dry_run=dry_run)
    if dry_run:
        objects = plan.objects()
        if objects:
            sys.stdout.write(dump_yaml_all(objects))
            sys.stdout.flush()
        console.print("dry run: nothing was changed")
        return
    if not watch_only:
        _confirm(console, plan, yes=yes)
    stage = ["applying" if not watch_only else "following"]

    async def work(client: Client) -> AnyProgress:
        current = plan
        if not watch_only:
            current = await apply(client, request, plan, lambda text: console.print(text))
        stage[0] = "following"
        with RolloutView(console) as view:
            return await follow(
                client, current, report=view.update, timeout=timeout, watch_only=watch_only
            )

    resume = _resume_command(request, cluster)
    try:
        result = run_on_cluster(cluster, work)
    except KeyboardInterrupt:
        if stage[0] == "following":
            console.print("stopped following; the rollout goes on in the cluster")
            console.print(f"follow it again with: {resume}", soft_wrap=True)
        else:
            console.print(
                "interrupted while applying: some changes may be made; run the same command "
                "again (it makes only what is missing)"
            )
        click.get_current_context().exit(ExitCode.INTERRUPTED)
    except RolloutTimeout as error:
        last = (
            error.last.summary()
            if isinstance(error.last, DaemonSetProgress)
            else (
                "; ".join(p.summary() for p in error.last.pools)
                if error.last
                else "no progress seen"
            )
        )
        raise CommandError(
            f"not finished after {timeout:g} s ({last}); the rollout goes on in the cluster",
            hint=f"follow it again with: {resume}",
        ) from error
    except (PlanError, PlanChanged) as error:
        raise CommandError(
            str(error), ExitCode.USAGE if isinstance(error, PlanError) else 1
        ) from error
    _finish(console, plan, request, result)


def _finish(console: Console, plan: AnyPlan, request: Request, result: AnyProgress) -> None:
    verb = "enabled" if request.enable else "disabled"
    if isinstance(result, DaemonSetProgress):
        if result.failures:
            for node, why in result.failures:
                console.print(f"  node {node}: {why}")
            raise CommandError(f"the DaemonSet failed on {len(result.failures)} node(s)")
        where = f"{plan.namespace}/{plan.name}" if isinstance(plan, DaemonSetPlan) else ""
        console.print(
            f"SCTP {verb}: DaemonSet {where} "
            + (f"ready on {result.ready}/{result.desired} nodes" if request.enable else "removed")
        )
        return
    assert isinstance(result, Progress)
    for pool in result.pools:
        if pool.outcome.failed:
            console.print(f"pool {pool.pool} is {pool.outcome.value}: {pool.message or '-'}")
            for degraded in pool.degraded_nodes:
                console.print(f"  node {degraded.name}: {degraded.reason or 'no reason given'}")
    if result.failed:
        names = ", ".join(p.pool for p in result.failed)
        raise CommandError(
            f"the rollout did not complete: pool {names} "
            + ("is" if len(result.failed) == 1 else "are")
            + f" {result.failed[0].outcome.value}",
            hint="fix or delete the MachineConfig the reason names; the operator then goes on",
        )
    for pool in result.pools:
        console.print(
            f"SCTP {verb} on pool {pool.pool}: {pool.updated}/{pool.total} nodes updated"
            + (f" ({pool.target})" if pool.target else "")
        )
