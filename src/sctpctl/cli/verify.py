"""``sctpctl verify``: the documented verification, automated and extended (DESIGN.md section 6).

Progress goes to stderr as checks finish; the report (a table of checks, the failures with their
diagnosis and log, one summary line, or a ``VerifyReport`` document with ``-o json``) goes to
stdout. Exit 0 when every check passed, 1 when one failed, 3 when the cluster or the run's objects
could not be used, 130 when interrupted (after cleaning up).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import click
from rich.console import RenderableType
from rich.text import Text

from sctpctl.cli.cluster import DURATION, ClusterOptions, cluster_options, run_on_cluster
from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.output import (
    OutputFormat,
    document,
    emit,
    make_console,
    output_option,
    settings,
    simple_table,
)
from sctpctl.enable.checkpods import check_nodes
from sctpctl.k8s.client import Client
from sctpctl.manifests.verification import DEFAULT_IMAGE, DEFAULT_PORT
from sctpctl.outcomes import ExitCode
from sctpctl.verify.catalogue import select
from sctpctl.verify.context import LABEL, NodeModule, Options
from sctpctl.verify.junit import write_junit
from sctpctl.verify.model import Status
from sctpctl.verify.report import Report, failure_lines
from sctpctl.verify.runner import SetupError, cleanup, run_verify


def _nodes(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n.strip() for item in value for n in item.split(",") if n.strip())


def _module_reader(image: str, namespace: str | None):  # type: ignore[no-untyped-def]
    """``sctpctl status``'s collection: a short-lived check pod per node reads its files."""

    async def read(client: Client, nodes: Sequence[str]) -> Mapping[str, NodeModule]:
        reports = await check_nodes(client, nodes, namespace=namespace, image=image)
        return {node: NodeModule(r.state.value, r.detail) for node, r in reports.items()}

    return read


def _report_renderables(report: Report) -> list[RenderableType]:
    """The checks table (narrow enough for 80 columns), then what does not fit in it: why
    checks were skipped, measured figures, the failures; then the summary line."""
    rows = [
        (
            r.check.name,
            r.status.value,
            r.outcome if r.status is not Status.SKIPPED else "-",
            f"{len(r.actions) - len(r.failed_actions)}/{len(r.actions)}" if r.actions else "-",
            f"{r.seconds:.1f}",
        )
        for r in report.results
    ]
    parts: list[RenderableType] = [
        simple_table(("check", "result", "outcome", "passed", "seconds"), rows)
    ]
    notes = [f"{r.check.name}: skipped, {r.reason}" for r in report.results if not r.actions
             and r.status is Status.SKIPPED]  # fmt: skip
    notes += [
        f"{r.check.name}: {a.action.name.rsplit(': ', 1)[-1]}: {a.observation.detail}"
        for r in report.results
        if r.check.figures
        for a in r.actions
    ]
    if notes:
        parts.append(Text("\n".join(notes)))
    failed = [r for r in report.results if r.status is Status.FAILED]
    if failed:
        parts.append(Text(""))
        parts.append(Text("📋 failures", style="bold"))
        for result in failed:
            parts.append(Text("\n".join(failure_lines(result))))
    if report.cleanup_error:
        parts.append(Text(report.cleanup_error, style="red"))
    if report.kept:
        parts.append(
            Text(
                f"kept: namespaces {', '.join(report.namespaces)} (delete them with "
                f"sctpctl verify --cleanup)"
            )
        )
    mark = "✅" if report.passed else ("⏹" if report.interrupted else "❌")
    parts.append(Text(f"{mark} [{report.run_id}] {report.summary()}", style="bold"))
    return parts


@click.command()
@click.option(
    "--test", "tests", multiple=True, metavar="REGEX",
    help="Only the checks whose name matches (repeatable, comma-separated; !REGEX leaves out).",
)  # fmt: skip
@click.option(
    "--nodes", multiple=True, callback=_nodes, metavar="NODE[,NODE]",
    help="The nodes to verify (default: the worker nodes, else every node).",
)  # fmt: skip
@click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True,
    help="Image of the run's pods: sctpctl's own (a mirror of it on disconnected clusters).",
)  # fmt: skip
@click.option(
    "--port", type=click.IntRange(1024, 65535), default=DEFAULT_PORT, show_default=True,
    help="The server's SCTP port (the procedure's 30102).",
)  # fmt: skip
@click.option(
    "--timeout", type=DURATION, default="3s", show_default=True,
    help="How long a probe waits for an answer before the target counts as filtered.",
)  # fmt: skip
@click.option(
    "--setup-timeout", type=DURATION, default="3m", show_default=True,
    help="How long the run's pods may take to start (image pulls).",
)  # fmt: skip
@click.option(
    "--settle", type=DURATION, default="10s", show_default=True,
    help="How long failing probes are tried again while Service and policy rules are programmed.",
)  # fmt: skip
@click.option("--perf", is_flag=True, help="Also measure throughput and latency across nodes.")
@click.option("--keep", is_flag=True, help="Leave the run's namespaces for debugging.")
@click.option(
    "--junit", "junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
    metavar="FILE", help="Write a JUnit XML report (one testcase per check).",
)  # fmt: skip
@click.option("--list", "list_only", is_flag=True, help="List the checks and exit.")
@click.option(
    "--cleanup", "cleanup_only", is_flag=True,
    help="Delete what earlier runs left (--keep, a killed run) and exit.",
)  # fmt: skip
@output_option(OutputFormat.TABLE, OutputFormat.JSON)
@cluster_options(
    namespace_help="Namespace for the module check pods (default: one made and removed)."
)
def verify(
    cluster: ClusterOptions,
    tests: tuple[str, ...],
    nodes: tuple[str, ...],
    image: str,
    port: int,
    timeout: float,
    setup_timeout: float,
    settle: float,
    perf: bool,
    keep: bool,
    junit: Path | None,
    list_only: bool,
    cleanup_only: bool,
    output: OutputFormat,
) -> None:
    """Prove that SCTP works: pods, Services, NetworkPolicy, and a node without it.

    Creates the procedure's server, client and NodePort Service (and a few more pods) in
    namespaces of its own, probes from inside the pods with sctpctl's own tools, compares
    NetworkPolicy results with the policy engine, reports each check's outcome word with a
    diagnosis, and deletes everything again (also on Ctrl-C) unless --keep.
    """
    try:
        checks = select(tests)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--test") from None
    if list_only:
        emit(
            output,
            document(
                "VerifyCatalogue",
                {"checks": [{"name": c.name, "summary": c.summary} for c in checks]},
            ),
            table=lambda: simple_table(("check", "proves"), ((c.name, c.summary) for c in checks)),
        )
        return
    console = make_console(stderr=True)
    if cleanup_only:
        removed = run_on_cluster(cluster, lambda client: cleanup(client, LABEL))
        console.print(f"deleted {removed} namespaces of earlier verify runs")
        return
    options = Options(
        image=image, port=port, probe_timeout=timeout, setup_timeout=setup_timeout,
        settle=settle, nodes=nodes, perf=perf, keep=keep,
    )  # fmt: skip
    began = time.monotonic()

    def progress(line: str) -> None:
        console.print(f"[dim]{time.monotonic() - began:5.1f}s[/] {line}", highlight=False)

    async def work(client: Client) -> Report:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await run_verify(
                client, options, checks, read_modules=_module_reader(image, cluster.namespace),
                stop=stop, progress=progress,
            )  # fmt: skip
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(signum)

    try:
        report = run_on_cluster(cluster, work)
    except SetupError as error:
        raise EnvironmentProblem(
            f"the run's objects did not come up: {error}",
            hint="is the image reachable from the cluster? (--image; README: the image)",
        ) from error
    except ValueError as error:  # --nodes naming nodes the cluster does not have
        raise CommandError(str(error), ExitCode.USAGE) from error
    if junit is not None:
        write_junit(report, junit)
    emit(
        output,
        document("VerifyReport", report.to_dict()),
        table=lambda: _report_renderables(report),
        soft_wrap=True,
    )
    if settings().verbose and output is OutputFormat.TABLE:
        for result in report.results:
            for action in result.actions:
                console.print(
                    f"  {result.check.name}: {action.action.name}: {action.observation.word}"
                )
    if report.interrupted:
        raise SystemExit(ExitCode.INTERRUPTED)
    if not report.passed:
        raise SystemExit(ExitCode.FAILED)
