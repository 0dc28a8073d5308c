"""``evaluate(cluster, traffic) -> Verdict``: one connection, with the reasons.

Egress is decided at the source pod, ingress at the destination pod (rule 7 of :mod:`.model`).
For each side the verdict keeps the policies that isolate the pod and, for every rule of those
policies, whether the peer matched and whether the port matched, so a denial can say which rule
came closest and an allowance which rule allowed it (Cyclonus keeps allowing and denying targets
for the same reason).

This is the path for single questions (``policy explain``, verification expectations). Whole
truth tables go through :mod:`.table`, which computes the same thing for all pairs at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sctpctl.netpol.model import (
    Cluster,
    Direction,
    IPBlockPeer,
    NetworkPolicy,
    ObjectRef,
    Peer,
    Pod,
    Rule,
    RuleRef,
)
from sctpctl.netpol.traffic import Endpoint, Traffic


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """How one rule of an isolating policy compares with the traffic."""

    rule: RuleRef
    peer: int | None
    "Index of the first matching peer; ``None`` if none matched or the rule names no peers."
    port: int | None
    "Index of the first matching port entry; ``None`` if none matched or the rule names no ports."
    peer_matched: bool
    port_matched: bool

    @property
    def allows(self) -> bool:
        return self.peer_matched and self.port_matched


@dataclass(frozen=True, slots=True)
class DirectionVerdict:
    """The decision for one direction: egress at the source, or ingress at the destination."""

    direction: Direction
    subject: ObjectRef | None
    "The pod whose policies decide; ``None`` when that end is not a pod of the pod network."
    isolated_by: tuple[ObjectRef, ...] = ()
    "Policies in the subject's namespace that select it for this direction."
    checks: tuple[RuleCheck, ...] = ()
    "Every rule of the isolating policies, in policy and rule order."

    @property
    def applies(self) -> bool:
        return self.subject is not None

    @property
    def isolated(self) -> bool:
        return bool(self.isolated_by)

    @property
    def allowed_by(self) -> tuple[RuleCheck, ...]:
        return tuple(check for check in self.checks if check.allows)

    @property
    def allowed(self) -> bool:
        return not self.isolated_by or any(check.allows for check in self.checks)


@dataclass(frozen=True, slots=True)
class Verdict:
    traffic: Traffic
    egress: DirectionVerdict
    ingress: DirectionVerdict

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed


def evaluate(cluster: Cluster, traffic: Traffic) -> Verdict:
    """Whether ``traffic`` may flow under the cluster's NetworkPolicies, and why."""
    return Verdict(
        traffic=traffic,
        egress=_direction(cluster, traffic, Direction.EGRESS),
        ingress=_direction(cluster, traffic, Direction.INGRESS),
    )


def selecting_policies(cluster: Cluster, pod: Pod, direction: Direction) -> list[NetworkPolicy]:
    """The policies that isolate ``pod`` for ``direction`` (rules 1 to 3)."""
    return [p for p in cluster.policies_in(pod.namespace) if p.selects(pod, direction)]


def _direction(cluster: Cluster, traffic: Traffic, direction: Direction) -> DirectionVerdict:
    if direction is Direction.EGRESS:
        subject, other = traffic.source.policed_pod, traffic.destination
    else:
        subject, other = traffic.destination.policed_pod, traffic.source
    if subject is None:
        return DirectionVerdict(direction, None)
    isolating = selecting_policies(cluster, subject, direction)
    checks = []
    for policy in isolating:
        for number, rule in enumerate(policy.rules(direction)):
            checks.append(_check(cluster, policy, direction, number, rule, other, traffic))
    return DirectionVerdict(direction, subject.ref, tuple(p.ref for p in isolating), tuple(checks))


def _check(
    cluster: Cluster,
    policy: NetworkPolicy,
    direction: Direction,
    number: int,
    rule: Rule,
    other: Endpoint,
    traffic: Traffic,
) -> RuleCheck:
    peer = next(
        (i for i, p in enumerate(rule.peers) if peer_matches(cluster, policy, p, other)), None
    )
    port = next(
        (
            i
            for i, spec in enumerate(rule.ports)
            if spec.matches(traffic.protocol, traffic.port, traffic.destination.pod)
        ),
        None,
    )
    return RuleCheck(
        rule=RuleRef(policy.ref, direction, number),
        peer=peer,
        port=port,
        peer_matched=not rule.peers or peer is not None,
        port_matched=not rule.ports or port is not None,
    )


def peer_matches(cluster: Cluster, policy: NetworkPolicy, peer: Peer, other: Endpoint) -> bool:
    """Rule 5: whether ``peer`` of ``policy`` names the endpoint at the other end."""
    if isinstance(peer, IPBlockPeer):
        return peer.contains(other.address)
    pod = other.policed_pod
    if pod is None:
        return False
    if peer.namespace_selector is None:
        if pod.namespace != policy.namespace:
            return False
    elif not peer.namespace_selector.matches(cluster.namespace_labels(pod.namespace)):
        return False
    return peer.pod_selector.matches(pod.labels)
