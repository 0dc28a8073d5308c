"""A tiny blocking UDP loop that drives an Endpoint over RFC 6951 encapsulation on loopback.

For interoperability tests only: the real asyncio transport belongs to the sockets layer.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from sctpctl.sctp.association import Association
from sctpctl.sctp.config import Address
from sctpctl.sctp.endpoint import Endpoint
from sctpctl.sctp.events import AssociationEvent


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class UdpDriver:
    def __init__(self, endpoint: Endpoint, *, port: int = 0) -> None:
        self.endpoint = endpoint
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.events: list[tuple[Association, AssociationEvent]] = []
        self.sent_packets: list[bytes] = []
        self.received_packets: list[bytes] = []
        self.dropped_destinations: list[Address] = []
        self.on_event: Callable[[Association, AssociationEvent], None] | None = None

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def close(self) -> None:
        self.sock.close()

    def flush(self) -> None:
        for data, destination in self.endpoint.packets_to_send(now=self.now()):
            if not destination.host.startswith("127."):
                # Loopback only: peers list other addresses of their host (usrsctp lists every
                # interface); tests never send anywhere else.
                self.dropped_destinations.append(destination)
                continue
            self.sent_packets.append(data)
            self.sock.sendto(data, (destination.host, destination.udp_port))

    def pump(self, timeout: float) -> None:
        self.flush()
        deadline = self.endpoint.get_timer()
        wait = timeout if deadline is None else max(0.0, min(timeout, deadline - self.now()))
        readable, _, _ = select.select([self.sock], [], [], wait)
        if readable:
            while True:
                try:
                    data, (host, port) = self.sock.recvfrom(65535)
                except BlockingIOError:
                    break
                self.received_packets.append(data)
                self.endpoint.receive_packet(data, source=Address(host, port), now=self.now())
        t = self.endpoint.get_timer()
        if t is not None and t <= self.now():
            self.endpoint.handle_timer(now=self.now())
        while (item := self.endpoint.next_event()) is not None:
            self.events.append(item)
            if self.on_event is not None:
                self.on_event(*item)
        self.flush()

    def run(self, until: Callable[[], bool], *, timeout: float = 10.0) -> None:
        deadline = self.now() + timeout
        while not until():
            if self.now() > deadline:
                states = [(a.state.value, a.buffered_amount) for a in self.endpoint.associations]
                raise AssertionError(
                    f"interop condition not met in {timeout} s; associations (state, buffered):"
                    f" {states}; events: {[type(e).__name__ for _, e in self.events][-8:]};"
                    f" packets sent {len(self.sent_packets)}, received {len(self.received_packets)}"
                )
            self.pump(0.02)
