"""Truth tables: pods x pods, one table per port and protocol, one glyph per cell.

Rows are sources (``from``), columns destinations (``to``), in the cluster's pod order
(namespace, then name). A table is plain data: a row is a string of glyphs, so two tables are
compared row by row and the cells that differ are listed (:func:`compare`), which is what the
verification runner prints when what it observed differs from what the engine expected.

The engine only ever writes ``.`` (allowed) and ``X`` (denied); the other glyphs are for
observations (Cyclonus' vocabulary plus SCTP's own outcomes).

How a table is computed (:func:`truth_tables`): a rule allows a rectangle of the table, its
peers x the pods its policy selects (ingress) or the pods its policy selects x its peers (egress),
restricted to the destinations whose ports match. :class:`~.index.ClusterIndex` gives both sides
as bit masks, rectangles with the same rows are merged, and each row is then a big-integer OR
per rectangle that covers it. The result is the same as calling :func:`~.engine.evaluate` per
cell (the tests check that against a brute-force reference), at a small fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from sctpctl.netpol.index import ClusterIndex, bits
from sctpctl.netpol.model import Cluster, Direction
from sctpctl.netpol.traffic import PortProtocol


class Connectivity(Enum):
    """What a cell says about one source, destination and port."""

    ALLOWED = "."
    DENIED = "X"
    "Expected blocked by policy, or observed blocked (a probe could not tell drop from nothing)."
    UNKNOWN = "?"
    "No value: the probe did not run or its result was lost."
    TIMEOUT = "T"
    "Observed: no answer before the deadline (filtered)."
    ABORTED = "A"
    "Observed: the peer answered INIT with ABORT (closed: reachable, nobody listening)."
    CHECK_FAILED = "!"
    "Observed: the probe itself failed (could not be started, bad output)."

    @property
    def glyph(self) -> str:
        return self.value


GLYPHS = frozenset(c.value for c in Connectivity)


class TableView(StrEnum):
    """Which decision a table shows."""

    COMBINED = "combined"
    "Egress allowed at the source and ingress allowed at the destination."
    INGRESS = "ingress"
    "Only the destination's ingress policies."
    EGRESS = "egress"
    "Only the source's egress policies."


@dataclass(frozen=True, slots=True)
class TruthTable:
    port: PortProtocol
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    rows: tuple[str, ...]
    "One string per source, one glyph per destination."
    view: TableView = TableView.COMBINED
    family: int | None = None
    "The IP family of the addresses ``ipBlock`` peers were compared with."

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.sources):
            raise ValueError(f"{len(self.rows)} rows for {len(self.sources)} sources")
        for source, row in zip(self.sources, self.rows, strict=True):
            if len(row) != len(self.destinations):
                raise ValueError(f"row {source} has {len(row)} cells, not {len(self.destinations)}")
            if not set(row) <= GLYPHS:
                raise ValueError(f"row {source} holds glyphs outside {''.join(sorted(GLYPHS))}")

    @classmethod
    def from_cells(
        cls,
        port: PortProtocol,
        sources: Sequence[str],
        destinations: Sequence[str],
        cell: Callable[[str, str], Connectivity],
        **options: Any,
    ) -> TruthTable:
        """A table filled cell by cell, e.g. from observations."""
        rows = tuple("".join(cell(s, d).value for d in destinations) for s in sources)
        return cls(port, tuple(sources), tuple(destinations), rows, **options)

    def cell(self, source: str, destination: str) -> Connectivity:
        row = self.rows[self.sources.index(source)]
        return Connectivity(row[self.destinations.index(destination)])

    def counts(self) -> dict[Connectivity, int]:
        return {c: sum(row.count(c.value) for row in self.rows) for c in Connectivity}

    @property
    def title(self) -> str:
        family = f", IPv{self.family}" if self.family else ""
        return f"{self.port.protocol.value} {self.port.port} ({self.view.value}{family})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: names, and the matrix as lists of glyphs."""
        return {
            "protocol": self.port.protocol.value,
            "port": self.port.port,
            "view": self.view.value,
            "family": self.family,
            "from": list(self.sources),
            "to": list(self.destinations),
            "matrix": [list(row) for row in self.rows],
            "counts": {c.name.lower(): n for c, n in self.counts().items() if n},
        }

    def render(self, *, compact: bool | None = None) -> str:
        """Text, like the upstream e2e truth tables.

        The wide form puts destination names over the columns. The compact form (the default
        beyond 16 destinations) numbers the pods instead: with the same pods on both axes, the
        row number is the column number.
        """
        if compact is None:
            compact = len(self.destinations) > 16
        lines = [self.title]
        if compact:
            number = len(str(max(len(self.sources), len(self.destinations)) - 1))
            name = max((len(s) for s in self.sources), default=1)
            margin = " " * (number + name + 2)
            for power in reversed(range(number)):
                digits = "".join(str(i // 10**power % 10) for i in range(len(self.destinations)))
                lines.append(margin + digits)
            for i, (source, row) in enumerate(zip(self.sources, self.rows, strict=True)):
                lines.append(f"{i:>{number}} {source:<{name}} {row}")
            return "\n".join(lines)
        width = max((len(d) for d in self.destinations), default=1)
        name = max((len(s) for s in self.sources), default=1)
        lines.append(" ".join(["-".ljust(name), *(d.center(width) for d in self.destinations)]))
        for source, row in zip(self.sources, self.rows, strict=True):
            lines.append(" ".join([source.ljust(name), *(c.center(width) for c in row)]))
        return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True, slots=True)
class Mismatch:
    source: str
    destination: str
    expected: Connectivity
    observed: Connectivity


@dataclass(frozen=True, slots=True)
class Comparison:
    """Expected vs observed: the cells that differ, and a table of ``.`` right / ``X`` wrong."""

    expected: TruthTable
    observed: TruthTable
    mismatches: tuple[Mismatch, ...]
    table: TruthTable

    @property
    def correct(self) -> int:
        return len(self.expected.sources) * len(self.expected.destinations) - len(self.mismatches)

    def summary(self) -> str:
        if not self.mismatches:
            return f"0 wrong, {self.correct} correct"
        return f"Discrepancy found: {len(self.mismatches)} wrong, {self.correct} correct"

    def render(self) -> str:
        """Expected, observed and the comparison side by side, then the summary line."""
        blocks = [
            ("expected", self.expected.render()),
            ("observed", self.observed.render()),
            ("comparison (. right, X wrong)", self.table.render()),
        ]
        return side_by_side(blocks) + "\n" + self.summary()


def compare(expected: TruthTable, observed: TruthTable) -> Comparison:
    """Cell-by-cell comparison of two tables over the same pods and port."""
    if (expected.sources, expected.destinations) != (observed.sources, observed.destinations):
        raise ValueError("the tables do not have the same sources and destinations")
    if expected.port != observed.port:
        raise ValueError(f"the tables are for different ports: {expected.port}, {observed.port}")
    mismatches = []
    rows = []
    for source, want, got in zip(expected.sources, expected.rows, observed.rows, strict=True):
        if want == got:
            rows.append("." * len(want))
            continue
        row = []
        for destination, a, b in zip(expected.destinations, want, got, strict=True):
            row.append("." if a == b else "X")
            if a != b:
                mismatches.append(Mismatch(source, destination, Connectivity(a), Connectivity(b)))
        rows.append("".join(row))
    table = TruthTable(
        expected.port, expected.sources, expected.destinations, tuple(rows), expected.view
    )
    return Comparison(expected, observed, tuple(mismatches), table)


def side_by_side(blocks: Iterable[tuple[str, str]], gap: int = 4) -> str:
    """Rendered tables next to each other, each under its heading."""
    columns = [[heading, *text.splitlines()] for heading, text in blocks]
    widths = [max(len(line) for line in column) for column in columns]
    height = max(len(column) for column in columns)
    lines = []
    for i in range(height):
        cells = [
            (column[i] if i < len(column) else "").ljust(width)
            for column, width in zip(columns, widths, strict=True)
        ]
        lines.append((" " * gap).join(cells).rstrip())
    return "\n".join(lines)


_ROW_GLYPHS = str.maketrans({"1": Connectivity.ALLOWED.value, "0": Connectivity.DENIED.value})


def _row(mask: int, size: int) -> str:
    return format(mask, f"0{size}b")[::-1].translate(_ROW_GLYPHS) if size else ""


def default_family(cluster: Cluster) -> int:
    """IPv4 when any pod has an IPv4 address, else IPv6 when any has one, else 4."""
    versions = {ip.version for pod in cluster.pods for ip in pod.ips}
    return 4 if 4 in versions or not versions else 6


def truth_tables(
    cluster: Cluster,
    ports: Iterable[PortProtocol],
    *,
    family: int | None = None,
    views: Iterable[TableView] = (TableView.COMBINED,),
    index: ClusterIndex | None = None,
) -> list[TruthTable]:
    """Pods x pods tables, for each port and then each view, as :func:`~.engine.evaluate` says."""
    family = family or default_family(cluster)
    if index is None or index.cluster is not cluster or index.family != family:
        index = ClusterIndex(cluster, family)
    names = tuple(str(pod.ref) for pod in cluster.pods)
    wanted = tuple(views)
    tables = []
    for port in ports:
        egress, ingress = _allowed_rows(index, port)
        size = index.size
        for view in wanted:
            if view is TableView.EGRESS:
                masks = egress
            elif view is TableView.INGRESS:
                masks = ingress
            else:
                masks = [e & i for e, i in zip(egress, ingress, strict=True)]
            rows = tuple(_row(mask, size) for mask in masks)
            tables.append(TruthTable(port, names, names, rows, view, family))
    return tables


def _allowed_rows(index: ClusterIndex, port: PortProtocol) -> tuple[list[int], list[int]]:
    """Per source pod, the destinations egress allows and the destinations whose ingress does."""
    protocol, number = port.protocol, port.port
    everyone = index.all
    egress_isolated = ingress_isolated = 0
    # Rectangles keyed by their rows (source masks); merged before they are spread over rows.
    egress_grants: dict[int, int] = {}
    ingress_grants: dict[int, int] = {}
    for policy in index.cluster.policies:
        selected = index.selected(policy)
        if not selected:
            continue
        if Direction.INGRESS in policy.policy_types:
            ingress_isolated |= selected
            for rule in policy.ingress:
                destinations = selected & index.rule_ports(rule, protocol, number)
                if destinations:
                    sources = index.rule_peers(policy, rule)
                    ingress_grants[sources] = ingress_grants.get(sources, 0) | destinations
        if Direction.EGRESS in policy.policy_types:
            egress_isolated |= selected
            for rule in policy.egress:
                ports = index.rule_ports(rule, protocol, number)
                destinations = index.rule_peers(policy, rule) & ports if ports else 0
                if destinations:
                    egress_grants[selected] = egress_grants.get(selected, 0) | destinations
    # Every source may reach destinations that are not isolated for ingress.
    ingress_base = everyone & ~ingress_isolated | ingress_grants.pop(everyone, 0)
    ingress = [ingress_base] * index.size
    for sources, destinations in ingress_grants.items():
        for i in bits(sources):
            ingress[i] |= destinations
    egress = [0 if egress_isolated >> i & 1 else everyone for i in range(index.size)]
    for sources, destinations in egress_grants.items():
        for i in bits(sources):
            egress[i] |= destinations
    return egress, ingress
