"""Rules about NetworkPolicies and SCTP.

Two facts of the NetworkPolicy API (networking.k8s.io/v1) drive them:

- a port entry without ``protocol`` means TCP, so ``ports: [{port: 30102}]`` does not allow
  SCTP to port 30102;
- a policy isolates the pods it selects for *every* protocol in its direction: a policy that
  allows only SCTP denies TCP and UDP to (or from) them, unless another policy allows it. The
  upstream e2e suite checks exactly this ("should properly isolate pods that are selected by a
  policy allowing SCTP, even if the plugin doesn't support SCTP").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sctpctl.manifests.findings import Finding, Rule, Severity, finding
from sctpctl.manifests.inventory import (
    DEFAULT_PROTOCOL,
    ContainerPort,
    Inventory,
    PodTemplate,
    dig,
    entries,
    is_int,
    namespace_of,
    selector_or_none,
)
from sctpctl.manifests.loader import Document
from sctpctl.manifests.rules.common import LintOptions
from sctpctl.netpol.selectors import Selector

NETPOL_PORT_PROTOCOL = Rule(
    "netpol-port-protocol",
    Severity.ERROR,
    "NetworkPolicy port without protocol on a port the pods serve only as SCTP",
    "A NetworkPolicy port entry without 'protocol' means TCP. When the pods behind it declare "
    "that port only as SCTP, the rule allows nothing they serve, and their SCTP traffic stays "
    "denied.",
)
NETPOL_SCTP_ONLY = Rule(
    "netpol-sctp-only",
    Severity.WARNING,
    "NetworkPolicy that allows only SCTP also isolates TCP and UDP",
    "Selecting a pod isolates it for every protocol in the policy's direction. A policy whose "
    "rules allow only SCTP therefore denies the TCP and UDP ports the pods also serve (ingress), "
    "or DNS and every TCP connection they open (egress), unless another policy allows them.",
)

DIRECTIONS = (("Ingress", "ingress", "from"), ("Egress", "egress", "to"))


def check_netpol_port_protocol(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for policy in inventory.of_kind("NetworkPolicy"):
        selected = _selected(inventory, policy)
        for _, field, peers_field in DIRECTIONS:
            for rule_path, rule in entries(policy.obj, ("spec", field)):
                for port_path, entry in entries(rule, ("ports",)):
                    port = entry.get("port")
                    if "protocol" in entry or port is None or "endPort" in entry:
                        continue
                    if field == "ingress":
                        targets = selected
                    else:
                        targets = _peer_templates(inventory, policy, rule.get(peers_field))
                    sctp_only = [t for t in targets if t.protocols_of(port) == {"SCTP"}]
                    if not sctp_only:
                        continue
                    names = ", ".join(t.describe() for t in sctp_only)
                    yield finding(
                        NETPOL_PORT_PROTOCOL,
                        policy,
                        (*rule_path, *port_path, "port"),
                        f"port {port!r} has no protocol, which means TCP, but {names} "
                        f"serve{'s' if len(sctp_only) == 1 else ''} {port!r} only as SCTP: "
                        "SCTP to it stays denied",
                        "add protocol: SCTP to this port entry (and keep a second entry "
                        "with protocol: TCP if TCP is meant as well)",
                    )


def check_netpol_sctp_only(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    policies = list(inventory.of_kind("NetworkPolicy"))
    # which policies select each pod template: computed once, the input may be large
    selecting: dict[int, list[Document]] = {}
    for policy in policies:
        for template in _selected(inventory, policy):
            selecting.setdefault(id(template), []).append(policy)
    for policy in policies:
        for policy_type, field, _ in DIRECTIONS:
            if policy_type not in policy_types(policy) or not _allows_only_sctp(policy, field):
                continue
            if field == "ingress":
                yield from _sctp_only_ingress(inventory, policy, selecting)
            else:
                others = [
                    p
                    for p in policies
                    if p is not policy
                    and namespace_of(p) == namespace_of(policy)
                    and policy_type in policy_types(p)
                ]
                yield from _sctp_only_egress(policy, others)


def policy_types(policy: Document) -> set[str]:
    """The directions a policy isolates (the API's defaulting when policyTypes is omitted)."""
    declared = dig(policy.obj, ("spec", "policyTypes"))
    if isinstance(declared, list):
        return {str(t) for t in declared}
    types = {"Ingress"}
    if dig(policy.obj, ("spec", "egress")):
        types.add("Egress")
    return types


def _sctp_only_ingress(
    inventory: Inventory, policy: Document, selecting: Mapping[int, list[Document]]
) -> Iterator[Finding]:
    blocked: list[str] = []
    for template in _selected(inventory, policy):
        covering = [
            o
            for o in selecting.get(id(template), [])
            if o is not policy and "Ingress" in policy_types(o)
        ]
        for port in template.ports:
            if port.protocol == "SCTP":
                continue
            if not any(_allows(o, "ingress", port) for o in covering):
                blocked.append(f"{template.describe()} {port.protocol}/{port.number}")
    if blocked:
        yield finding(
            NETPOL_SCTP_ONLY,
            policy,
            ("spec", "ingress"),
            "this policy allows only SCTP ingress, so it also denies "
            + ", ".join(blocked)
            + " (no other policy in the input allows it)",
            "add a rule (or a policy) that allows the TCP/UDP ports those pods must keep "
            "serving, or narrow podSelector to the SCTP pods",
        )


def _sctp_only_egress(policy: Document, others: list[Document]) -> Iterator[Finding]:
    own = dig(policy.obj, ("spec", "podSelector")) or {}
    for other in others:
        selector = dig(other.obj, ("spec", "podSelector")) or {}
        if (selector in ({}, own)) and _allows_non_sctp(other, "egress"):
            return
    yield finding(
        NETPOL_SCTP_ONLY,
        policy,
        ("spec", "egress"),
        "this policy allows only SCTP egress, so the pods it selects can no longer resolve "
        "names (DNS is UDP and TCP port 53) or open any TCP connection",
        "add an egress rule for DNS (UDP and TCP 53 to the cluster DNS) and any TCP the pods "
        "need, or narrow podSelector",
    )


def _allows_only_sctp(policy: Document, field: str) -> bool:
    rules = dig(policy.obj, ("spec", field))
    if not isinstance(rules, list) or not rules:
        return False
    for rule in rules:
        ports = rule.get("ports") if isinstance(rule, Mapping) else None
        if not isinstance(ports, list) or not ports:
            return False  # a rule without ports allows every protocol
        if any(not isinstance(p, Mapping) or p.get("protocol") != "SCTP" for p in ports):
            return False
    return True


def _allows_non_sctp(policy: Document, field: str) -> bool:
    return _some_rule_allows(policy, field, lambda e: e.get("protocol", DEFAULT_PROTOCOL) != "SCTP")


def _allows(policy: Document, field: str, port: ContainerPort) -> bool:
    """Whether some rule of ``policy`` lets traffic to ``port`` through (peers aside)."""
    return _some_rule_allows(policy, field, lambda e: _entry_matches(e, port))


def _some_rule_allows(
    policy: Document, field: str, entry_allows: Callable[[Mapping[str, Any]], bool]
) -> bool:
    """Whether a rule has no ports (it allows every port) or a port entry that ``entry_allows``."""
    rules = dig(policy.obj, ("spec", field))
    if not isinstance(rules, list):
        return False
    for rule in rules:
        ports = rule.get("ports") if isinstance(rule, Mapping) else None
        if not ports:
            return True
        if any(isinstance(p, Mapping) and entry_allows(p) for p in ports):
            return True
    return False


def _entry_matches(entry: Mapping[str, Any], port: ContainerPort) -> bool:
    if entry.get("protocol", DEFAULT_PROTOCOL) != port.protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return port.name == wanted
    end = entry.get("endPort", wanted)
    return is_int(port.number) and is_int(wanted) and is_int(end) and wanted <= port.number <= end


def _selected(inventory: Inventory, policy: Document) -> list[PodTemplate]:
    selector = selector_or_none(
        Selector.from_label_selector, dig(policy.obj, ("spec", "podSelector"))
    )
    if selector is None:
        return []
    return inventory.templates_in(namespace_of(policy), selector)


def _peer_templates(inventory: Inventory, policy: Document, peers: Any) -> list[PodTemplate]:
    if not isinstance(peers, list):
        return []
    found: list[PodTemplate] = []
    for peer in peers:
        if isinstance(peer, Mapping):
            found.extend(
                t
                for t in inventory.templates_for_peer(peer, namespace_of(policy))
                if t not in found
            )
    return found
