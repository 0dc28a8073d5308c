"""Which pods a selector, a peer or a port entry stands for, as bit masks over the pods.

Truth tables and compiled rules ask the same questions for thousands of pods: which pods does
this policy select, which pods does this peer name, which destination pods have a container port
named ``sctp-n2`` with number 38412. Asked per cell, that is pods x pods x policies work; asked
once per selector and kept as a Python ``int`` whose bit *i* is pod *i* (in the cluster's pod
order), it is a handful of big-integer operations per policy rule.

Pods with identical labels in a namespace are evaluated once (real clusters have many replicas
of few label sets), and results are cached per selector and per peer for the index's lifetime,
so one index serves every port of a set of tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sctpctl.netpol.model import (
    Cluster,
    IPBlockPeer,
    NetworkPolicy,
    Peer,
    PodPeer,
    Protocol,
    Rule,
)
from sctpctl.netpol.selectors import Selector


def bits(mask: int) -> Iterator[int]:
    """Indexes of the set bits of ``mask``, lowest first."""
    digits = bin(mask)[:1:-1]  # least significant first, without "0b"
    found = digits.find("1")
    while found >= 0:
        yield found
        found = digits.find("1", found + 1)


class ClusterIndex:
    """Bit masks over ``cluster.pods`` for selectors, peers and named ports.

    ``family`` (4 or 6) is the family of the traffic: :meth:`peer` matches ``ipBlock`` s of that
    family against each pod's address of that family (a pod without one matches none), and
    ``ipBlock`` s of the other family against nothing.
    """

    def __init__(self, cluster: Cluster, family: int) -> None:
        self.cluster = cluster
        self.family = family
        pods = cluster.pods
        self.size = len(pods)
        self.all = (1 << self.size) - 1
        self.pod_network = 0
        "Pods that policies select and selectors match (not on the host network)."
        groups: dict[str, dict[frozenset[tuple[str, str]], tuple[Mapping[str, str], int]]] = {}
        # Per family, (pod index, address as int): a pod has at most one address per family.
        self._addresses: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        self._named: dict[tuple[str, Protocol], dict[int, int]] = {}
        for i, pod in enumerate(pods):
            bit = 1 << i
            for ip in pod.ips:
                self._addresses[ip.version].append((i, int(ip)))
            if not pod.in_pod_network:
                continue
            self.pod_network |= bit
            in_namespace = groups.setdefault(pod.namespace, {})
            key = frozenset(pod.labels.items())
            labels, mask = in_namespace.get(key, (pod.labels, 0))
            in_namespace[key] = (labels, mask | bit)
            for port in pod.ports:
                if port.name is not None:
                    numbers = self._named.setdefault((port.name, port.protocol), {})
                    numbers[port.port] = numbers.get(port.port, 0) | bit
        self._label_groups = {ns: tuple(found.values()) for ns, found in groups.items()}
        "Per namespace: each distinct label set of its pods, with the pods that carry it."
        self._selected: dict[tuple[str, Selector], int] = {}
        self._namespaces: dict[Selector, tuple[str, ...]] = {}
        self._peers: dict[tuple[str, Peer], int] = {}
        self._blocks: dict[IPBlockPeer, int] = {}

    def in_namespace(self, namespace: str, selector: Selector) -> int:
        """Pod-network pods of ``namespace`` whose labels match ``selector``."""
        key = (namespace, selector)
        found = self._selected.get(key)
        if found is None:
            found = 0
            for labels, mask in self._label_groups.get(namespace, ()):
                if selector.matches(labels):
                    found |= mask
            self._selected[key] = found
        return found

    def selected(self, policy: NetworkPolicy) -> int:
        """The pods ``policy`` selects (for each of its ``policyTypes``)."""
        return self.in_namespace(policy.namespace, policy.pod_selector)

    def namespaces(self, selector: Selector) -> tuple[str, ...]:
        found = self._namespaces.get(selector)
        if found is None:
            cluster = self.cluster
            found = tuple(
                name
                for name in self._label_groups
                if selector.matches(cluster.namespace_labels(name))
            )
            self._namespaces[selector] = found
        return found

    def peer(self, policy: NetworkPolicy, peer: Peer) -> int:
        """The pods ``peer`` of ``policy`` names (pods only: addresses are not pods)."""
        key = (policy.namespace, peer)
        found = self._peers.get(key)
        if found is None:
            if isinstance(peer, PodPeer):
                namespaces = (
                    (policy.namespace,)
                    if peer.namespace_selector is None
                    else self.namespaces(peer.namespace_selector)
                )
                found = 0
                for namespace in namespaces:
                    found |= self.in_namespace(namespace, peer.pod_selector)
            elif peer.cidr.version == self.family:
                found = self.ip_block(peer)
            else:
                found = 0  # the traffic uses addresses of the other family
            self._peers[key] = found
        return found

    def rule_peers(self, policy: NetworkPolicy, rule: Rule) -> int:
        """The pods any peer of ``rule`` names; every pod for a rule without peers."""
        if not rule.peers:
            return self.all
        found = 0
        for peer in rule.peers:
            found |= self.peer(policy, peer)
        return found

    def rule_ports(self, rule: Rule, protocol: Protocol, port: int) -> int:
        """Destination pods for which ``rule``'s ports admit ``port``/``protocol``.

        Every pod, unless all matching entries are named ports: those match only where the
        destination pod has a container port of that name, protocol and number.
        """
        if not rule.ports:
            return self.all
        found = 0
        for spec in rule.ports:
            if isinstance(spec.port, str):
                if spec.protocol is protocol:
                    found |= self.named_port(spec.port, protocol).get(port, 0)
            elif spec.matches_number(protocol, port):
                return self.all
        return found

    def named_port(self, name: str, protocol: Protocol) -> Mapping[int, int]:
        """Port number to the pod-network pods with a container port of that name and protocol."""
        return self._named.get((name, protocol), {})

    def ip_block(self, peer: IPBlockPeer) -> int:
        """Pods whose address of the block's family lies in the block (whatever ``family`` is)."""
        found = self._blocks.get(peer)
        if found is None:
            first, last = int(peer.cidr.network_address), int(peer.cidr.broadcast_address)
            excepts = [(int(e.network_address), int(e.broadcast_address)) for e in peer.excepts]
            found = 0
            for i, address in self._addresses[peer.cidr.version]:
                if first <= address <= last and not any(lo <= address <= hi for lo, hi in excepts):
                    found |= 1 << i
            self._blocks[peer] = found
        return found
