"""The in-memory test harness: two endpoints, an explicit clock, and a link that can lose,
duplicate, reorder and delay packets. Nothing here touches a socket or a real clock."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sctpctl.sctp.association import Association
from sctpctl.sctp.chunks import Packet, parse_packet
from sctpctl.sctp.config import Address, Configuration
from sctpctl.sctp.endpoint import Endpoint
from sctpctl.sctp.events import AssociationEvent

CLIENT = Address("192.0.2.1")
SERVER = Address("192.0.2.2")
SERVER_PORT = 5001


def seeded(seed: int) -> Callable[[int], bytes]:
    """A reproducible ``random_bytes`` for configurations."""
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


@dataclass
class Link:
    """One direction of the in-memory network."""

    delay: float = 0.001
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    "Probability that a packet is held back by up to ``reorder_delay``."
    reorder_delay: float = 0.01
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    drop: Callable[[Packet], bool] | None = None
    "Drops the packets it returns True for (after parsing), e.g. the first DATA."

    def schedule(self, data: bytes, now: float) -> list[float]:
        """Arrival times of this packet's copies (none when lost)."""
        if self.drop is not None and self.drop(parse_packet(data)):
            return []
        if self.loss and self.rng.random() < self.loss:
            return []
        copies = 2 if self.duplicate and self.rng.random() < self.duplicate else 1
        times = []
        for _ in range(copies):
            extra = (
                self.rng.random() * self.reorder_delay
                if self.reorder and (self.rng.random() < self.reorder)
                else 0.0
            )
            times.append(now + self.delay + extra)
        return times


class Pair:
    """A client and a server endpoint joined by two links, with one clock."""

    def __init__(
        self,
        *,
        client: Configuration | None = None,
        server: Configuration | None = None,
        to_server: Link | None = None,
        to_client: Link | None = None,
        client_address: Address = CLIENT,
        server_address: Address = SERVER,
        auto_drain: bool = True,
    ) -> None:
        self.now = 0.0
        self.client = Endpoint(client or Configuration(random_bytes=seeded(1)))
        self.server = Endpoint(server or Configuration(random_bytes=seeded(2)))
        self.server.listen(SERVER_PORT)
        self.links = {id(self.client): to_server or Link(), id(self.server): to_client or Link()}
        self.addresses = {id(self.client): client_address, id(self.server): server_address}
        self._queue: list[tuple[float, int, Endpoint, bytes, Address]] = []
        self._seq = 0
        self.auto_drain = auto_drain
        self.client_events: list[tuple[Association, AssociationEvent]] = []
        self.server_events: list[tuple[Association, AssociationEvent]] = []
        self.sent: list[tuple[str, Packet]] = []
        "Every packet put on a link, ('c' or 's', parsed), for assertions."
        self.record = False

    def connect(self) -> Association:
        return self.client.connect(self.addresses[id(self.server)], SERVER_PORT, now=self.now)

    def _peer(self, endpoint: Endpoint) -> Endpoint:
        return self.server if endpoint is self.client else self.client

    def flush(self) -> None:
        for endpoint in (self.client, self.server):
            link = self.links[id(endpoint)]
            source = self.addresses[id(endpoint)]
            for data, _destination in endpoint.packets_to_send(now=self.now):
                if self.record:
                    self.sent.append(("c" if endpoint is self.client else "s", parse_packet(data)))
                for when in link.schedule(data, self.now):
                    self._seq += 1
                    heapq.heappush(
                        self._queue, (when, self._seq, self._peer(endpoint), data, source)
                    )

    def drain(self) -> None:
        for endpoint, sink in (
            (self.client, self.client_events),
            (self.server, self.server_events),
        ):
            while (item := endpoint.next_event()) is not None:
                sink.append(item)

    def step(self) -> bool:
        """Deliver what is due, or advance the clock to the next arrival or timer.
        False when nothing is left to happen."""
        self.flush()
        if self.auto_drain:
            self.drain()
            self.flush()
        due = [self._queue[0][0]] if self._queue else []
        for endpoint in (self.client, self.server):
            t = endpoint.get_timer()
            if t is not None:
                due.append(t)
        if not due:
            return False
        self.now = max(self.now, min(due))
        while self._queue and self._queue[0][0] <= self.now:
            _, _, endpoint, data, source = heapq.heappop(self._queue)
            endpoint.receive_packet(data, source=source, now=self.now)
        for endpoint in (self.client, self.server):
            t = endpoint.get_timer()
            if t is not None and t <= self.now:
                endpoint.handle_timer(now=self.now)
        return True

    def run(self, until: Callable[[], bool] | None = None, *, max_time: float = 600.0) -> None:
        """Step until ``until()`` holds (or nothing is left, or ``max_time`` passes)."""
        deadline = self.now + max_time
        while self.now <= deadline:
            if until is not None and until():
                self.flush()
                return
            if not self.step():
                return
        if until is not None:
            raise AssertionError(f"condition not met by t={self.now:.3f}")

    def events(
        self, side: str, kind: type[AssociationEvent] | None = None
    ) -> list[AssociationEvent]:
        source = self.client_events if side == "c" else self.server_events
        return [e for _, e in source if kind is None or isinstance(e, kind)]


PEER = Address("198.51.100.7")
PEER_PORT = 40000
LOCAL_PORT = 5001


class ScriptedPeer:
    """A hand-driven peer of one endpoint under test: packets built with the codec go in,
    packets the endpoint answers come out parsed (nplab/packetdrill style)."""

    def __init__(self, config: Configuration | None = None, *, listen: bool = True) -> None:
        self.config = config or Configuration(random_bytes=seeded(7), heartbeats=False)
        self.endpoint = Endpoint(self.config)
        if listen:
            self.endpoint.listen(LOCAL_PORT)
        self.now = 0.0
        self.tag = 0x0A0B0C0D
        "The peer's own verification tag (what the endpoint must put in its packets)."
        self.peer_tag = 0
        "The endpoint's tag, once learned."
        self.events: list[AssociationEvent] = []
        self.association: Association | None = None

    def send(
        self,
        *chunks: object,
        tag: int | None = None,
        source: Address = PEER,
        src_port: int = PEER_PORT,
        dst_port: int = LOCAL_PORT,
    ) -> None:
        from sctpctl.sctp.chunks import serialize_packet

        vtag = self.peer_tag if tag is None else tag
        data = serialize_packet(src_port, dst_port, vtag, [c.serialize() for c in chunks])  # type: ignore[attr-defined]
        self.send_raw(data, source=source)

    def send_raw(self, data: bytes, *, source: Address = PEER) -> None:
        self.endpoint.receive_packet(data, source=source, now=self.now)
        self._drain()

    def _drain(self) -> None:
        while (item := self.endpoint.next_event()) is not None:
            self.association = item[0]
            self.events.append(item[1])

    def receive(self) -> list[Packet]:
        """Packets the endpoint sends now."""
        packets = [parse_packet(d) for d, _ in self.endpoint.packets_to_send(now=self.now)]
        self._drain()
        return packets

    def receive_with_addresses(self) -> list[tuple[Packet, Address]]:
        out = [(parse_packet(d), a) for d, a in self.endpoint.packets_to_send(now=self.now)]
        self._drain()
        return out

    def advance(self, seconds: float) -> None:
        """Let time pass, running every timer on the way."""
        target = self.now + seconds
        while True:
            t = self.endpoint.get_timer()
            if t is None or t > target:
                break
            self.now = max(self.now, t)
            self.endpoint.handle_timer(now=self.now)
            self._drain()
        self.now = target

    def advance_to_next_timer(self) -> float:
        t = self.endpoint.get_timer()
        assert t is not None, "no timer is running"
        self.now = max(self.now, t)
        self.endpoint.handle_timer(now=self.now)
        self._drain()
        return self.now

    def of(self, kind: type[AssociationEvent]) -> list[AssociationEvent]:
        return [e for e in self.events if isinstance(e, kind)]
