"""The lab's network plan as data: names, addresses, routes (DESIGN.md section 5).

Pure: nothing here touches the kernel. The controllers turn these plans into ``ip`` batches and
nftables text through :mod:`sctpctl.host`.

Layout::

    <prefix>-fabric     bridge "br0" for the machine network 198.18.0.0/24, one port per host
    <prefix>-node-<n>   node i: eth0 = 198.18.0.10+i/24, ip_forward, one routed veth per pod,
                        a route to every other node's pod /23 via that node's machine address
    <prefix>-ext        the "external" host: eth0 = 198.18.0.200/24
    <prefix>-pod-<uid>  a pod: eth0 = its /32, "169.254.1.1 dev eth0", "default via 169.254.1.1"

A pod's veth has no bridge: the node side holds 169.254.1.1/32 with proxy ARP and a /32 route
to the pod, so every packet of a pod crosses its node's routing and nftables. Namespace names
carry the lab's prefix (``sctplab-<id>``), so two labs, or a lab and the tests, never collide;
interface names are short and live inside the namespaces, so they need no prefix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NAMESPACE_PREFIX = "sctplab-"
MACHINE_NETWORK = ipaddress.ip_network("198.18.0.0/24")
POD_NETWORK = ipaddress.ip_network("10.128.0.0/14")
POD_PREFIX = 23
"Each node gets one /23 of the pod network (OpenShift's default hostPrefix)."
SERVICE_NETWORK = "172.30.0.0/16"
NODE_ADDRESS_BASE = 10
"Node i has the machine address .10+i."
EXTERNAL_ADDRESS = ipaddress.ip_address("198.18.0.200")
GATEWAY = "169.254.1.1"
"The next hop every pod routes through: the node side of its veth."
MAX_NODES = 100


class PlanError(ValueError):
    """A topology the lab cannot build (too many nodes, a bad name)."""


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    role: str
    "``master`` or ``worker``."
    index: int
    address: str
    "Machine address (InternalIP)."
    pod_cidr: str
    netns: str
    fabric_port: str
    "The node's port on the fabric bridge (in the fabric namespace)."

    @property
    def gateway_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.pod_cidr)


@dataclass(frozen=True, slots=True)
class LabPlan:
    lab_id: str
    nodes: tuple[NodePlan, ...]

    @property
    def prefix(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.lab_id}"

    @property
    def fabric_netns(self) -> str:
        return f"{self.prefix}-fabric"

    @property
    def external_netns(self) -> str:
        return f"{self.prefix}-ext"

    @property
    def external_address(self) -> str:
        return str(EXTERNAL_ADDRESS)

    def node(self, name: str) -> NodePlan:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def pod_netns(self, uid: str) -> str:
        return f"{self.prefix}-pod-{uid[:13]}"

    def owns(self, netns: str) -> bool:
        """Whether a namespace name belongs to this lab."""
        return netns.startswith(self.prefix + "-")

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The infrastructure namespaces (fabric, nodes, external), in creation order."""
        return (self.fabric_netns, *(n.netns for n in self.nodes), self.external_netns)


def make_plan(lab_id: str, *, masters: int, workers: int) -> LabPlan:
    """``master-0..``, then ``worker-0..``; node i gets .10+i and the i-th /23."""
    if not lab_id.isalnum() or len(lab_id) > 8:
        raise PlanError(f"lab id {lab_id!r} must be 1-8 letters or digits")
    if masters < 0 or workers < 0 or masters + workers == 0:
        raise PlanError("a lab needs at least one node")
    if masters + workers > MAX_NODES:
        raise PlanError(f"a lab has at most {MAX_NODES} nodes")
    prefix = f"{NAMESPACE_PREFIX}{lab_id}"
    subnets = POD_NETWORK.subnets(new_prefix=POD_PREFIX)
    names = [("master", f"master-{i}") for i in range(masters)]
    names += [("worker", f"worker-{i}") for i in range(workers)]
    nodes = []
    for index, ((role, name), subnet) in enumerate(zip(names, subnets, strict=False)):
        nodes.append(
            NodePlan(
                name=name,
                role=role,
                index=index,
                address=str(MACHINE_NETWORK[NODE_ADDRESS_BASE + index]),
                pod_cidr=str(subnet),
                netns=f"{prefix}-node-{name}",
                fabric_port=f"n{index}",
            )
        )
    return LabPlan(lab_id, tuple(nodes))


# --- ip batches ---------------------------------------------------------------------------------


def fabric_lines(plan: LabPlan) -> list[str]:
    """The fabric namespace: a bridge, and each host's port attached and up."""
    lines = ["link add br0 type bridge", "link set br0 up"]
    for port in [n.fabric_port for n in plan.nodes] + ["ext"]:
        lines += [f"link set {port} master br0", f"link set {port} up"]
    return lines


def node_lines(plan: LabPlan, node: NodePlan) -> list[str]:
    """A node namespace: its machine address and a route to every other node's pods."""
    prefix = MACHINE_NETWORK.prefixlen
    lines = [
        f"addr add {node.address}/{prefix} dev eth0",
        "link set eth0 up",
        # A route for the service network, so a node's own processes (hostNetwork pods) can
        # open connections to it: the proxy DNATs them, or rejects them when there is no
        # endpoint, before they would leave.
        f"route add {SERVICE_NETWORK} dev eth0 scope link",
    ]
    for other in plan.nodes:
        if other.name != node.name:
            lines.append(f"route add {other.pod_cidr} via {other.address} dev eth0")
    return lines


def external_lines() -> list[str]:
    """The external host: on the machine network only (it reaches pods through NodePorts)."""
    return [f"addr add {EXTERNAL_ADDRESS}/{MACHINE_NETWORK.prefixlen} dev eth0", "link set eth0 up"]


NODE_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    # Replies of DNATed connections come back through the node; keep the strict defaults off so
    # asymmetric paths (NodePort from another node) are not dropped.
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
}


def pod_veth_name(uid: str) -> str:
    """The node side of a pod's veth: unique per node, at most 15 characters."""
    return "pv" + uid.replace("-", "")[:12]


def pod_lines(address: str) -> list[str]:
    """Inside a pod: its /32 and the routes through the node side of the veth."""
    return [
        f"addr add {address}/32 dev eth0",
        "link set eth0 up",
        f"route add {GATEWAY} dev eth0 scope link",
        f"route add default via {GATEWAY} dev eth0",
    ]


def pod_host_lines(veth: str, address: str) -> list[str]:
    """On the node: the gateway address on the pod's veth, and the route to the pod."""
    return [
        f"addr add {GATEWAY}/32 dev {veth}",
        f"link set {veth} up",
        f"route add {address}/32 dev {veth} scope link",
    ]


def pod_host_sysctls(veth: str) -> dict[str, str]:
    return {
        f"net.ipv4.conf.{veth}.proxy_arp": "1",
        f"net.ipv4.conf.{veth}.rp_filter": "0",
    }


def allocate_pod_address(pod_cidr: str, used: Iterable[str]) -> str:
    """The lowest free address of the node's /23 (its first two are kept for the node)."""
    network = ipaddress.ip_network(pod_cidr)
    taken = set(used)
    for index, address in enumerate(network.hosts()):
        if index < 2:
            continue
        if str(address) not in taken:
            return str(address)
    raise PlanError(f"the pod network {pod_cidr} of this node is full")


def node_of_address(plan: LabPlan, address: str) -> NodePlan | None:
    ip = ipaddress.ip_address(address)
    for node in plan.nodes:
        if ip in ipaddress.ip_network(node.pod_cidr) or node.address == address:
            return node
    return None


def node_addresses(plan: LabPlan) -> Sequence[str]:
    return [node.address for node in plan.nodes]
