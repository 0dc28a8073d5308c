"""``sctpctl policy``: the NetworkPolicy engine on a cluster described in YAML files.

``explain`` answers one connection and exits 0 when it is allowed, 1 when it is denied; ``table``
prints pods x pods truth tables. Both read ordinary Kubernetes YAML (Namespaces, Pods with labels,
IPs and ports, NetworkPolicies; other kinds are skipped). Bad input (files, names, ``--port``)
exits 2 with the place and the reason, so that 1 always means "denied".
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.text import Text

from sctpctl.cli.errors import CommandError
from sctpctl.cli.output import OutputFormat, document, emit, output_option
from sctpctl.manifests.loader import LoadError, load_paths
from sctpctl.netpol import (
    Cluster,
    ClusterError,
    InvalidObject,
    PortProtocol,
    TableView,
    TrafficError,
    TruthTable,
    cluster_from_objects,
    evaluate,
    make_traffic,
    truth_tables,
)
from sctpctl.netpol.explain import explain as explain_lines
from sctpctl.netpol.explain import verdict_to_dict
from sctpctl.netpol.table import default_family
from sctpctl.outcomes import ExitCode

FORMATS = (OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.YAML)


def _port(_ctx: click.Context, _param: click.Parameter, value: object) -> object:
    """``--port 80/sctp`` (repeatable or not) into :class:`PortProtocol` values."""
    try:
        if isinstance(value, tuple):
            return tuple(PortProtocol.parse(v) for v in value)
        return PortProtocol.parse(str(value))
    except TrafficError as error:
        raise click.BadParameter(str(error)) from None


files_option = click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    metavar="CLUSTER.yaml",
    help="Files or directories with Namespaces, Pods and NetworkPolicies ('-' for stdin).",
)
family_option = click.option(
    "--family",
    type=click.Choice(["4", "6"]),
    default=None,
    help="IP family of pod addresses that ipBlock peers see (default: as the addresses given, "
    "else IPv4 when pods have IPv4 addresses).",
)


@click.group("policy")
def policy() -> None:
    """NetworkPolicy engine: explain one connection, print truth tables."""


@policy.command("explain")
@files_option
@click.option("--from", "source", required=True, metavar="NS/POD|IP", help="The client.")
@click.option("--to", "destination", required=True, metavar="NS/POD|IP", help="The server.")
@click.option(
    "--port",
    required=True,
    callback=_port,
    metavar="PORT/PROTOCOL",
    help="Destination port and protocol, e.g. 38412/sctp.",
)
@family_option
@output_option(*FORMATS)
@click.pass_context
def explain(
    ctx: click.Context,
    files: Sequence[str],
    source: str,
    destination: str,
    port: PortProtocol,
    family: str | None,
    output: OutputFormat,
) -> None:
    """Is one connection allowed, and by which rule? Exit 0 allowed, 1 denied, 2 bad input.

    \b
    Egress is decided at the source pod and ingress at the destination pod; an
    address outside the cluster's pods is not policed at its own end.
    """
    cluster = load_cluster(files)
    try:
        traffic = make_traffic(
            cluster, source, destination, port, family=int(family) if family else None
        )
    except TrafficError as error:
        raise CommandError(str(error), ExitCode.USAGE) from None
    verdict = evaluate(cluster, traffic)

    def text() -> list[Text]:
        lines = [Text(line) for line in explain_lines(cluster, verdict)]
        answer = len("allowed" if verdict.allowed else "denied")
        lines[0].stylize("bold green" if verdict.allowed else "bold red", 0, answer)
        return lines

    body = verdict_to_dict(verdict)
    emit(output, document("PolicyVerdict", body), table=text, soft_wrap=True)
    ctx.exit(ExitCode.OK if verdict.allowed else ExitCode.FAILED)


@policy.command("table")
@files_option
@click.option(
    "--port",
    "ports",
    required=True,
    multiple=True,
    callback=_port,
    metavar="PORT/PROTOCOL",
    help="A table per port, e.g. --port 80/sctp --port 81/tcp.",
)
@click.option(
    "--view",
    type=click.Choice([*(v.value for v in TableView), "all"]),
    default=TableView.COMBINED.value,
    show_default=True,
    help="combined: egress at the source and ingress at the destination; ingress or egress "
    "alone; all: the three.",
)
@family_option
@click.option(
    "--compact/--wide",
    default=None,
    help="Numbered columns, or pod names over the columns (default: compact beyond 16 pods).",
)
@output_option(*FORMATS)
def table(
    files: Sequence[str],
    ports: Sequence[PortProtocol],
    view: str,
    family: str | None,
    compact: bool | None,
    output: OutputFormat,
) -> None:
    """Pods x pods truth tables: rows are sources, columns destinations.

    \b
    Glyphs: '.' allowed, 'X' denied.
    """
    cluster = load_cluster(files)
    views = tuple(TableView) if view == "all" else (TableView(view),)
    chosen = int(family) if family else default_family(cluster)
    tables = truth_tables(cluster, ports, family=chosen, views=views)
    body = {"family": chosen, "tables": [t.to_dict() for t in tables]}

    def text() -> list[Text]:
        return [_coloured(t, compact) for t in tables]

    emit(output, document("TruthTables", body), table=text, soft_wrap=True)


def _coloured(table: TruthTable, compact: bool | None) -> Text:
    text = Text(table.render(compact=compact) + "\n")
    text.stylize("bold", 0, len(table.title))
    text.highlight_regex(r"X+", "red")  # names are lower case: every X is a denied cell
    return text


def load_cluster(files: Sequence[str]) -> Cluster:
    """Read the files with positions; errors name the file, line and field."""
    try:
        documents = load_paths(files)
    except LoadError as error:
        raise CommandError(str(error), ExitCode.USAGE) from None
    try:
        return cluster_from_objects([d.obj for d in documents])
    except InvalidObject as error:
        doc = documents[error.index]
        where = doc.position(error.path)
        raise CommandError(
            f"{doc.source}:{where.line}:{where.column}: {error}", ExitCode.USAGE
        ) from None
    except ClusterError as error:
        raise CommandError(str(error), ExitCode.USAGE) from None
