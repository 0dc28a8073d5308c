"""``sctpctl lint``: static checks of Pods, workloads, Services, NetworkPolicies and
MachineConfigs for the mistakes that break SCTP."""

from __future__ import annotations

import sys

import click
from rich.text import Text

from sctpctl.cli.output import (
    OutputFormat,
    document,
    emit,
    make_console,
    output_option,
    simple_table,
)
from sctpctl.manifests.findings import Severity
from sctpctl.manifests.lint import RULES_BY_ID, LintReport, lint_paths
from sctpctl.manifests.rules import RULES, LintOptions
from sctpctl.manifests.rules.common import DEFAULT_NODE_PORT_RANGE
from sctpctl.manifests.sarif import to_sarif
from sctpctl.outcomes import ExitCode

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow"}


def _node_port_range(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    low, dash, high = value.partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        first = last = -1
    if not dash or not 1 <= first <= last <= 65535:
        raise click.BadParameter(f"{value!r} is not a range like 30000-32767")
    return first, last


def _rule_ids(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> set[str]:
    unknown = sorted(set(value) - set(RULES_BY_ID))
    if unknown:
        raise click.BadParameter(
            f"unknown rule {', '.join(unknown)} (see sctpctl lint --list-rules)"
        )
    return set(value)


@click.command()
@click.argument("paths", nargs=-1, metavar="PATH...")
@output_option(OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.SARIF, default=OutputFormat.TEXT)
@click.option("--strict", is_flag=True, help="Warnings fail the run too (exit 1).")
@click.option(
    "--allow-loadbalancer",
    is_flag=True,
    help="Accept SCTP Services of type LoadBalancer (e.g. MetalLB with an SCTP-capable CNI).",
)
@click.option(
    "--node-port-range",
    default=f"{DEFAULT_NODE_PORT_RANGE[0]}-{DEFAULT_NODE_PORT_RANGE[1]}",
    show_default=True,
    callback=_node_port_range,
    help="The cluster's --service-node-port-range.",
)
@click.option(
    "--disable",
    "disabled",
    multiple=True,
    metavar="RULE",
    callback=_rule_ids,
    help="Skip a rule (repeatable).",
)
@click.option("--list-rules", is_flag=True, help="Print the rules and exit.")
@click.pass_context
def lint(
    ctx: click.Context,
    paths: tuple[str, ...],
    output: OutputFormat,
    strict: bool,
    allow_loadbalancer: bool,
    node_port_range: tuple[int, int],
    disabled: set[str],
    list_rules: bool,
) -> None:
    """Check Kubernetes and OpenShift YAML for SCTP mistakes.

    PATH is a file, a directory (its *.yaml, *.yml and *.json files, recursively) or - for
    stdin; files may hold several documents and Lists. Pod templates of Deployments,
    StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs count as pods.

    Exit 1 when an error is found (with --strict: an error or a warning), 0 otherwise. A file
    that cannot be read or parsed is an error finding (load-error).
    """
    if list_rules:
        _print_rules(output)
        return
    if not paths:
        raise click.UsageError("give at least one PATH (a file, a directory, or - for stdin)")
    options = LintOptions(allow_loadbalancer=allow_loadbalancer, node_port_range=node_port_range)
    report = lint_paths(paths, options, disabled=disabled, stdin=sys.stdin)
    if output is OutputFormat.SARIF:
        emit(output, to_sarif(report, RULES))
    elif output is OutputFormat.JSON:
        emit(output, document("LintReport", report.to_dict()))
    else:
        _print_text(report)
    if report.failed(strict=strict):
        ctx.exit(ExitCode.FAILED)


def _print_text(report: LintReport) -> None:
    """Findings grouped by file, one line each with its fix below, then a summary line."""
    console = make_console()
    width = max((len(f"{f.position.line}:{f.position.column}") for f in report.findings), default=0)
    id_width = max((len(f.rule.id) for f in report.findings), default=0)
    for source, findings in report.by_source():
        console.print(Text(source, style="bold underline"), soft_wrap=True)
        for item in findings:
            where = f"{item.position.line}:{item.position.column}".ljust(width)
            line = Text("  ")
            line.append(where, style="dim")
            line.append("  ")
            line.append(item.severity.value.ljust(7), style=_STYLES[item.severity])
            line.append("  ")
            line.append(item.rule.id.ljust(id_width), style="cyan")
            line.append("  ")
            if item.subject:
                line.append(f"{item.subject}: ", style="bold")
            line.append(item.message)
            console.print(line, soft_wrap=True)
            hint = Text(" " * (width + 4))
            hint.append("fix: ", style="green")
            hint.append(item.fix)
            console.print(hint, soft_wrap=True)
        console.print()
    counts = report.summary()
    summary = Text(
        f"{counts['files']} file{'s' if counts['files'] != 1 else ''}, "
        f"{counts['objects']} object{'s' if counts['objects'] != 1 else ''}: "
    )
    summary.append(
        f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}",
        style=_STYLES[Severity.ERROR] if counts["errors"] else "green",
    )
    summary.append(", ")
    summary.append(
        f"{counts['warnings']} warning{'s' if counts['warnings'] != 1 else ''}",
        style=_STYLES[Severity.WARNING] if counts["warnings"] else "green",
    )
    console.print(summary, soft_wrap=True)


def _print_rules(output: OutputFormat) -> None:
    rows = [
        {"id": r.id, "severity": r.severity.value, "summary": r.summary, "rationale": r.rationale}
        for r in RULES
    ]
    if output is OutputFormat.TEXT:
        table = simple_table(
            ["rule", "severity", "checks"], [[r.id, r.severity, r.summary] for r in RULES]
        )
        emit(OutputFormat.TABLE, rows, table=lambda: table)
    else:
        emit(OutputFormat.JSON, document("LintRules", {"rules": rows}))
