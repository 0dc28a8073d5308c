"""Policies compiled per pod: what a packet filter at the pod's interface must let through.

For every pod of the pod network and each direction this gives whether the pod is isolated and,
if it is, the union of what is allowed as plain data: address blocks (CIDR minus excepts),
a protocol and port ranges. Selectors are resolved against the current pods and namespaces, and
named ports to numbers, so nothing about Kubernetes semantics is left to whoever turns this into
filter rules (the lab writes nftables from it):

- ingress at pod P: accept a packet to P if P is not isolated for ingress, or if some ``Allow``
  matches its source address, protocol and destination port;
- egress at pod P: accept a packet from P if P is not isolated for egress, or if some ``Allow``
  matches its destination address, protocol and destination port;
- a packet must pass egress at its source pod and ingress at its destination pod.

``Allow.peers`` is ``None`` for "any address" (a rule without peers), else address blocks: pod
addresses as /32 or /128 blocks (pod and namespace selectors) and ``ipBlock`` s with their
excepts. ``Allow.protocol`` is ``None`` for "any protocol, any port" (a rule without ports).
``Allow.ports`` is ``None`` for every port of the protocol. Named ports are already numbers:
for ingress, the numbers of the isolated pod's own container ports; for egress, one ``Allow``
per destination port number holding the addresses of the pods that serve it, so an egress named
port never admits an address outside the pods.

The tests check that this form, evaluated by address alone, gives the same answers as
:func:`~.engine.evaluate` on random clusters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import ip_network

from sctpctl.netpol.index import ClusterIndex, bits
from sctpctl.netpol.model import (
    Cluster,
    ContainerPort,
    Direction,
    IPAddress,
    IPBlockPeer,
    IPNetwork,
    NetworkPolicy,
    ObjectRef,
    Pod,
    PodPeer,
    PortSpec,
    Protocol,
    Rule,
    RuleRef,
)


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    first: int
    last: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True, slots=True)
class AddressBlock:
    """A CIDR minus except blocks (a pod address is a block of one address)."""

    network: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    @property
    def version(self) -> int:
        return self.network.version

    def contains(self, address: IPAddress) -> bool:
        if address.version != self.network.version or address not in self.network:
            return False
        return not any(address in block for block in self.excepts)

    def intervals(self) -> tuple[tuple[int, int], ...]:
        """The block as sorted, disjoint, inclusive ranges of integer addresses."""
        ranges = [(int(self.network.network_address), int(self.network.broadcast_address))]
        for block in sorted(self.excepts):
            low, high = int(block.network_address), int(block.broadcast_address)
            remaining = []
            for first, last in ranges:
                if high < first or low > last:
                    remaining.append((first, last))
                    continue
                if first < low:
                    remaining.append((first, low - 1))
                if high < last:
                    remaining.append((high + 1, last))
            ranges = remaining
        return tuple(ranges)

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.network)
        return f"{self.network} except {', '.join(str(e) for e in self.excepts)}"


@dataclass(frozen=True, slots=True)
class Allow:
    """Traffic one rule lets through, for one protocol."""

    peers: tuple[AddressBlock, ...] | None
    "The other end's address: ``None`` is any address."
    protocol: Protocol | None
    "``None``: any protocol and any port."
    ports: tuple[PortRange, ...] | None
    "Destination ports; ``None`` is every port of ``protocol``."
    rule: RuleRef
    "Where it comes from (for comments in generated rules and for explanations)."

    def matches(self, address: IPAddress, protocol: Protocol, port: int) -> bool:
        if self.protocol is not None:
            if protocol is not self.protocol:
                return False
            if self.ports is not None and not any(port in r for r in self.ports):
                return False
        return self.peers is None or any(block.contains(address) for block in self.peers)


@dataclass(frozen=True, slots=True)
class DirectionRules:
    isolated: bool
    "Some policy selects the pod for this direction: only what ``allows`` lists gets through."
    policies: tuple[ObjectRef, ...]
    allows: tuple[Allow, ...]

    def admits(self, address: IPAddress, protocol: Protocol, port: int) -> bool:
        """``address`` is the other end: the source for ingress, the destination for egress."""
        return not self.isolated or any(a.matches(address, protocol, port) for a in self.allows)


@dataclass(frozen=True, slots=True)
class CompiledPod:
    pod: ObjectRef
    node: str | None
    addresses: tuple[IPAddress, ...]
    ingress: DirectionRules
    egress: DirectionRules


_OPEN = DirectionRules(isolated=False, policies=(), allows=())


def compile_cluster(cluster: Cluster, *, node: str | None = None) -> tuple[CompiledPod, ...]:
    """Rules for every pod of the pod network (only those on ``node``, if given)."""
    return _Compiler(cluster).compile(node)


class _Compiler:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.index = ClusterIndex(cluster, family=4)  # family-independent questions only
        self.pods = cluster.pods
        self._hosts = [tuple(AddressBlock(ip_network(ip)) for ip in pod.ips) for pod in self.pods]
        "Per pod, its addresses as blocks of one address."
        self._pod_blocks: dict[int, tuple[AddressBlock, ...]] = {}
        self._named_allows: dict[tuple[RuleRef, tuple[ContainerPort, ...]], list[Allow]] = {}

    def compile(self, node: str | None) -> tuple[CompiledPod, ...]:
        pods = self.pods
        wanted = 0
        for i, pod in enumerate(pods):
            if pod.in_pod_network and (node is None or pod.node_name == node):
                wanted |= 1 << i
        policies: dict[tuple[int, Direction], list[ObjectRef]] = {}
        allows: dict[tuple[int, Direction], list[Allow]] = {}
        for policy in self.cluster.policies:
            selected = self.index.selected(policy) & wanted
            if not selected:
                continue
            for direction in sorted(policy.policy_types):
                for i in bits(selected):
                    policies.setdefault((i, direction), []).append(policy.ref)
                for number, rule in enumerate(policy.rules(direction)):
                    ref = RuleRef(policy.ref, direction, number)
                    peers = self._rule_peers(policy, rule)
                    if peers == ():
                        continue  # peers were named, but none exist: the rule allows nothing
                    shared = _port_allows(peers, rule.ports, ref, None)
                    if direction is Direction.EGRESS:
                        shared += self._egress_named(policy, rule, ref)
                    per_pod = direction is Direction.INGRESS and any(s.is_named for s in rule.ports)
                    for i in bits(selected):
                        found = allows.setdefault((i, direction), [])
                        found.extend(shared)
                        if per_pod:
                            found.extend(self._ingress_named(peers, rule, ref, pods[i]))
        compiled = []
        for i in bits(wanted):
            pod = pods[i]
            rules = {}
            for direction in Direction:
                refs = policies.get((i, direction))
                rules[direction] = (
                    DirectionRules(True, tuple(refs), tuple(allows.get((i, direction), ())))
                    if refs
                    else _OPEN
                )
            compiled.append(
                CompiledPod(
                    pod.ref,
                    pod.node_name,
                    pod.ips,
                    rules[Direction.INGRESS],
                    rules[Direction.EGRESS],
                )
            )
        return tuple(compiled)

    def _blocks_of(self, pods: int) -> tuple[AddressBlock, ...]:
        """The addresses of a set of pods; rules naming the same pods share one tuple."""
        found = self._pod_blocks.get(pods)
        if found is None:
            hosts = self._hosts
            found = self._pod_blocks[pods] = tuple(b for i in bits(pods) for b in hosts[i])
        return found

    def _rule_peers(self, policy: NetworkPolicy, rule: Rule) -> tuple[AddressBlock, ...] | None:
        if not rule.peers:
            return None
        pods = 0
        blocks: list[AddressBlock] = []
        for peer in rule.peers:
            if isinstance(peer, IPBlockPeer):
                block = AddressBlock(peer.cidr, peer.excepts)
                if block not in blocks:
                    blocks.append(block)
            else:
                pods |= self.index.peer(policy, peer)
        return (*self._blocks_of(pods), *blocks) if blocks else self._blocks_of(pods)

    def _ingress_named(
        self, peers: tuple[AddressBlock, ...] | None, rule: Rule, ref: RuleRef, pod: Pod
    ) -> list[Allow]:
        """Named ingress ports resolve on the isolated pod itself; equal ports share the work."""
        key = (ref, pod.ports)
        found = self._named_allows.get(key)
        if found is None:
            found = self._named_allows[key] = _port_allows(peers, rule.ports, ref, pod, named=True)
        return found

    def _egress_named(self, policy: NetworkPolicy, rule: Rule, ref: RuleRef) -> list[Allow]:
        """Named egress ports: per destination port number, the addresses of pods serving it."""
        named = [s for s in rule.ports if isinstance(s.port, str)]
        if not named:
            return []
        index = self.index
        # The pods the peers reach with every address (selectors, or no peers at all), and
        # per family the pods reached only with their address of that family (ipBlocks).
        every_address = 0 if rule.peers else index.pod_network
        by_family = {4: 0, 6: 0}
        for peer in rule.peers:
            if isinstance(peer, PodPeer):
                every_address |= index.peer(policy, peer)
            else:
                by_family[peer.cidr.version] |= index.ip_block(peer) & index.pod_network
        reached = every_address | by_family[4] | by_family[6]
        found = []
        for spec in sorted(named, key=lambda s: (s.protocol, str(s.port))):
            assert isinstance(spec.port, str)
            for number, serving in sorted(index.named_port(spec.port, spec.protocol).items()):
                blocks: list[AddressBlock] = []
                for i in bits(serving & reached):
                    if every_address >> i & 1:
                        blocks.extend(self._hosts[i])
                    else:
                        blocks.extend(
                            block for block in self._hosts[i] if by_family[block.version] >> i & 1
                        )
                if blocks:
                    found.append(
                        Allow(tuple(blocks), spec.protocol, (PortRange(number, number),), ref)
                    )
        return found


def _port_allows(
    peers: tuple[AddressBlock, ...] | None,
    ports: tuple[PortSpec, ...],
    ref: RuleRef,
    destination: Pod | None,
    *,
    named: bool = False,
) -> list[Allow]:
    """Allows for the numeric entries of a rule, or (``named``) for its named entries."""
    if not ports:
        return [] if named else [Allow(peers, None, None, ref)]
    whole: set[Protocol] = set()
    ranges: dict[Protocol, list[PortRange]] = {}
    for spec in ports:
        if spec.is_named != named:
            continue
        if isinstance(spec.port, str):
            assert destination is not None
            for number in destination.named_port(spec.port, spec.protocol):
                ranges.setdefault(spec.protocol, []).append(PortRange(number, number))
        elif spec.port is None:
            whole.add(spec.protocol)
        else:
            last = spec.end_port or spec.port
            ranges.setdefault(spec.protocol, []).append(PortRange(spec.port, last))
    found = [Allow(peers, protocol, None, ref) for protocol in sorted(whole)]
    for protocol in sorted(set(ranges) - whole):
        found.append(Allow(peers, protocol, merge_ranges(ranges[protocol]), ref))
    return found


def merge_ranges(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    """Sorted, with overlapping and adjacent ranges joined."""
    merged: list[PortRange] = []
    for item in sorted(ranges):
        if merged and item.first <= merged[-1].last + 1:
            last = merged[-1]
            merged[-1] = PortRange(last.first, max(last.last, item.last))
        else:
            merged.append(item)
    return tuple(merged)
