"""The objects the policy engine reasons about, after interpretation (see :mod:`.parse`).

The rules of ``networking.k8s.io/v1`` that shape these types (Kubernetes API reference,
"NetworkPolicy"; the "Network Policies" concept page):

1. A policy selects pods in **its own namespace** with ``podSelector`` (``{}`` selects them all).
2. ``policyTypes`` says for which directions the selected pods become isolated. When it is not
   given, ``Ingress`` is always there and ``Egress`` only if the policy has egress rules.
3. A pod is isolated for a direction only if at least one policy selects it for that direction.
   A pod that is not isolated accepts everything in that direction. Allows are a union: there are
   no deny rules, and the order of policies and rules does not matter.
4. A rule allows traffic that matches one of its peers (``from``/``to``) **and** one of its
   ports. An absent or empty peer list means every peer, an absent or empty port list every port
   of every protocol. ``ingress: []`` (no rules) allows nothing; a rule ``{}`` allows everything.
5. A peer is either an ``ipBlock`` (CIDR minus ``except`` CIDRs) or selectors: ``podSelector``
   alone means pods of the policy's namespace, ``namespaceSelector`` alone all pods of matching
   namespaces, both together (one peer) pods matching both (AND). Two peers are an OR.
6. A port without ``protocol`` is TCP; a port without ``port`` is every port of its protocol;
   ``endPort`` makes ``port`` the first of a range. A named port resolves against the
   *destination* pod: a container port with that name **and** that protocol.
7. Traffic flows only if egress is allowed at the source and ingress at the destination.

Decisions where implementations differ (written once here, shown by ``sctpctl policy explain``):

- ``ipBlock`` peers match addresses, pod addresses included. The API documentation meant them
  for traffic from outside the cluster, but the upstream e2e tests ("should allow egress access
  to server in CIDR block", "should enforce except clause ...") put pod IPs in them and expect a
  match, and Cyclonus (and its successor in network-policy-api) match by IP as well.
- Pods on the host network (``hostNetwork: true``) are treated like their node's address, as most
  plugins do: no policy selects them and no pod or namespace selector matches them; ``ipBlock``
  peers do. Pods in phase ``Succeeded`` or ``Failed`` are left out (they have no network).
- Traffic from a pod to itself is evaluated like any other; plugins differ here (Cyclonus has
  ``--ignore-loopback``), so a comparison against a real cluster may want to skip the diagonal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from types import MappingProxyType

from sctpctl.netpol.selectors import Selector

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
"Set by the API server on every namespace (Kubernetes 1.21+), so selectors may rely on it."


class ClusterError(ValueError):
    """The objects do not describe a consistent cluster (the message says why)."""


class Protocol(StrEnum):
    """The protocols a NetworkPolicy port can name (``core/v1`` Protocol)."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class Direction(StrEnum):
    """A ``policyTypes`` value."""

    INGRESS = "Ingress"
    EGRESS = "Egress"


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """``namespace/name`` of a namespaced object."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class RuleRef:
    """One rule of one policy: ``spec.<direction>[rule]``."""

    policy: ObjectRef
    direction: Direction
    rule: int

    def __str__(self) -> str:
        return f"{self.policy} {self.direction.value.lower()}[{self.rule}]"


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    "Includes ``kubernetes.io/metadata.name``, as the API server sets it."


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: Protocol = Protocol.TCP
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ips: tuple[IPAddress, ...] = ()
    "``status.podIPs`` (or ``status.podIP``), primary first; may be empty in a hand-written file."
    ports: tuple[ContainerPort, ...] = ()
    "Container ports of the containers and of restartable (sidecar) init containers."
    host_network: bool = False
    node_name: str | None = None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.namespace, self.name)

    @property
    def in_pod_network(self) -> bool:
        """Whether NetworkPolicy applies to this pod (see the module docstring on hostNetwork)."""
        return not self.host_network

    def address(self, family: int | None = None) -> IPAddress | None:
        """The pod's IP of that family (4 or 6), or its primary IP for ``None``."""
        for ip in self.ips:
            if family is None or ip.version == family:
                return ip
        return None

    def named_port(self, name: str, protocol: Protocol) -> tuple[int, ...]:
        """Numbers of the container ports with this name *and* protocol (rule 6)."""
        return tuple(p.port for p in self.ports if p.name == name and p.protocol is protocol)


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One entry of a rule's ``ports``, defaulted: the protocol is always known."""

    protocol: Protocol = Protocol.TCP
    port: int | str | None = None
    "A number, a container port name, or ``None`` for every port of the protocol."
    end_port: int | None = None
    "Last port of the range ``port``..``end_port``; only with a numeric ``port``."

    @property
    def is_named(self) -> bool:
        return isinstance(self.port, str)

    def matches_number(self, protocol: Protocol, number: int) -> bool:
        """Whether a numeric or port-less entry matches; a named entry never does here."""
        if protocol is not self.protocol or isinstance(self.port, str):
            return False
        if self.port is None:
            return True
        return self.port <= number <= (self.end_port or self.port)

    def matches(self, protocol: Protocol, number: int, destination: Pod | None) -> bool:
        """Rule 6: named ports resolve against the destination pod's container ports."""
        if isinstance(self.port, str):
            if protocol is not self.protocol or destination is None:
                return False
            if not destination.in_pod_network:
                return False
            return number in destination.named_port(self.port, protocol)
        return self.matches_number(protocol, number)

    def __str__(self) -> str:
        if self.port is None:
            return f"{self.protocol.value} (every port)"
        if self.end_port is not None:
            return f"{self.protocol.value} {self.port}-{self.end_port}"
        return f"{self.protocol.value} {self.port}"


@dataclass(frozen=True, slots=True)
class PodPeer:
    """A peer by selectors (rule 5)."""

    pod_selector: Selector = field(default_factory=Selector.everything)
    namespace_selector: Selector | None = None
    "``None``: the policy's own namespace; a selector: namespaces whose labels match."

    def __str__(self) -> str:
        parts = []
        if self.namespace_selector is not None:
            parts.append(f"namespaceSelector {_selector_text(self.namespace_selector)}")
        if self.namespace_selector is None or not self.pod_selector.is_everything:
            parts.append(f"podSelector {_selector_text(self.pod_selector)}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class IPBlockPeer:
    """A peer by address: ``cidr`` minus every ``except`` block."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, address: IPAddress | None) -> bool:
        if address is None or address.version != self.cidr.version:
            return False
        if address not in self.cidr:
            return False
        return not any(address in block for block in self.excepts)

    def __str__(self) -> str:
        if not self.excepts:
            return f"ipBlock {self.cidr}"
        return f"ipBlock {self.cidr} except {', '.join(str(e) for e in self.excepts)}"


Peer = PodPeer | IPBlockPeer


@dataclass(frozen=True, slots=True)
class Rule:
    """One ingress or egress rule."""

    peers: tuple[Peer, ...] = ()
    "Empty: every peer, in or outside the cluster (``from``/``to`` absent or empty)."
    ports: tuple[PortSpec, ...] = ()
    "Empty: every port of every protocol (``ports`` absent or empty)."


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: Selector
    policy_types: frozenset[Direction]
    "After defaulting (rule 2)."
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.namespace, self.name)

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        """The rules that count for ``direction``: none unless the policy has that type."""
        if direction not in self.policy_types:
            return ()
        return self.ingress if direction is Direction.INGRESS else self.egress

    def selects(self, pod: Pod, direction: Direction) -> bool:
        """Whether this policy isolates ``pod`` for ``direction`` (rules 1 to 3)."""
        return (
            direction in self.policy_types
            and pod.namespace == self.namespace
            and pod.in_pod_network
            and self.pod_selector.matches(pod.labels)
        )


class Cluster:
    """Namespaces, pods and policies, with the lookups the engine needs.

    Build one with :func:`sctpctl.netpol.parse.cluster_from_objects`. Pods are kept sorted by
    namespace and name, which is the order of truth-table rows and columns.
    """

    __slots__ = (
        "_by_address",
        "_by_ref",
        "_namespaces",
        "_pods",
        "_policies",
        "_policies_by_ns",
        "_policy_by_ref",
    )

    def __init__(
        self,
        namespaces: Iterable[Namespace],
        pods: Iterable[Pod],
        policies: Iterable[NetworkPolicy],
    ) -> None:
        self._pods = tuple(sorted(pods, key=lambda p: (p.namespace, p.name)))
        self._policies = tuple(sorted(policies, key=lambda p: (p.namespace, p.name)))
        known = {ns.name: ns for ns in namespaces}
        # Namespaces that pods or policies live in exist, even if the file does not declare them.
        for name in {p.namespace for p in self._pods} | {p.namespace for p in self._policies}:
            known.setdefault(name, Namespace(name, {METADATA_NAME_LABEL: name}))
        self._namespaces = MappingProxyType(dict(sorted(known.items())))
        self._by_ref = {pod.ref: pod for pod in self._pods}
        self._by_address: dict[IPAddress, Pod] = {}
        for pod in self._pods:
            if pod.in_pod_network:
                for ip in pod.ips:
                    other = self._by_address.setdefault(ip, pod)
                    if other is not pod:
                        raise ClusterError(f"pods {other.ref} and {pod.ref} both have the IP {ip}")
        self._policy_by_ref = {policy.ref: policy for policy in self._policies}
        by_ns: dict[str, list[NetworkPolicy]] = {}
        for policy in self._policies:
            by_ns.setdefault(policy.namespace, []).append(policy)
        self._policies_by_ns = {ns: tuple(items) for ns, items in by_ns.items()}

    @property
    def namespaces(self) -> Mapping[str, Namespace]:
        return self._namespaces

    @property
    def pods(self) -> tuple[Pod, ...]:
        return self._pods

    @property
    def policies(self) -> tuple[NetworkPolicy, ...]:
        return self._policies

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        namespace = self._namespaces.get(name)
        return namespace.labels if namespace is not None else {METADATA_NAME_LABEL: name}

    def policies_in(self, namespace: str) -> tuple[NetworkPolicy, ...]:
        return self._policies_by_ns.get(namespace, ())

    def pod(self, ref: ObjectRef) -> Pod | None:
        return self._by_ref.get(ref)

    def policy(self, ref: ObjectRef) -> NetworkPolicy | None:
        return self._policy_by_ref.get(ref)

    def pod_at(self, address: IPAddress) -> Pod | None:
        """The pod-network pod that owns ``address``, if any."""
        return self._by_address.get(address)


def _selector_text(selector: Selector) -> str:
    return "{}" if selector.is_everything else str(selector)
