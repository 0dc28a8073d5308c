"""An SCTP endpoint: many associations behind one address, sans-IO.

The endpoint demultiplexes received packets to associations by (local port, peer port, peer
address), keeps the listening ports, answers INIT without creating any state (RFC 9260 section
5.1: the INIT-ACK carries a signed cookie), creates the association when a valid COOKIE ECHO comes
back, and answers out-of-the-blue packets (section 8.4) according to ``Configuration.ootb_policy``.
An INIT to a port nobody listens on gets an ABORT (that is how "closed" is told apart from
"filtered"), unless the policy keeps the endpoint silent.

The I/O layer drives it like an association: ``receive_packet`` for every packet (source address
and UDP encapsulation port included), then one ``packets_to_send`` flush, one timer re-armed at
``get_timer()``, and ``next_event()`` until it returns None.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, replace

from .association import Association, IcmpError, State
from .chunks import (
    CHUNK_HEADER,
    COMMON_HEADER,
    AbortChunk,
    Chunk,
    ErrorChunk,
    InitChunk,
    ShutdownCompleteChunk,
    checksum_ok,
    parse_chunk,
    serialize_packet,
)
from .config import Address, Configuration, OotbPolicy
from .constants import ChunkType
from .cookie import CookieSigner
from .errors import LocalProtocolError, MalformedPacket
from .events import AssociationEvent
from .handshake import answer_init, examine_params
from .params import Cause

__all__ = ["Endpoint"]

_U32 = struct.Struct("!I")
_EPHEMERAL_FIRST = 49152
_EPHEMERAL_COUNT = 65536 - _EPHEMERAL_FIRST


@dataclass(frozen=True, slots=True)
class _Listener:
    config: Configuration
    "The configuration INIT-ACKs of this port are built from (its OS may differ)."
    address: str | None
    "The only local address accepted, or None for all."

    def accepts(self, destination: Address | None) -> bool:
        return self.address is None or destination is None or destination.host == self.address


class Endpoint:
    """Every association of one SCTP stack instance, and the listening ports."""

    def __init__(self, config: Configuration | None = None) -> None:
        self.config = config if config is not None else Configuration()
        self._signer = CookieSigner(self.config)
        self._listening: dict[int, _Listener] = {}
        self._by_key: dict[tuple[int, int, str], Association] = {}
        self._associations: list[Association] = []
        self._with_events: deque[Association] = deque()
        self._flagged: set[int] = set()
        self._paused: set[int] = set()
        self._ready: list[tuple[bytes, Address]] = []
        self._next_id = 1
        self.dropped = 0
        "Packets discarded: bad checksum, malformed, or out of the blue."

    # --- application side ---------------------------------------------------------------------

    def listen(
        self, port: int, *, outbound_streams: int | None = None, address: str | None = None
    ) -> None:
        """Accept associations on ``port``: INITs to it are answered with INIT-ACK.

        ``outbound_streams`` overrides the configuration's OS for associations accepted here;
        with ``address``, only INITs sent to that local address are accepted (the I/O layer
        must pass ``destination`` to ``receive_packet``; where it cannot, INITs are accepted),
        others are answered as for a closed port.
        """
        if not 0 < port < 65536:
            raise LocalProtocolError(f"port {port} is not in 1-65535")
        config = self.config
        if outbound_streams is not None:
            if not 0 < outbound_streams < 65536:
                raise LocalProtocolError(f"{outbound_streams} streams is not in 1-65535")
            config = replace(config, outbound_streams=outbound_streams)
        self._listening[port] = _Listener(config, address)

    def close_listener(self, port: int) -> None:
        self._listening.pop(port, None)

    @property
    def listening(self) -> frozenset[int]:
        return frozenset(self._listening)

    @property
    def associations(self) -> tuple[Association, ...]:
        return tuple(self._associations)

    def connect(
        self,
        address: Address,
        port: int,
        *,
        now: float,
        local_port: int | None = None,
        outbound_streams: int | None = None,
    ) -> Association:
        """Start an association to ``address`` (IP and UDP encapsulation port), SCTP ``port``;
        ``outbound_streams`` overrides the configuration's OS for this association."""
        if not 0 < port < 65536:
            raise LocalProtocolError(f"port {port} is not in 1-65535")
        config = self.config
        if outbound_streams is not None:
            if not 0 < outbound_streams < 65536:
                raise LocalProtocolError(f"{outbound_streams} streams is not in 1-65535")
            config = replace(config, outbound_streams=outbound_streams)
        if local_port is None:
            local_port = self._ephemeral_port(port, address.host)
        existing = self._by_key.get((local_port, port, address.host))
        if existing is not None and not existing.closed:
            raise LocalProtocolError(
                f"an association {local_port} -> {address.host}:{port} exists already"
            )
        association = Association(
            config,
            local_port=local_port,
            peer_port=port,
            peer_address=address,
            signer=self._signer,
            association_id=self._take_id(),
        )
        self._adopt(association)
        association.connect(now=now)
        return association

    def _ephemeral_port(self, port: int, host: str) -> int:
        start = int.from_bytes(self.config.random_bytes(2), "big") % _EPHEMERAL_COUNT
        for i in range(_EPHEMERAL_COUNT):
            candidate = _EPHEMERAL_FIRST + (start + i) % _EPHEMERAL_COUNT
            existing = self._by_key.get((candidate, port, host))
            if candidate not in self._listening and (existing is None or existing.closed):
                return candidate
        raise LocalProtocolError("no free local port")

    def _take_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def _adopt(self, association: Association) -> None:
        association.on_event = self._flag_events
        association.on_paths_changed = self._index
        self._associations.append(association)
        self._index(association)

    def _index(self, association: Association) -> None:
        by_key = self._by_key
        for address in association.peer_addresses:
            key = (association.local_port, association.peer_port, address.host)
            existing = by_key.get(key)
            if existing is None or existing.closed:  # a closed one may await its last event
                by_key[key] = association

    def _unindex(self, association: Association) -> None:
        for address in association.peer_addresses:
            key = (association.local_port, association.peer_port, address.host)
            if self._by_key.get(key) is association:
                del self._by_key[key]

    def _flag_events(self, association: Association) -> None:
        if association.id not in self._flagged:
            self._flagged.add(association.id)
            self._with_events.append(association)

    def pause_events(self, association: Association) -> None:
        """Hold back ``association``'s events (``next_event`` skips it) until
        ``resume_events``: its received messages stay in its receive window, so a reader that
        falls behind closes the window and the peer stops sending (RFC 9260 section 6.2), while
        the other associations of the endpoint go on."""
        self._paused.add(association.id)

    def resume_events(self, association: Association) -> None:
        """Deliver ``association``'s events again, those held back first."""
        self._paused.discard(association.id)
        if association.has_events:
            self._flag_events(association)

    def next_event(self) -> tuple[Association, AssociationEvent] | None:
        """The next event of any association whose events are not paused, with the association
        it belongs to."""
        queue = self._with_events
        while queue:
            association = queue[0]
            if association.id in self._paused:
                queue.popleft()
                self._flagged.discard(association.id)
                continue
            event = association.next_event()
            if event is not None:
                return association, event
            queue.popleft()
            self._flagged.discard(association.id)
            if association.closed:
                self._paused.discard(association.id)
                self._forget(association)
        return None

    def _forget(self, association: Association) -> None:
        # Its last packets (ABORT, SHUTDOWN COMPLETE) still go out; a closed association only
        # hands over what it had queued, so the time does not matter.
        self._ready.extend(association.packets_to_send(now=0.0))
        self._unindex(association)
        if association in self._associations:
            self._associations.remove(association)

    # --- network side ---------------------------------------------------------------------------

    def receive_packet(
        self, data: bytes, *, source: Address, destination: Address | None = None, now: float
    ) -> None:
        """Process one received SCTP packet (the UDP payload when encapsulated).

        ``source`` is the sender's IP address and UDP source port (0 without encapsulation);
        ``destination`` the local address it was sent to, when the I/O layer knows it.
        """
        if len(data) < 16 or not checksum_ok(data):
            self.dropped += 1
            return  # RFC 9260 section 6.8: silently discard
        src_port, dst_port, tag = COMMON_HEADER.unpack_from(data)
        association = self._by_key.get((dst_port, src_port, source.host))
        if association is not None and not association.closed:
            association.receive_verified(data, source=source, tag=tag, now=now)
            if association.closed:
                self._unindex(association)
            return
        try:
            self._no_association(data, source, destination, src_port, dst_port, tag, now)
        except MalformedPacket:
            self.dropped += 1

    def _no_association(
        self,
        data: bytes,
        source: Address,
        destination: Address | None,
        src_port: int,
        dst_port: int,
        tag: int,
        now: float,
    ) -> None:
        types: list[tuple[int, int, int, int]] = []
        offset = 12
        while offset < len(data):
            if len(data) - offset < 4:
                raise MalformedPacket("stray bytes after the last chunk")
            type_, flags, length = CHUNK_HEADER.unpack_from(data, offset)
            if length < 4 or offset + length > len(data):
                raise MalformedPacket("bad chunk length")
            types.append((type_, flags, offset + 4, offset + length))
            offset = (offset + length + 3) & ~3
        if not types:
            return
        first, first_flags, start, end = types[0]
        if first == ChunkType.INIT:
            if len(types) == 1 and tag == 0:  # RFC 9260 sections 6.10, 8.5.1 A
                init = parse_chunk(first, first_flags, data, start, end)
                assert isinstance(init, InitChunk)
                self._on_init(init, source, destination, src_port, dst_port, now)
            return
        if first == ChunkType.COOKIE_ECHO:
            self._on_cookie_echo(data, source, src_port, dst_port, tag, start, end, now)
            return
        self._out_of_the_blue(types, source, src_port, dst_port, tag)

    def _on_init(
        self,
        init: InitChunk,
        source: Address,
        destination: Address | None,
        src_port: int,
        dst_port: int,
        now: float,
    ) -> None:
        # An INIT from a new address of an existing association (restart, RFC 9260 5.2.2).
        for host in examine_params(init.params).addresses:
            existing = self._by_key.get((dst_port, src_port, host))
            if existing is not None and not existing.closed:
                packet = serialize_packet(src_port, dst_port, 0, [init.serialize()])
                existing.receive_verified(packet, source=source, tag=0, now=now)
                return
        policy = self.config.ootb_policy
        listener = self._listening.get(dst_port)
        if listener is not None and not listener.accepts(destination):
            listener = None
        if listener is None:
            if init.initiate_tag != 0 and policy is OotbPolicy.REPLY:
                # RFC 9260 section 8.4 item 3: ABORT with the INIT's tag and T bit clear.
                self._reply(dst_port, src_port, init.initiate_tag, AbortChunk(), source)
            return
        answer = answer_init(
            listener.config,
            self._signer,
            init,
            source=source,
            local_port=dst_port,
            peer_port=src_port,
            local_tag=self.config.random_u32(nonzero=True),
            local_initial_tsn=self.config.random_u32(),
            now=now,
        )
        if answer is not None:
            self._reply(dst_port, src_port, answer.verification_tag, answer.chunk, source)

    def _on_cookie_echo(
        self,
        data: bytes,
        source: Address,
        src_port: int,
        dst_port: int,
        tag: int,
        start: int,
        end: int,
        now: float,
    ) -> None:
        """RFC 9260 section 5.1.5: verify the cookie, then build the association from it."""
        state = self._signer.verify(data[start:end])
        if state is None or tag != state.local_tag:
            self.dropped += 1
            return  # section 5.1.5 steps 1-2: silently discarded
        if state.local_port != dst_port or state.peer_port != src_port:
            self.dropped += 1
            return
        expiry = state.created + state.lifetime
        if now > expiry:
            # Section 5.1.5 step 3: Stale Cookie, with the staleness in microseconds.
            cause = Cause.stale_cookie(int((now - expiry) * 1_000_000))
            self._reply(dst_port, src_port, state.peer_tag, ErrorChunk((cause,)), source)
            return
        if dst_port not in self._listening:
            self.dropped += 1
            return
        association = Association.from_cookie(
            self.config,
            state,
            source=source,
            signer=self._signer,
            association_id=self._take_id(),
            now=now,
        )
        self._adopt(association)
        association.receive_verified(data, source=source, tag=tag, now=now)

    def _out_of_the_blue(
        self,
        chunks: list[tuple[int, int, int, int]],
        source: Address,
        src_port: int,
        dst_port: int,
        tag: int,
    ) -> None:
        """RFC 9260 section 8.4, items 2 and 5-8."""
        self.dropped += 1
        if self.config.ootb_policy is OotbPolicy.SILENT:
            return
        types = [t for t, _, _, _ in chunks]
        if ChunkType.ABORT in types:
            return  # item 2
        if ChunkType.SHUTDOWN_ACK in types:
            # Item 5: SHUTDOWN COMPLETE with the T bit and the packet's tag.
            self._reply(dst_port, src_port, tag, ShutdownCompleteChunk(reflected=True), source)
            return
        if types[0] in (ChunkType.SHUTDOWN_COMPLETE, ChunkType.COOKIE_ACK, ChunkType.ERROR):
            return  # items 6 and 7 (an ERROR without a TCB is not worth an ABORT either)
        # Item 8: ABORT with the T bit, the packet's tag reflected.
        self._reply(dst_port, src_port, tag, AbortChunk(reflected=True), source)

    def _reply(
        self,
        src_port: int,
        dst_port: int,
        tag: int,
        chunk: Chunk,
        destination: Address,
    ) -> None:
        self._ready.append(
            (serialize_packet(src_port, dst_port, tag, [chunk.serialize()]), destination)
        )

    def handle_icmp_error(
        self,
        kind: IcmpError,
        *,
        destination: Address,
        quoted: bytes,
        now: float,
        mtu: int | None = None,
    ) -> None:
        """An ICMP error for a packet sent to ``destination``; ``quoted`` is the start of that
        SCTP packet as the ICMP message quotes it (at least the ports and the tag).

        RFC 9260 appendix C: the quoted verification tag must be the peer's; for an INIT (tag 0)
        the quoted Initiate Tag, when present, must be ours.
        """
        if len(quoted) < 8:
            return
        src_port, dst_port, tag = COMMON_HEADER.unpack_from(quoted)
        association = self._by_key.get((src_port, dst_port, destination.host))
        if association is None or association.closed:
            return
        if tag != association.peer_tag:
            if tag != 0 or association.state is not State.COOKIE_WAIT:
                return
            if len(quoted) >= 20 and _U32.unpack_from(quoted, 16)[0] != association.local_tag:
                return
        association.handle_icmp_error(kind, destination=destination, now=now, mtu=mtu)
        if association.closed:
            self._unindex(association)

    # --- output and timers ----------------------------------------------------------------------

    def packets_to_send(self, *, now: float) -> list[tuple[bytes, Address]]:
        """Every packet due now, from every association and the endpoint's own answers."""
        ready = self._ready
        self._ready = []
        for association in self._associations:
            packets = association.packets_to_send(now=now)
            if packets:
                ready.extend(packets)
        return ready

    def get_timer(self) -> float | None:
        deadline: float | None = None
        for association in self._associations:
            t = association.get_timer()
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        return deadline

    def handle_timer(self, *, now: float) -> None:
        for association in list(self._associations):
            t = association.get_timer()
            if t is not None and t <= now:
                association.handle_timer(now=now)
                if association.closed:
                    self._unindex(association)
