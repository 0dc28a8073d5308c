"""NetworkPolicy enforcement on a node: nftables rules compiled from the policy engine.

The engine (:func:`sctpctl.netpol.compile_cluster`) already decided every Kubernetes question:
which pods are isolated in which direction, and the address blocks, protocols and port ranges
each may exchange. :func:`policy_ruleset` only writes that down for the pods of one node, on the
pod's own veth (every pod packet crosses its node's forward path, because pod veths are routed):

- ``iifname <pod veth>`` (the pod sends): the pod's egress chain, when it is isolated for egress;
- ``oifname <pod veth>`` (the pod receives): its ingress chain, when isolated for ingress;
- each chain ``return`` s for traffic an allow matches (so a packet between two pods of one node
  meets both the sender's egress and the receiver's ingress) and drops the rest;
- replies and ICMP errors of allowed connections pass (``ct state established,related``),
  as in every CNI; packets a node itself sends (hostNetwork pods) meet the ingress chains in the
  output hook.

Rules see addresses after the service proxy's DNAT (prerouting) and before its masquerade
(postrouting), so a policy applies to the pod behind a ClusterIP, as Kubernetes specifies.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sctpctl.host.commands import nft
from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.kinds import resource
from sctpctl.lab.plan import pod_veth_name
from sctpctl.lab.registry import Registry
from sctpctl.netpol import (
    CompiledPod,
    InvalidObject,
    ObjectRef,
    cluster_from_objects,
    compile_cluster,
)
from sctpctl.netpol.compiled import Allow, DirectionRules

log = logging.getLogger(__name__)

TABLE = "sctpctl_policy"
PODS = resource("pods")
NAMESPACES = resource("namespaces")
POLICIES = resource("networkpolicies", "networking.k8s.io")


def _address_elements(allow: Allow) -> list[str]:
    elements: list[str] = []
    for block in allow.peers or ():
        if block.version != 4:
            continue
        for first, last in block.intervals():
            low, high = ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)
            elements.append(str(low) if first == last else f"{low}-{high}")
    return elements


def _rule(allow: Allow, address_field: str) -> str | None:
    """One allow as an nft rule that ``return`` s; ``None`` when it can match nothing here."""
    parts = []
    if allow.peers is not None:
        elements = _address_elements(allow)
        if not elements:
            return None
        parts.append(f"ip {address_field} {{ {', '.join(elements)} }}")
    if allow.protocol is not None:
        proto = allow.protocol.value.lower()
        parts.append(f"meta l4proto {proto}")
        if allow.ports is not None:
            ports = ", ".join(str(p) for p in allow.ports)
            parts.append(f"th dport {{ {ports} }}")
    parts.append(f'return comment "{allow.rule}"')
    return " ".join(parts)


def _chain(name: str, rules: DirectionRules, address_field: str) -> str:
    lines = [r for a in rules.allows if (r := _rule(a, address_field)) is not None]
    policies = ", ".join(str(p) for p in rules.policies)
    lines.append(f'drop comment "isolated by {policies}"')
    return f"\tchain {name} {{\n" + "".join(f"\t\t{line}\n" for line in lines) + "\t}"


def policy_ruleset(compiled: Sequence[CompiledPod], interfaces: Mapping[ObjectRef, str]) -> str:
    """The nftables file for one node: deletes and redefines the policy table atomically.
    ``interfaces`` names the node side of each pod's veth."""
    forward: list[str] = []
    output: list[str] = []
    chains: list[str] = []
    for index, pod in enumerate(compiled):
        interface = interfaces.get(pod.pod)
        if interface is None:
            continue
        if pod.egress.isolated:
            chains.append(_chain(f"egress{index}", pod.egress, "daddr"))
            forward.append(f'iifname "{interface}" jump egress{index} comment "{pod.pod}"')
        if pod.ingress.isolated:
            chains.append(_chain(f"ingress{index}", pod.ingress, "saddr"))
            forward.append(f'oifname "{interface}" jump ingress{index} comment "{pod.pod}"')
            output.append(f'oifname "{interface}" jump ingress{index} comment "{pod.pod}"')
    established = "ct state established,related accept"
    lines = [
        f"add table ip {TABLE}",
        f"delete table ip {TABLE}",
        f"table ip {TABLE} {{",
        "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
        f"\t\t{established}\n" + "".join(f"\t\t{rule}\n" for rule in forward) + "\t}",
        "\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n"
        f"\t\t{established}\n" + "".join(f"\t\t{rule}\n" for rule in output) + "\t}",
        *chains,
        "}",
    ]
    return "\n".join(lines) + "\n"


def node_ruleset(
    node: str,
    namespaces: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    policies: Iterable[Mapping[str, Any]],
) -> str:
    """Read the objects, compile them for ``node`` and write the rules."""
    policies = list(policies)
    if not policies:
        return policy_ruleset((), {})  # nothing is isolated: no need to read every pod
    pods = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    cluster = cluster_from_objects([*namespaces, *pods, *policies])
    interfaces = {
        ObjectRef(p["metadata"]["namespace"], p["metadata"]["name"]): pod_veth_name(
            p["metadata"]["uid"]
        )
        for p in pods
        if (p.get("spec") or {}).get("nodeName") == node
    }
    return policy_ruleset(compile_cluster(cluster, node=node), interfaces)


class PolicyController:
    """Keeps one node's policy table equal to :func:`node_ruleset` of the current objects.

    It also answers the kubelet's question "are the rules in force for what the API holds
    now?" (:meth:`wait_applied`), so containers start only behind their pod's rules, as a CNI
    that programs policy before the pod's network is handed over.
    """

    def __init__(self, registry: Registry, *, node: str, netns: str) -> None:
        self.registry = registry
        self.node = node
        self.netns = netns
        self.loaded: str | None = None
        self.applied = -1
        "The resourceVersion the rules in force were computed at."
        self._applied_changed = asyncio.Condition()

    async def wait_applied(self, resource_version: int) -> None:
        """Return once rules computed from objects at least as new as ``resource_version``
        are loaded."""
        async with self._applied_changed:
            await self._applied_changed.wait_for(lambda: self.applied >= resource_version)

    async def run(self) -> None:
        await reconcile_loop(
            self.registry,
            (PODS, NAMESPACES, POLICIES),
            self.sync,
            name=f"policy-{self.node}",
            settle=0.02,
        )

    async def sync(self) -> None:
        registry = self.registry
        # The registry's reads do not yield, so the lists below all see this version.
        seen = registry.store.resource_version
        try:
            ruleset = node_ruleset(
                self.node,
                registry.peek(NAMESPACES),
                registry.peek(PODS),
                registry.peek(POLICIES),
            )
        except InvalidObject as error:
            # The API server validated these objects; keep the rules in force until the
            # objects read again.
            log.warning("policy on %s: %s", self.node, error)
            return
        if ruleset != self.loaded:
            await asyncio.to_thread(nft, ruleset, netns=self.netns)
            self.loaded = ruleset
        async with self._applied_changed:
            self.applied = max(self.applied, seen)
            self._applied_changed.notify_all()
