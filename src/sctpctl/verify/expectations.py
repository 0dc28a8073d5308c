"""Expectations from the NetworkPolicy engine, truth tables, and why a policy stopped traffic.

The policy checks do not say what they expect: :func:`live_cluster` reads the run's namespaces,
pods and NetworkPolicies as the API server has them, and :func:`sctpctl.netpol.evaluate` decides
each cell (Cyclonus' model, STYLE.md rule 13). A failed check prints the expected and observed
truth tables side by side. The same engine explains a connectivity check that was dropped: if a
policy denies that traffic, the diagnosis names it and what it does allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sctpctl.k8s.client import Obj
from sctpctl.netpol import (
    Cluster,
    ClusterError,
    Connectivity,
    Direction,
    DirectionVerdict,
    PortProtocol,
    Protocol,
    Traffic,
    TruthTable,
    cluster_from_objects,
    compare,
    evaluate,
    pod_endpoint,
)
from sctpctl.netpol.table import side_by_side
from sctpctl.outcomes import Outcome
from sctpctl.verify.context import PodRef, RunContext
from sctpctl.verify.model import (
    EXPECT_BLOCKED,
    EXPECT_OPEN,
    EXPECT_REACHABLE_TCP,
    ActionResult,
    Expectation,
)

NETWORK_POLICY = ("networking.k8s.io/v1", "NetworkPolicy")


async def live_cluster(ctx: RunContext, *, namespaces: Iterable[str] | None = None) -> Cluster:
    """The run's namespaces, their pods and their NetworkPolicies, as the cluster has them now."""
    wanted = tuple(namespaces or ctx.namespaces)
    objects: list[Obj] = []
    for name in wanted:
        objects.append(await ctx.client.get("v1", "Namespace", name))
    for name in wanted:
        objects += (await ctx.client.list("v1", "Pod", namespace=name)).items
        objects += (await ctx.client.list(*NETWORK_POLICY, namespace=name)).items
    return cluster_from_objects(objects)


def traffic(cluster: Cluster, source: PodRef, target: PodRef, port: int, protocol: str) -> Traffic:
    pods = {str(p.ref): p for p in cluster.pods}
    src, dst = pods.get(str(source)), pods.get(str(target))
    if src is None or dst is None:
        missing = source if src is None else target
        raise ClusterError(f"pod {missing} is not running")
    return Traffic(pod_endpoint(src), pod_endpoint(dst), Protocol(protocol), port)


def expectation(allowed: bool, protocol: str) -> Expectation:
    """What a probe to a policy check's server must find: SCTP has listeners there (``open``);
    TCP has none, so a reachable port answers with RST (``closed``)."""
    if not allowed:
        return EXPECT_BLOCKED
    return EXPECT_REACHABLE_TCP if protocol == "TCP" else EXPECT_OPEN


# --- why traffic was denied ---------------------------------------------------------------------


def _rule_summary(cluster: Cluster, part: DirectionVerdict) -> list[str]:
    """What the isolating policies allow, as ``SCTP/80`` or ``every port from <peers>``."""
    allowed: dict[str, None] = {}
    for ref in part.isolated_by:
        policy = cluster.policy(ref)
        if policy is None:
            continue
        for rule in policy.rules(part.direction):
            ports = [_port_text(str(spec)) for spec in rule.ports] or ["every port"]
            peers = " or ".join(str(peer) for peer in rule.peers)
            for port in ports:
                allowed[f"{port} from {peers}" if peers else port] = None
    return list(allowed)


def _port_text(text: str) -> str:
    protocol, _, port = text.partition(" ")
    return f"{protocol}/{port}" if port and port[0].isdigit() else text


def denial(cluster: Cluster, flow: Traffic) -> str | None:
    """``None`` when the policies allow ``flow``; else which policy isolates which end, and what
    it allows instead."""
    verdict = evaluate(cluster, flow)
    if verdict.allowed:
        return None
    part = verdict.ingress if not verdict.ingress.allowed else verdict.egress
    side = "server" if part.direction is Direction.INGRESS else "client"
    names = ", ".join(str(ref) for ref in part.isolated_by)
    allowed = _rule_summary(cluster, part)
    what = f"allows only {', '.join(allowed)}" if allowed else "allows nothing"
    if len(part.isolated_by) > 1:
        return f"NetworkPolicies ({names}) select the {side} and {what}"
    return f"a NetworkPolicy ({names}) selects the {side} and {what}"


# --- truth tables -------------------------------------------------------------------------------

_OBSERVED_GLYPH: Mapping[str, Connectivity] = {
    Outcome.OPEN.value: Connectivity.ALLOWED,
    Outcome.FILTERED.value: Connectivity.TIMEOUT,
    Outcome.REJECTED.value: Connectivity.DENIED,
    Outcome.CLOSED.value: Connectivity.ABORTED,
}


def observed_glyph(result: ActionResult) -> Connectivity:
    """The cell an observation fills: ``.`` reached, ``T`` no answer, ``X`` rejected, ``A``
    ABORT (for TCP, RST proves the port was reached: ``.``), ``!`` anything else."""
    word = result.observation.word
    if result.action.protocol == "TCP" and word == Outcome.CLOSED.value:
        return Connectivity.ALLOWED
    return _OBSERVED_GLYPH.get(word, Connectivity.CHECK_FAILED)


def _verdict_of(glyph: Connectivity) -> Connectivity:
    """Observed glyphs in the engine's two words, for the comparison: reached is allowed, no
    answer and rejected are denied; the rest stay what they are (and so never match)."""
    if glyph in (Connectivity.TIMEOUT, Connectivity.DENIED):
        return Connectivity.DENIED
    return glyph


def _cell(result: ActionResult | None, how: str) -> Connectivity:
    """One cell of the ``expected``, ``observed`` or ``verdict`` (observed, in two words) table."""
    if result is None:
        return Connectivity.UNKNOWN
    if how == "expected":
        blocked = result.action.expect is EXPECT_BLOCKED
        return Connectivity.DENIED if blocked else Connectivity.ALLOWED
    glyph = observed_glyph(result)
    return glyph if how == "observed" else _verdict_of(glyph)


def _table(
    port: PortProtocol,
    sources: Sequence[str],
    targets: Sequence[str],
    found: Mapping[tuple[str, str], ActionResult],
    how: str,
) -> TruthTable:
    rows = tuple("".join(_cell(found.get((s, t)), how).value for t in targets) for s in sources)
    return TruthTable(port, tuple(sources), tuple(targets), rows)


def truth_tables(results: Sequence[ActionResult]) -> list[str]:
    """Per port: expected, observed and right/wrong tables side by side, then the summary."""
    by_port: dict[tuple[int, str], dict[tuple[str, str], ActionResult]] = {}
    for result in results:
        if result.action.cell is not None:
            key = (result.action.port, result.action.protocol)
            by_port.setdefault(key, {})[result.action.cell] = result
    lines: list[str] = []
    for (port, protocol), found in sorted(by_port.items()):
        sources = tuple(dict.fromkeys(source for source, _ in found))
        targets = tuple(dict.fromkeys(target for _, target in found))
        port_protocol = PortProtocol(port, Protocol(protocol))
        expected, observed, verdict = (
            _table(port_protocol, sources, targets, found, how)
            for how in ("expected", "observed", "verdict")
        )
        comparison = compare(expected, verdict)
        blocks = [
            ("expected", expected.render(compact=False)),
            ("observed", observed.render(compact=False)),
            ("right (.) / wrong (X)", comparison.table.render(compact=False)),
        ]
        lines += side_by_side(blocks).splitlines()
        lines.append(comparison.summary())
    if lines:
        lines.append("observed: . reached, T no answer (filtered), X rejected, A ABORT, ! failed")
    return lines
