"""The catalogue: every check ``sctpctl verify`` knows, in the order it reports them.

One explicit tuple (like the list in cilium's connectivity ``builder.go``), so what is verified
can be read in one place; ``--test REGEX`` selects by name (``!REGEX`` leaves out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sctpctl.verify import perf, policies, scenarios
from sctpctl.verify.context import RunContext
from sctpctl.verify.expectations import truth_tables
from sctpctl.verify.model import ActionResult, Check, Feature

SCTP = frozenset({Feature.SCTP_NODE})


async def _tables(_ctx: RunContext, results: Sequence[ActionResult]) -> list[str]:
    return truth_tables(results)


def _policy_check(
    name: str, summary: str, applied: policies.PolicySet, ports: Sequence[tuple[int, str]]
) -> Check:
    return Check(
        name,
        summary,
        scenarios.policy_matrix(ports),
        requires=SCTP,
        policies=applied,
        settle=True,
        diagnose=_tables,
    )


CATALOGUE: tuple[Check, ...] = (
    Check(
        "module-state",
        "the sctp module is loaded on every selected node (as sctpctl status reads it)",
        scenarios.module_state,
        deploys=False,
    ),
    Check(
        "negative-no-sctp",
        "on a node without SCTP the server cannot listen and an INIT gets protocol-unreachable",
        scenarios.negative,
        requires=frozenset({Feature.NODE_WITHOUT_SCTP}),
    ),
    Check(
        "pod-to-pod-same-node",
        "a client reaches the server pod on the same node, and the echo comes back",
        scenarios.pod_to_pod_same_node,
        requires=SCTP,
        settle=True,
    ),
    Check(
        "pod-to-pod-cross-node",
        "a client on another node reaches the server pod, and the echo comes back",
        scenarios.pod_to_pod_cross_node,
        requires=frozenset({Feature.TWO_SCTP_NODES}),
        settle=True,
    ),
    Check(
        "pod-to-clusterip",
        "a client reaches the server through the Service's ClusterIP (the procedure's test)",
        scenarios.pod_to_cluster_ip,
        requires=SCTP,
        settle=True,
    ),
    Check(
        "pod-to-nodeport",
        "a client reaches the server through the NodePort on every node address",
        scenarios.pod_to_node_port,
        requires=SCTP,
        settle=True,
    ),
    Check(
        "host-to-nodeport",
        "a pod on a node's host network reaches the server through the NodePort",
        scenarios.host_to_node_port,
        requires=SCTP,
        settle=True,
    ),
    Check(
        "hairpin",
        "the server reaches itself through its own Service",
        scenarios.hairpin,
        requires=SCTP,
        settle=True,
    ),
    Check(
        "messages",
        "streams, unordered delivery, PPIDs and 64 KiB messages survive the round trip",
        scenarios.messages,
        requires=SCTP,
        settle=True,
    ),
    _policy_check(
        "netpol-no-policy",
        "without policies every source reaches web on SCTP 80 and 81 and TCP 81",
        policies.no_policy,
        scenarios.WITH_TCP,
    ),
    _policy_check(
        "netpol-allow-sctp-on-http",
        "the procedure's allow-sctp-on-http: web takes SCTP 80 from anyone, nothing else",
        policies.allow_sctp_on_http,
        scenarios.SCTP_PORTS,
    ),
    _policy_check(
        "netpol-default-deny-ingress",
        "default-deny-ingress: nothing reaches the policy namespace",
        policies.default_deny_ingress,
        scenarios.SCTP_PORTS,
    ),
    _policy_check(
        "netpol-allow-by-port",
        "SCTP 81 is allowed from the main namespace only; 80 is denied to all",
        policies.allow_port_from_namespace,
        scenarios.SCTP_PORTS,
    ),
    _policy_check(
        "netpol-deny-by-port",
        "a port range (SCTP 81-82) that leaves 80 out: 80 is denied, 81 allowed",
        policies.allow_other_ports,
        scenarios.SCTP_PORTS,
    ),
    _policy_check(
        "netpol-namespace-and-pod-selector",
        "only clients (pod selector) of the main namespace (namespace selector) reach SCTP 80",
        policies.allow_clients_of_main,
        scenarios.SCTP_PORTS,
    ),
    _policy_check(
        "netpol-sctp-only-isolates-tcp",
        "a policy that allows only SCTP still isolates TCP",
        policies.allow_sctp_only,
        scenarios.WITH_TCP,
    ),
    Check(
        "perf",
        "throughput and latency from the client to a perf server on another node (--perf)",
        perf.scenario,
        requires=frozenset({Feature.PERF, Feature.SCTP_NODE}),
        alone=True,
        figures=True,
    ),
)


def select(patterns: Iterable[str], catalogue: Sequence[Check] = CATALOGUE) -> list[Check]:
    """The checks ``--test`` patterns select: a check runs if it matches any pattern that does
    not start with ``!`` (or there are none) and matches no ``!`` pattern. ``re.search``."""
    include: list[re.Pattern[str]] = []
    exclude: list[re.Pattern[str]] = []
    for pattern in patterns:
        for part in (p.strip() for p in pattern.split(",")):
            if not part:
                continue
            try:
                compiled = re.compile(part.removeprefix("!"))
            except re.error as error:
                raise ValueError(f"--test {part!r} is not a regular expression: {error}") from None
            (exclude if part.startswith("!") else include).append(compiled)
    chosen = [
        check
        for check in catalogue
        if (not include or any(p.search(check.name) for p in include))
        and not any(p.search(check.name) for p in exclude)
    ]
    if not chosen:
        raise ValueError("--test selects no check; `sctpctl verify --list` shows them")
    return chosen
