"""The two ways SCTP packets leave and enter a host without kernel SCTP: raw IP and UDP.

A link owns OS sockets and turns them into ``(packet, source, destination)`` triples and ICMP
reports for the core; it knows nothing of associations. Both kinds differ only in how bytes
leave:

- :class:`RawLink`: IPv4 and IPv6 raw sockets for IP protocol 132. An IPv4 raw socket delivers
  the IP header with each packet (it is stripped here, its addresses kept); an IPv6 one does not.
  While such a socket is open the kernel no longer answers INITs with ICMP protocol-unreachable,
  which is why exactly one stack may own a network namespace (DESIGN.md section 3).
- :class:`UdpLink`: RFC 6951 encapsulation, the SCTP packet as the payload of a UDP datagram
  sent from the local encapsulation port (9899 by default) to the peer's; the peer's port is
  ``Address.udp_port``.

ICMP errors come from the sockets' error queues (``IP_RECVERR``/``IPV6_RECVERR``): the kernel
quotes the start of the packet that failed (from the SCTP common header on) and says where it
was going, which is what ``Endpoint.handle_icmp_error`` needs to find the association.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from sctpctl.sctp import Address, IcmpError

__all__ = [
    "DEFAULT_UDP_PORT",
    "IcmpReport",
    "Link",
    "LinkError",
    "RawLink",
    "Received",
    "UdpLink",
]

DEFAULT_UDP_PORT = 9899
"IANA's sctp-tunneling port (RFC 6951 section 5.1)."

IPPROTO_SCTP = 132
# Linux values missing from Python 3.11's socket module.
IP_RECVERR = 11
IPV6_RECVERR = 25
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_RECV_SIZE = 65535
_BUFFER_SIZE = 4 * 1024 * 1024
_BATCH = 256
"Packets read from one socket before the driver processes them (the rest wait for the next turn)."

Received = tuple[bytes, Address, Address | None]
"A packet (from the SCTP common header on), where it came from, and where it was sent to."


@dataclass(frozen=True, slots=True)
class IcmpReport:
    """An ICMP error about a packet this host sent."""

    kind: IcmpError
    destination: Address
    "Where the failed packet was going (address and, for UDP, the peer's port)."
    quoted: bytes
    "The start of the failed SCTP packet as the ICMP message quotes it."
    mtu: int | None = None
    "The next-hop MTU of a fragmentation-needed error."


class LinkError(Exception):
    """A link could not be opened (no privilege, port in use, no such address)."""


# ICMP type/code -> IcmpError (RFC 792, RFC 1812 section 5.2.7.1; RFC 4443 for ICMPv6).
_ICMP4: dict[tuple[int, int], IcmpError] = {
    (3, 2): IcmpError.PROTOCOL_UNREACHABLE,
    (3, 3): IcmpError.PORT_UNREACHABLE,
    (3, 4): IcmpError.FRAGMENTATION_NEEDED,
    (3, 9): IcmpError.ADMIN_PROHIBITED,
    (3, 10): IcmpError.ADMIN_PROHIBITED,
    (3, 13): IcmpError.ADMIN_PROHIBITED,
}
_ICMP6: dict[tuple[int, int], IcmpError] = {
    (1, 1): IcmpError.ADMIN_PROHIBITED,
    (1, 4): IcmpError.PORT_UNREACHABLE,
    (1, 5): IcmpError.ADMIN_PROHIBITED,  # source address failed ingress/egress policy
    (1, 6): IcmpError.ADMIN_PROHIBITED,  # reject route
    (2, 0): IcmpError.FRAGMENTATION_NEEDED,  # packet too big
    (4, 1): IcmpError.PROTOCOL_UNREACHABLE,  # unrecognized Next Header
}
_SEND_ERRORS: dict[int, IcmpError] = {
    errno.ENETUNREACH: IcmpError.HOST_UNREACHABLE,
    errno.EHOSTUNREACH: IcmpError.HOST_UNREACHABLE,
    errno.EACCES: IcmpError.ADMIN_PROHIBITED,  # a local firewall's reject
    errno.EPERM: IcmpError.ADMIN_PROHIBITED,
}


def classify_icmp(origin: int, type_: int, code: int) -> IcmpError | None:
    """The core's name for an ICMP error of ``origin`` (ICMP or ICMPv6), or None to ignore it."""
    if origin == SO_EE_ORIGIN_ICMP:
        if type_ != 3:
            return None
        return _ICMP4.get((type_, code), IcmpError.HOST_UNREACHABLE)
    if origin == SO_EE_ORIGIN_ICMP6:
        if type_ == 1:
            return _ICMP6.get((type_, code), IcmpError.HOST_UNREACHABLE)
        return _ICMP6.get((type_, code))
    return None


def _ip_of(sockaddr: tuple[Any, ...]) -> str:
    host = str(sockaddr[0])
    return host.split("%", 1)[0]  # drop an IPv6 scope


def _deep_buffers(sock: socket.socket) -> None:
    """Socket buffers that hold a burst of a full congestion window (and a receive window):
    packets dropped here would cost retransmissions. Root may exceed net.core.*mem_max."""
    for force, plain in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):  # SO_*BUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, _BUFFER_SIZE)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, plain, _BUFFER_SIZE)


def _family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Link:
    """Sockets of one kind; subclasses say how packets are framed."""

    kind: ClassVar[str]
    encapsulated: ClassVar[bool]

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self._by_family: dict[int, socket.socket] = {}
        self.send_errors = 0
        "Packets the kernel refused to send (reported as ICMP-like errors or counted)."

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
        self._by_family.clear()

    def _adopt(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sockets.append(sock)
        self._by_family[sock.family] = sock

    def read(self, sock: socket.socket, packets: list[Received], reports: list[IcmpReport]) -> None:
        """Take what ``sock`` has ready (up to a batch), then its queued ICMP errors."""
        failed = False
        count = 0
        try:
            while count < _BATCH:
                data, sockaddr = sock.recvfrom(_RECV_SIZE)
                packet = self._unwrap(sock, data, sockaddr)
                if packet is not None:
                    packets.append(packet)
                count += 1
        except BlockingIOError:
            pass
        except OSError:
            failed = True  # a pending ICMP error (sk_err) is reported instead of data
        if failed or count == 0:
            self._read_errors(sock, reports)

    def _unwrap(
        self, sock: socket.socket, data: bytes, sockaddr: tuple[Any, ...]
    ) -> Received | None:
        raise NotImplementedError

    def _read_errors(self, sock: socket.socket, reports: list[IcmpReport]) -> None:
        while True:
            try:
                data, ancillary, _flags, sockaddr = sock.recvmsg(
                    _RECV_SIZE, 512, socket.MSG_ERRQUEUE
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            for level, type_, cdata in ancillary:
                if level not in (socket.IPPROTO_IP, socket.IPPROTO_IPV6) or len(cdata) < 16:
                    continue
                if type_ not in (IP_RECVERR, IPV6_RECVERR):
                    continue
                _err, origin, icmp_type, icmp_code, _pad, info, _data = _EXTENDED_ERR.unpack_from(
                    cdata
                )
                kind = classify_icmp(origin, icmp_type, icmp_code)
                if origin == SO_EE_ORIGIN_LOCAL and _err == errno.EMSGSIZE:
                    kind = IcmpError.FRAGMENTATION_NEEDED
                if kind is None or not sockaddr:
                    continue
                destination = Address(
                    _ip_of(sockaddr), int(sockaddr[1]) if self.encapsulated else 0
                )
                mtu = info if kind is IcmpError.FRAGMENTATION_NEEDED and info else None
                reports.append(IcmpReport(kind, destination, bytes(data), mtu))

    def send(self, data: bytes, destination: Address) -> IcmpReport | None:
        """Send one packet; a local refusal (no route, a local firewall) comes back as a report."""
        sock = self._by_family.get(_family_of(destination.host))
        if sock is None:
            self.send_errors += 1
            return IcmpReport(IcmpError.HOST_UNREACHABLE, destination, data[:64])
        try:
            sock.sendto(data, (destination.host, destination.udp_port))
        except BlockingIOError:
            self.send_errors += 1  # a full socket buffer drops the packet, as a router would
        except OSError as error:
            self.send_errors += 1
            kind = _SEND_ERRORS.get(error.errno or 0)
            if kind is not None:
                return IcmpReport(kind, destination, data[:64])
        return None

    def send_all(self, packets: list[tuple[bytes, Address]], reports: list[IcmpReport]) -> None:
        """Send packets in order; local refusals are appended to ``reports``."""
        send = self.send
        for data, destination in packets:
            report = send(data, destination)
            if report is not None:
                reports.append(report)


class RawLink(Link):
    """SCTP directly over IP (protocol 132) through raw sockets; needs CAP_NET_RAW."""

    kind = "raw"
    encapsulated = False

    def __init__(self, *, ipv6: bool = True) -> None:
        super().__init__()
        try:
            v4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
        except PermissionError as error:
            raise LinkError(
                "SCTP over raw IP needs root (CAP_NET_RAW) to open a raw socket for protocol 132"
            ) from error
        v4.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        _deep_buffers(v4)
        self._adopt(v4)
        self._addresses: dict[bytes, Address] = {}
        if ipv6 and socket.has_ipv6:
            try:
                v6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_SCTP)
            except OSError:
                pass  # IPv6 disabled in this namespace: IPv4 only
            else:
                v6.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                _deep_buffers(v6)
                self._adopt(v6)

    def _unwrap(
        self, sock: socket.socket, data: bytes, sockaddr: tuple[Any, ...]
    ) -> Received | None:
        if sock.family == socket.AF_INET:
            if len(data) < 20:
                return None
            header = (data[0] & 0x0F) * 4
            return data[header:], self._ipv4(data[12:16]), self._ipv4(data[16:20])
        return data, Address(_ip_of(sockaddr)), None

    def _ipv4(self, raw: bytes) -> Address:
        # The same few addresses are on every packet: each Address is made once.
        address = self._addresses.get(raw)
        if address is None:
            if len(self._addresses) > 4096:
                self._addresses.clear()
            address = self._addresses[raw] = Address(socket.inet_ntoa(raw))
        return address


class UdpLink(Link):
    """SCTP over UDP (RFC 6951) from one local port, IPv4 and (where possible) IPv6."""

    kind = "udp"
    encapsulated = True

    def __init__(
        self, *, port: int = DEFAULT_UDP_PORT, host: str | None = None, ipv6: bool = True
    ) -> None:
        super().__init__()
        hosts = [host] if host else ["0.0.0.0", *(["::"] if ipv6 and socket.has_ipv6 else [])]
        try:
            for index, bind_host in enumerate(hosts):
                family = _family_of(bind_host)
                try:
                    sock = socket.socket(family, socket.SOCK_DGRAM)
                except OSError:
                    if index > 0:
                        continue  # no IPv6 here
                    raise
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                _deep_buffers(sock)
                try:
                    sock.bind((bind_host, port))
                except OSError as error:
                    sock.close()
                    if index > 0 and error.errno == errno.EADDRNOTAVAIL:
                        continue
                    raise
                self._adopt(sock)
                if port == 0:
                    port = int(sock.getsockname()[1])  # the same port for IPv6
        except OSError as error:
            self.close()
            if error.errno == errno.EADDRINUSE:
                raise LinkError(
                    f"UDP port {port} is in use (another SCTP-over-UDP stack?);"
                    " choose another local encapsulation port with --udp-port"
                ) from error
            raise LinkError(f"cannot open UDP port {port}: {error.strerror}") from error
        self.port = port
        "The local encapsulation port."
        self._sources: dict[tuple[Any, ...], Address] = {}

    def _unwrap(
        self, sock: socket.socket, data: bytes, sockaddr: tuple[Any, ...]
    ) -> Received | None:
        # The same few peers send every packet: their addresses are made once.
        address = self._sources.get(sockaddr)
        if address is None:
            if len(self._sources) > 4096:
                self._sources.clear()
            address = self._sources[sockaddr] = Address(_ip_of(sockaddr), int(sockaddr[1]))
        return data, address, None
