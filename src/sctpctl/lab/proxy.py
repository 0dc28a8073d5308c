"""The service proxy of a node: nftables DNAT for ClusterIPs and NodePorts, as kube-proxy does.

:func:`proxy_ruleset` turns Services and EndpointSlices into one nftables table for one node
(pure; golden-tested, and loaded into a namespace by the tests). :class:`ProxyController` loads
it into the node's namespace with ``nft -f``: the file deletes and redefines the whole table, so
every update is one atomic transaction and a packet never sees half a ruleset.

Per Service port, protocol-exact (``sctp``/``tcp``/``udp`` ``dport``):

- ``ClusterIP:port`` on every node, and ``<this node's address>:nodePort`` for NodePort and
  LoadBalancer Services (a LoadBalancer stays pending: the lab has no load balancer);
- a random choice among the ready endpoints (``numgen random mod N``), then ``dnat`` to
  ``podIP:targetPort``;
- masquerade where the return path needs it: hairpin (a pod reaching itself through its own
  Service), every NodePort connection (the endpoint may be on another node, and the reply must
  come back through this one), and ClusterIP traffic from outside the pod network (a hostNetwork
  process);
  ``externalTrafficPolicy: Local`` NodePorts use only this node's endpoints and keep the client
  address;
- a Service port without ready endpoints is rejected (ICMP port unreachable), as kube-proxy does:
  NodePorts where the node receives them, ClusterIPs where they would be forwarded or leave the
  node; so is any other address of the service network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sctpctl.host.commands import nft
from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.endpoints import SERVICE_NAME_LABEL, SLICES
from sctpctl.lab.kinds import resource
from sctpctl.lab.registry import Registry

log = logging.getLogger(__name__)

SERVICES = resource("services")
TABLE = "sctpctl_proxy"
MASQUERADE_MARK = 0x4000
PROTOCOLS = {"SCTP": "sctp", "TCP": "tcp", "UDP": "udp"}


@dataclass(frozen=True, slots=True)
class Frontend:
    """One address:port a Service answers on."""

    address: str
    port: int
    protocol: str
    node_port: bool


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One port of one Service, with its ready endpoints on this node's view."""

    ref: str
    "``namespace/name:port`` (for comments)."
    frontends: tuple[Frontend, ...]
    endpoints: tuple[tuple[str, int], ...]
    "(podIP, port) of every ready endpoint, sorted."
    local_endpoints: tuple[tuple[str, int], ...]
    "The endpoints on this node (``externalTrafficPolicy: Local``)."
    local_only_node_port: bool


def _ready_endpoints(
    slices: Iterable[Mapping[str, Any]], port: Mapping[str, Any], node: str
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    name, protocol = port.get("name", ""), port.get("protocol", "TCP")
    everywhere: set[tuple[str, int]] = set()
    here: set[tuple[str, int]] = set()
    for slice_ in slices:
        numbers = [
            p.get("port")
            for p in slice_.get("ports") or []
            if p.get("name", "") == name and p.get("protocol", "TCP") == protocol
        ]
        if not numbers or not isinstance(numbers[0], int):
            continue
        for endpoint in slice_.get("endpoints") or []:
            if not (endpoint.get("conditions") or {}).get("ready"):
                continue
            for address in endpoint.get("addresses") or []:
                everywhere.add((address, numbers[0]))
                if endpoint.get("nodeName") == node:
                    here.add((address, numbers[0]))
    return sorted(everywhere), sorted(here)


def service_ports(
    services: Iterable[Mapping[str, Any]],
    slices: Iterable[Mapping[str, Any]],
    *,
    node: str,
    node_address: str,
) -> list[ServicePort]:
    by_service: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for slice_ in slices:
        meta = slice_["metadata"]
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault((meta["namespace"], owner), []).append(slice_)
    found = []
    for service in sorted(
        services, key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])
    ):
        meta, spec = service["metadata"], service.get("spec") or {}
        kind = spec.get("type", "ClusterIP")
        if kind == "ExternalName":
            continue
        cluster_ip = spec.get("clusterIP")
        local = spec.get("externalTrafficPolicy") == "Local"
        own_slices = by_service.get((meta["namespace"], meta["name"]), [])
        for port in spec.get("ports") or []:
            protocol = port.get("protocol", "TCP")
            if protocol not in PROTOCOLS:
                continue
            frontends = []
            if cluster_ip and cluster_ip != "None":
                frontends.append(Frontend(cluster_ip, int(port["port"]), protocol, False))
            if kind in ("NodePort", "LoadBalancer") and port.get("nodePort"):
                frontends.append(Frontend(node_address, int(port["nodePort"]), protocol, True))
            if not frontends:
                continue
            everywhere, here = _ready_endpoints(own_slices, port, node)
            label = port.get("name") or str(port.get("port"))
            found.append(
                ServicePort(
                    f"{meta['namespace']}/{meta['name']}:{label}",
                    tuple(frontends),
                    tuple(everywhere),
                    tuple(here),
                    local,
                )
            )
    return found


def _dispatch(chain: str, targets: Sequence[str]) -> str:
    if len(targets) == 1:
        return f"jump {targets[0]}"
    cases = ", ".join(f"{i} : jump {t}" for i, t in enumerate(targets))
    return f"numgen random mod {len(targets)} vmap {{ {cases} }}"


def proxy_ruleset(
    services: Iterable[Mapping[str, Any]],
    slices: Iterable[Mapping[str, Any]],
    *,
    node: str,
    node_address: str,
    pod_network: str,
    service_network: str,
) -> str:
    """The nftables file for one node: deletes and redefines the proxy table atomically."""
    ports = service_ports(services, slices, node=node, node_address=node_address)
    ipaddress.ip_network(pod_network)  # a bad plan fails here, not in nft
    mark = f"meta mark set meta mark | {MASQUERADE_MARK:#x}"
    dispatch: list[str] = []
    rejects: list[str] = []
    chains: list[str] = []
    for index, port in enumerate(ports):
        for frontend in port.frontends:
            proto = PROTOCOLS[frontend.protocol]
            match = f"ip daddr {frontend.address} {proto} dport {frontend.port}"
            local = frontend.node_port and port.local_only_node_port
            endpoints = port.local_endpoints if local else port.endpoints
            if not endpoints:
                rejects.append(f'{match} reject comment "{port.ref} has no endpoints"')
                continue
            chain = f"svc{index}{'_np' if frontend.node_port else ''}{'_local' if local else ''}"
            dispatch.append(f'{match} jump {chain} comment "{port.ref}"')
            targets = []
            for number, (address, target_port) in enumerate(endpoints):
                endpoint_chain = f"{chain}_ep{number}"
                targets.append(endpoint_chain)
                chains.append(
                    f"\tchain {endpoint_chain} {{\n"
                    f"\t\tip saddr {address} {mark}\n"
                    f"\t\tmeta l4proto {proto} dnat to {address}:{target_port}\n"
                    "\t}"
                )
            body = []
            if frontend.node_port and not local:
                # kube-proxy masquerades all NodePort traffic: the endpoint may sit on another
                # node, and its reply must come back through this one.
                body.append(f"\t\t{mark}")
            elif not local:
                body.append(f"\t\tip saddr != {pod_network} {mark}")
            body.append(f"\t\t{_dispatch(chain, targets)}")
            chains.append(f"\tchain {chain} {{\n" + "\n".join(body) + "\n\t}")
    lines = [
        f"add table ip {TABLE}",
        f"delete table ip {TABLE}",
        f"table ip {TABLE} {{",
        "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tjump services\n\t}",
        "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tjump services\n\t}",
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        f"\t\tmeta mark & {MASQUERADE_MARK:#x} == {MASQUERADE_MARK:#x} masquerade\n\t}}",
        "\tchain services {\n" + "".join(f"\t\t{rule}\n" for rule in dispatch) + "\t}",
        *(_reject_chain(hook, rejects, service_network) for hook in ("input", "forward", "output")),
        *chains,
        "}",
    ]
    return "\n".join(lines) + "\n"


def _reject_chain(hook: str, rejects: Sequence[str], service_network: str) -> str:
    """Rejects for Service ports without endpoints: NodePorts arrive at the node (input);
    ClusterIPs would be forwarded (pods) or leave the node (its own processes), so there every
    other address of the service network is refused too."""
    rules = list(rejects)
    if hook != "input":
        rules.append(f'ip daddr {service_network} reject comment "no such service port"')
    return (
        f"\tchain reject_{hook} {{\n\t\ttype filter hook {hook} priority filter; policy accept;\n"
        + "".join(f"\t\t{rule}\n" for rule in rules)
        + "\t}"
    )


class ProxyController:
    """Keeps one node's proxy table equal to :func:`proxy_ruleset` of the current objects."""

    def __init__(
        self,
        registry: Registry,
        *,
        node: str,
        netns: str,
        node_address: str,
        pod_network: str,
        service_network: str,
    ) -> None:
        self.registry = registry
        self.node = node
        self.netns = netns
        self.node_address = node_address
        self.pod_network = pod_network
        self.service_network = service_network
        self.loaded: str | None = None

    async def run(self) -> None:
        # A short settle turns a burst of changes into one load.
        await reconcile_loop(
            self.registry, (SERVICES, SLICES), self.sync, name=f"proxy-{self.node}", settle=0.02
        )

    async def sync(self) -> None:
        services = self.registry.peek(SERVICES)
        slices = self.registry.peek(SLICES)
        ruleset = proxy_ruleset(
            services,
            slices,
            node=self.node,
            node_address=self.node_address,
            pod_network=self.pod_network,
            service_network=self.service_network,
        )
        if ruleset != self.loaded:
            await asyncio.to_thread(nft, ruleset, netns=self.netns)
            self.loaded = ruleset
