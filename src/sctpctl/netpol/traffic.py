"""Traffic: who talks to whom, over which protocol and destination port.

An endpoint is a pod (with the address it uses, if known) or a bare address outside the pods of
the cluster. ``ipBlock`` peers look at the address; pod and namespace selectors at the pod.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import ip_address

from sctpctl.netpol.model import Cluster, IPAddress, ObjectRef, Pod, Protocol
from sctpctl.netpol.parse import DEFAULT_NAMESPACE


class TrafficError(ValueError):
    """A traffic description that cannot be resolved against the cluster (message says why)."""


@dataclass(frozen=True, slots=True, order=True)
class PortProtocol:
    """A destination port and its protocol, written ``80/sctp``."""

    port: int
    protocol: Protocol

    @classmethod
    def parse(cls, text: str) -> PortProtocol:
        match = re.fullmatch(r"\s*(\d{1,5})\s*/\s*([A-Za-z]+)\s*", text)
        if match is None:
            raise TrafficError(f"{text!r} is not PORT/PROTOCOL (such as 80/sctp or 38412/SCTP)")
        port = int(match.group(1))
        if not 1 <= port <= 65535:
            raise TrafficError(f"{text!r}: the port must be between 1 and 65535")
        try:
            protocol = Protocol(match.group(2).upper())
        except ValueError:
            raise TrafficError(f"{text!r}: the protocol must be tcp, udp or sctp") from None
        return cls(port, protocol)

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol.value.lower()}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a connection: a pod, a bare address, or both (a pod and the IP it uses)."""

    pod: Pod | None = None
    address: IPAddress | None = None

    @property
    def policed_pod(self) -> Pod | None:
        """The pod whose policies apply here, or ``None`` (outside the pod network)."""
        return self.pod if self.pod is not None and self.pod.in_pod_network else None

    def __str__(self) -> str:
        if self.pod is None:
            return str(self.address)
        if self.address is None:
            return str(self.pod.ref)
        return f"{self.pod.ref} ({self.address})"


@dataclass(frozen=True, slots=True)
class Traffic:
    source: Endpoint
    destination: Endpoint
    protocol: Protocol
    port: int
    "The destination port."

    def __str__(self) -> str:
        return f"{self.protocol.value} port {self.port} from {self.source} to {self.destination}"


def pod_endpoint(pod: Pod, family: int | None = None) -> Endpoint:
    return Endpoint(pod, pod.address(family))


def resolve_endpoint(cluster: Cluster, text: str) -> Endpoint:
    """``NS/POD``, ``POD`` (namespace ``default``) or an IP address (a pod's, or any other).

    An address that a pod of the pod network owns stands for that pod.
    """
    text = text.strip()
    try:
        address = ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        owner = cluster.pod_at(address)
        return Endpoint(owner, address)
    namespace, _, name = text.rpartition("/")
    ref = ObjectRef(namespace or DEFAULT_NAMESPACE, name)
    pod = cluster.pod(ref)
    if pod is None:
        raise TrafficError(f"no pod {ref} in the cluster description (and not an IP address)")
    return Endpoint(pod, None)


def make_traffic(
    cluster: Cluster,
    source: str,
    destination: str,
    port: PortProtocol,
    *,
    family: int | None = None,
) -> Traffic:
    """Traffic between two endpoints written as for :func:`resolve_endpoint`.

    Pods use their address of ``family``; without it, the family of an address given on either
    side, else the destination pod's primary address family.
    """
    src = resolve_endpoint(cluster, source)
    dst = resolve_endpoint(cluster, destination)
    if family is None:
        given = src.address or dst.address  # only addresses written on the command line
        if given is not None:
            family = given.version
        elif dst.pod is not None and dst.pod.ips:
            family = dst.pod.ips[0].version
    return Traffic(_addressed(src, family), _addressed(dst, family), port.protocol, port.port)


def _addressed(endpoint: Endpoint, family: int | None) -> Endpoint:
    if endpoint.address is not None or endpoint.pod is None:
        if family is not None and endpoint.address and endpoint.address.version != family:
            raise TrafficError(f"{endpoint.address} is not an IPv{family} address")
        return endpoint
    return pod_endpoint(endpoint.pod, family)
