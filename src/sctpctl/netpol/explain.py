"""Verdicts in words (``policy explain``) and as plain data (``-o json``, verification reports).

A verdict says, for each direction, one of:

- not policed: that end is not a pod of the pod network (an address outside the cluster's pods,
  or a host-network pod), so no NetworkPolicy applies there;
- not isolated: no policy in the pod's namespace selects it for that direction;
- allowed by a rule: which rule of which policy, and which of its peers and ports matched;
- denied: the policies that isolate the pod, and for each of their rules whether the peer and the
  port matched, so the rule that came closest is visible.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sctpctl.netpol.engine import DirectionVerdict, RuleCheck, Verdict
from sctpctl.netpol.model import Cluster, Direction, Rule
from sctpctl.netpol.traffic import Endpoint

_SIDE = {Direction.EGRESS: "source", Direction.INGRESS: "destination"}
_PEERS_KEY = {Direction.EGRESS: "to", Direction.INGRESS: "from"}


def explain(cluster: Cluster, verdict: Verdict) -> list[str]:
    """Lines of text: the answer first, then egress at the source, then ingress at the target."""
    traffic = verdict.traffic
    lines = [f"{'allowed' if verdict.allowed else 'denied'}: {traffic}"]
    for part, endpoint in (
        (verdict.egress, traffic.source),
        (verdict.ingress, traffic.destination),
    ):
        lines.append(
            f"{part.direction.value.lower()} at {_endpoint_name(endpoint)}: {reason(part)}"
        )
        for check in part.allowed_by[:1] if part.allowed else part.checks:
            lines.append(f"  {describe_check(cluster, check)}")
        if part.isolated and not part.allowed:
            for policy in part.isolated_by:
                if not any(check.rule.policy == policy for check in part.checks):
                    lines.append(f"  {policy}: no {part.direction.value.lower()} rules")
    return lines


def reason(part: DirectionVerdict) -> str:
    """One line: why this direction allows or denies."""
    direction = part.direction.value.lower()
    if part.subject is None:
        return f"allowed, not policed: the {_SIDE[part.direction]} is not a pod of the pod network"
    if not part.isolated:
        return (
            f"allowed, not isolated: no NetworkPolicy in namespace {part.subject.namespace} "
            f"selects {part.subject} for {direction}"
        )
    policies = _and(str(ref) for ref in part.isolated_by)
    if part.allowed:
        check = part.allowed_by[0]
        return f"allowed by {check.rule} (isolated by {policies})"
    if not part.checks:
        return f"denied: isolated by {policies}, with no {direction} rules"
    if len(part.checks) == 1:
        return f"denied: isolated by {policies}, and the only rule does not allow this"
    return f"denied: isolated by {policies}, and none of the {len(part.checks)} rules allows this"


def describe_check(cluster: Cluster, check: RuleCheck) -> str:
    """``policy direction[n]: peer matches (from[0] ...), port does not (SCTP 81)``."""
    policy = cluster.policy(check.rule.policy)
    rule = policy.rules(check.rule.direction)[check.rule.rule] if policy else Rule()
    key = _PEERS_KEY[check.rule.direction]
    if not rule.peers:
        peers = "any peer"
    elif check.peer is not None:
        peers = f"{key}[{check.peer}] {rule.peers[check.peer]}"
    else:
        peers = "; ".join(f"{key}[{i}] {peer}" for i, peer in enumerate(rule.peers))
    if not rule.ports:
        ports = "every port and protocol"
    elif check.port is not None:
        ports = f"ports[{check.port}] {rule.ports[check.port]}"
    else:
        ports = ", ".join(str(spec) for spec in rule.ports)
    peer_word = "matches" if check.peer_matched else "does not match"
    port_word = "matches" if check.port_matched else "does not match"
    return f"{check.rule}: peer {peer_word} ({peers}); port {port_word} ({ports})"


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """The JSON form: ``{"allowed", "traffic", "egress", "ingress"}``."""
    traffic = verdict.traffic
    return {
        "allowed": verdict.allowed,
        "traffic": {
            "protocol": traffic.protocol.value,
            "port": traffic.port,
            "from": _endpoint_to_dict(traffic.source),
            "to": _endpoint_to_dict(traffic.destination),
        },
        "egress": direction_to_dict(verdict.egress),
        "ingress": direction_to_dict(verdict.ingress),
    }


def direction_to_dict(part: DirectionVerdict) -> dict[str, Any]:
    return {
        "allowed": part.allowed,
        "pod": str(part.subject) if part.subject else None,
        "policed": part.applies,
        "isolated": part.isolated,
        "isolatedBy": [str(ref) for ref in part.isolated_by],
        "allowedBy": [_check_to_dict(check) for check in part.allowed_by],
        "rules": [_check_to_dict(check) for check in part.checks],
        "reason": reason(part),
    }


def _check_to_dict(check: RuleCheck) -> dict[str, Any]:
    return {
        "policy": str(check.rule.policy),
        "direction": check.rule.direction.value,
        "rule": check.rule.rule,
        "peerMatched": check.peer_matched,
        "portMatched": check.port_matched,
        "peer": check.peer,
        "port": check.port,
    }


def _endpoint_to_dict(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "pod": str(endpoint.pod.ref) if endpoint.pod else None,
        "address": str(endpoint.address) if endpoint.address else None,
    }


def _endpoint_name(endpoint: Endpoint) -> str:
    return str(endpoint.pod.ref) if endpoint.pod else str(endpoint.address)


def _and(items: Iterable[str]) -> str:
    names = list(items)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
