"""An SCTP association (RFC 9260), sans-IO.

Three sources drive it: the application (``connect``, ``send``, ``shutdown``, ``abort``,
``reset_streams``, ``add_streams``), the network (``receive_packet``) and the clock
(``handle_timer``). After any of them, call ``packets_to_send(now=...)`` and send what it returns,
re-arm one timer at ``get_timer()``, and drain ``next_event()``. Nothing here reads a clock,
touches a socket or draws ambient randomness.

Rules of the state machine (RFC 9260 section 4), as ``_HANDLERS`` below implements them:

1. Every chunk type has one handler and the set of states it is processed in; in other states
   the chunk is discarded (for example DATA before ESTABLISHED, COOKIE ACK outside COOKIE-ECHOED,
   INIT ACK outside COOKIE-WAIT: sections 5.2.3, 5.2.5).
2. A packet's verification tag is checked before any chunk is processed (section 8.5): it must be
   our tag, except INIT (tag 0, alone in the packet), ABORT and SHUTDOWN COMPLETE (our tag, or the
   peer's with the T bit: section 8.5.1), and COOKIE ECHO (checked against the cookie).
3. Unknown chunk types are handled by their two high bits (section 3.2): 00 stop and discard,
   01 stop, discard and report, 10 skip, 11 skip and report.
4. A ``ProtocolViolation`` raised by a handler becomes an ABORT with its cause at one place,
   ``_receive``; a ``MalformedPacket`` discards the rest of the packet. Neither escapes.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from .chunks import (
    CHUNK_HEADER,
    COMMON_HEADER,
    DATA_HEADER,
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    ReconfigChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    checksum_ok,
    parse_chunk,
    serialize_packet,
)
from .config import Address, Configuration
from .constants import (
    DATA_FLAG_BEGIN,
    DATA_FLAG_END,
    DATA_FLAG_IMMEDIATE,
    DATA_FLAG_UNORDERED,
    FLAG_T,
    SSN_MASK,
    TSN_MASK,
    ChunkType,
    ErrorCause,
    ParamType,
    ReconfigResult,
)
from .cookie import CookieSigner, CookieState
from .errors import LocalProtocolError, MalformedPacket, ProtocolViolation
from .events import (
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    AssociationRestarted,
    CloseReason,
    ErrorReported,
    MessageReceived,
    PathState,
    PathStateChanged,
    SendFailed,
    StreamsAdded,
    StreamsReset,
)
from .handshake import answer_init, examine_params, local_init, same_family
from .inbound import Inbound, tsn_ge, tsn_gt
from .params import (
    AddIncomingStreamsRequest,
    AddOutgoingStreamsRequest,
    Cause,
    CookiePreservative,
    HeartbeatInfo,
    IncomingSsnResetRequest,
    Ipv4Address,
    Ipv6Address,
    OutgoingSsnResetRequest,
    Param,
    ReconfigResponse,
    SsnTsnResetRequest,
)
from .path import Path

__all__ = [
    "TRANSITIONS",
    "Association",
    "IcmpError",
    "Metrics",
    "State",
    "Transition",
    "state_diagram",
]


class State(Enum):
    """Association states (RFC 9260 section 4)."""

    CLOSED = "closed"
    COOKIE_WAIT = "cookie-wait"
    COOKIE_ECHOED = "cookie-echoed"
    ESTABLISHED = "established"
    SHUTDOWN_PENDING = "shutdown-pending"
    SHUTDOWN_SENT = "shutdown-sent"
    SHUTDOWN_RECEIVED = "shutdown-received"
    SHUTDOWN_ACK_SENT = "shutdown-ack-sent"


class IcmpError(Enum):
    """ICMP errors the I/O layer reports for a destination (RFC 9260 appendix C)."""

    PROTOCOL_UNREACHABLE = "protocol-unreachable"
    PORT_UNREACHABLE = "port-unreachable"
    ADMIN_PROHIBITED = "admin-prohibited"
    HOST_UNREACHABLE = "host-unreachable"
    FRAGMENTATION_NEEDED = "fragmentation-needed"


@dataclass(frozen=True, slots=True)
class Metrics:
    """A snapshot of an association's transmission state (``Association.metrics()``)."""

    state: State
    cwnd: int
    "Congestion window of the primary path, bytes."
    ssthresh: int
    srtt: float | None
    "Smoothed RTT of the primary path, seconds (None before the first measurement)."
    rto: float
    flight: int
    "Bytes sent and not yet acknowledged."
    peer_rwnd: int
    buffered: int
    "User bytes queued or unacknowledged."
    retransmissions: int
    "DATA chunks sent again (T3 and fast retransmit)."
    fast_retransmits: int
    t3_expirations: int
    primary: Address


_S = State


class Transition(NamedTuple):
    """One edge of the state machine: from, to, what causes it, and where the RFC says so."""

    source: State | None
    "None: from every state but CLOSED."
    target: State
    trigger: str
    section: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(_S.CLOSED, _S.COOKIE_WAIT, "connect(): send INIT, start T1-init", "5.1 A"),
    Transition(_S.CLOSED, _S.ESTABLISHED, "valid COOKIE ECHO: send COOKIE ACK", "5.1 D"),
    Transition(_S.COOKIE_WAIT, _S.COOKIE_ECHOED, "INIT ACK: send COOKIE ECHO", "5.1 C"),
    Transition(_S.COOKIE_WAIT, _S.ESTABLISHED, "COOKIE ECHO, setup collision", "5.2.4 B"),
    Transition(_S.COOKIE_ECHOED, _S.ESTABLISHED, "COOKIE ACK (or a crossing COOKIE ECHO)", "5.1 E"),
    Transition(_S.COOKIE_ECHOED, _S.COOKIE_WAIT, "ERROR Stale Cookie: new INIT", "5.2.6"),
    Transition(_S.ESTABLISHED, _S.SHUTDOWN_PENDING, "shutdown()", "9.2"),
    Transition(_S.SHUTDOWN_PENDING, _S.SHUTDOWN_SENT, "all data acked: send SHUTDOWN", "9.2"),
    Transition(_S.ESTABLISHED, _S.SHUTDOWN_RECEIVED, "SHUTDOWN", "9.2"),
    Transition(_S.SHUTDOWN_PENDING, _S.SHUTDOWN_RECEIVED, "SHUTDOWN", "9.2"),
    Transition(
        _S.SHUTDOWN_RECEIVED, _S.SHUTDOWN_ACK_SENT, "all data acked: send SHUTDOWN ACK", "9.2"
    ),
    Transition(_S.SHUTDOWN_SENT, _S.SHUTDOWN_ACK_SENT, "SHUTDOWN (collision)", "9.2"),
    Transition(_S.SHUTDOWN_SENT, _S.CLOSED, "SHUTDOWN ACK: send SHUTDOWN COMPLETE", "9.2"),
    Transition(_S.SHUTDOWN_ACK_SENT, _S.CLOSED, "SHUTDOWN COMPLETE (or SHUTDOWN ACK)", "9.2"),
    Transition(_S.ESTABLISHED, _S.ESTABLISHED, "COOKIE ECHO of a restarted peer", "5.2.4 A"),
    Transition(_S.SHUTDOWN_PENDING, _S.ESTABLISHED, "COOKIE ECHO of a restarted peer", "5.2.4 A"),
    Transition(_S.SHUTDOWN_SENT, _S.ESTABLISHED, "COOKIE ECHO of a restarted peer", "5.2.4 A"),
    Transition(_S.SHUTDOWN_RECEIVED, _S.ESTABLISHED, "COOKIE ECHO of a restarted peer", "5.2.4 A"),
    Transition(
        None,
        _S.CLOSED,
        "ABORT, abort(), retransmission limit, protocol violation, ICMP while connecting",
        "9.1, 8.1",
    ),
)
"""Every state change the association makes; the state setter refuses any other, and the
diagram in docs/sctp-core.md is generated from this table (``state_diagram()``)."""

_ALLOWED = frozenset((t.source, t.target) for t in TRANSITIONS if t.source is not None) | frozenset(
    (source, _S.CLOSED) for source in State if source is not _S.CLOSED
)


def state_diagram() -> str:
    """The state machine as a Mermaid diagram, generated from ``TRANSITIONS``."""
    names = {state: state.name for state in State}
    lines = ["stateDiagram-v2", "    [*] --> CLOSED"]
    for t in TRANSITIONS:
        label = f"{t.trigger} (§{t.section})"
        if t.source is None:
            lines.append(f"    any_open --> {names[t.target]} : {label}")
        else:
            lines.append(f"    {names[t.source]} --> {names[t.target]} : {label}")
    lines.append('    state "any state but CLOSED" as any_open')
    return "\n".join(lines) + "\n"


_DATA_STATES = frozenset(
    {_S.ESTABLISHED, _S.SHUTDOWN_PENDING, _S.SHUTDOWN_SENT, _S.SHUTDOWN_RECEIVED}
)
_SEND_STATES = frozenset({_S.COOKIE_WAIT, _S.COOKIE_ECHOED, _S.ESTABLISHED})
_UP_STATES = frozenset(
    {
        _S.ESTABLISHED,
        _S.SHUTDOWN_PENDING,
        _S.SHUTDOWN_SENT,
        _S.SHUTDOWN_RECEIVED,
        _S.SHUTDOWN_ACK_SENT,
    }
)
_ALL_BUT_CLOSED = frozenset(State) - {_S.CLOSED}
_SENDING_STATES = frozenset({_S.ESTABLISHED, _S.SHUTDOWN_PENDING, _S.SHUTDOWN_RECEIVED})

_PADDING = (b"", b"\0\0\0", b"\0\0", b"\0")
_HALF = 1 << 31  # serial number arithmetic (RFC 1982): a is after b when (a - b) mod 2**32 < this
_HB_INFO = struct.Struct("!8sdI")
_DATA_FIELDS = struct.Struct("!IHHI")
_SACK_FIXED = struct.Struct("!IIHH")
_U16_U16 = struct.Struct("!HH")
_U32 = struct.Struct("!I")


class _Message:
    """One user message on the send side; its fragments share it (PR-SCTP abandons them all).

    It keeps the message bytes for ``SendFailed`` but no list of its chunks: chunks point to
    their message and nothing points back, so no reference cycle is created per message.
    """

    __slots__ = ("abandoned", "data", "expires", "max_retransmissions", "ppid", "stream")

    def __init__(
        self,
        stream: int,
        ppid: int,
        data: bytes,
        expires: float | None,
        max_retransmissions: int | None,
    ) -> None:
        self.stream = stream
        self.ppid = ppid
        self.data = data
        self.expires = expires
        self.max_retransmissions = max_retransmissions
        self.abandoned = False


class _OutChunk:
    """A DATA chunk on the send side, from queueing to acknowledgement."""

    __slots__ = (
        "abandoned",
        "acked",
        "data",
        "expires",
        "fast_retransmitted",
        "flags",
        "header",
        "message",
        "misses",
        "path",
        "ppid",
        "refast_from",
        "retransmit",
        "sent_at",
        "size",
        "ssn",
        "stream",
        "transmissions",
        "tsn",
    )

    def __init__(self, message: _Message, ssn: int, flags: int, data: bytes) -> None:
        self.tsn = 0
        self.stream = message.stream
        self.ssn = ssn
        self.ppid = message.ppid
        self.flags = flags
        self.data = data
        self.size = len(data)
        self.message = message
        self.expires = message.expires
        self.header = b""
        "The DATA chunk header of the first transmission, once a TSN is assigned."
        self.sent_at = 0.0
        self.transmissions = 0
        self.acked = False
        self.abandoned = False
        self.misses = 0
        self.fast_retransmitted = False
        self.refast_from = 0
        "The first TSN sent after this chunk's fast retransmission (see ``_count_misses``)."
        self.retransmit = False
        self.path: Path | None = None


def _wire(chunk: _OutChunk) -> list[bytes]:
    """The pieces of a DATA chunk for retransmission: its original header (same TSN; the I bit
    cleared), the data and the padding."""
    header = chunk.header
    if header[1] & DATA_FLAG_IMMEDIATE:
        header = header[:1] + bytes([header[1] & ~DATA_FLAG_IMMEDIATE]) + header[2:]
    return [header, chunk.data, _PADDING[(16 + chunk.size) & 3]]


class Association:
    """One SCTP association. Create it with ``Endpoint.connect`` (or directly, then call
    ``connect``); the passive side is created by the endpoint from a valid COOKIE ECHO."""

    def __init__(
        self,
        config: Configuration,
        *,
        local_port: int,
        peer_port: int,
        peer_address: Address,
        signer: CookieSigner | None = None,
        association_id: int = 0,
    ) -> None:
        self.config = config
        self.id = association_id
        self.local_port = local_port
        self.peer_port = peer_port
        self._state = State.CLOSED
        self.closed = True
        self._receives_data = self._sends_data = self._up = self._accepts_sends = False
        self.was_established = False
        self._signer = signer if signer is not None else CookieSigner(config)
        self._events: deque[AssociationEvent] = deque()
        self.on_event: Callable[[Association], None] | None = None
        "Called when an event is queued while the queue was empty (the endpoint's hook)."
        self.on_paths_changed: Callable[[Association], None] | None = None
        "Called when peer addresses were added (the endpoint indexes them for demultiplexing)."

        self.local_tag = config.random_u32(nonzero=True)
        self.peer_tag = 0
        self._initial_tsn = config.random_u32()
        self._paths: dict[str, Path] = {}
        self._primary = self._add_path(peer_address, confirmed=True)
        # Send side (set again by _reset_send_state on a restart).
        self._next_tsn: int = 0
        self._cum_ack: int = 0
        "The peer's cumulative TSN ack of our data."
        self._advanced_ack_point: int = 0
        "RFC 3758 Advanced.Peer.Ack.Point."
        self._ssn: dict[int, int] = {}
        self._pending: deque[_OutChunk] = deque()
        "Queued, never sent; TSNs are assigned on first transmission."
        self._sent: deque[_OutChunk] = deque()
        "Sent and above the cumulative ack, in TSN order."
        self._by_tsn: dict[int, _OutChunk] = {}
        self._buffered: int = 0
        self._released_bytes: int = 0
        "Bytes acknowledged since the last flush (Max.Burst counts beyond them)."
        self._flight: int = 0
        self._retransmit_count: int = 0
        self._fast_retransmit_pending: int = 0
        self._gap_acked: int = 0
        self._fast_recovery_exit: int | None = None
        self._forward_tsn_needed: bool = False
        self._abandoned_sent: int = 0
        self._peer_seen: bool = False
        self._t2_count: int = 0
        self._reconfig_count: int = 0
        self._reset_send_state(self._initial_tsn)
        self._inbound: Inbound | None = None
        self.outbound_streams = 0
        self.inbound_streams = 0
        self.peer_partial_reliability = False
        self.peer_reconfig = False
        self._peer_rwnd = config.receive_window
        self._advertised_rwnd = config.receive_window
        self._receive_window = config.receive_window
        # A window update is worth a SACK once it grew by this much (SWS avoidance).
        self._window_step = max(self._primary.max_packet, config.receive_window // 4)

        # Control chunks waiting for the next packet, and finished packets.
        self._lead: bytes | None = None  # COOKIE ECHO or COOKIE ACK: first in the next packet
        self._control: list[tuple[bytes, Path | None]] = []
        self._ready: list[tuple[bytes, Address]] = []
        # Acknowledgement state (RFC 9260 section 6.2).
        self._sack_now = False
        self._unacked_packets = 0
        self._first_data = True
        # Timers (absolute times in the caller's clock), and their retry counters.
        self._t1: float | None = None
        self._t1_count = 0
        self._t2: float | None = None
        self._t5: float | None = None
        self._sack_timer: float | None = None
        self._reconfig_timer: float | None = None
        self._error_count = 0
        self._retransmissions = 0
        self._fast_retransmits = 0
        self._t3_expirations = 0
        self._init_chunk = b""
        self._cookie_echo = b""
        self._shutdown_requested = False
        # RE-CONFIG (RFC 6525).
        self._reconfig_request: Param | None = None
        self._reconfig_request_seq = self._initial_tsn
        self._peer_request_seq = 0
        self._deferred_reset: OutgoingSsnResetRequest | None = None
        self._resetting_streams: tuple[int, ...] | None = None
        self._held: list[tuple[bytes, int, int, bool, float | None, int | None]] = []
        self._last_response: ReconfigResponse | None = None

    # ======================================================================== public API

    @property
    def peer_addresses(self) -> tuple[Address, ...]:
        primary = self._primary.address
        return (primary, *(p.address for p in self._paths.values() if p is not self._primary))

    @property
    def state(self) -> State:
        """The association state (RFC 9260 section 4)."""
        return self._state

    @state.setter
    def state(self, value: State) -> None:
        assert value is self._state or (self._state, value) in _ALLOWED, (self._state, value)
        # Flags the per-packet paths test instead of hashing the enum each time.
        self._state = value
        self.closed = value is State.CLOSED
        self._receives_data = value in _DATA_STATES
        self._sends_data = value in _SENDING_STATES
        self._up = value in _UP_STATES
        self._accepts_sends = value in _SEND_STATES

    @property
    def primary_address(self) -> Address:
        return self._primary.address

    @property
    def buffered_amount(self) -> int:
        """User data bytes queued or sent but not yet acknowledged (send-side back-pressure)."""
        return self._buffered

    @property
    def receive_window(self) -> int:
        """The a_rwnd this side advertises now."""
        held = self._inbound.buffered if self._inbound is not None else 0
        return max(0, self.config.receive_window - held)

    def metrics(self) -> Metrics:
        primary = self._primary
        return Metrics(
            state=self._state,
            cwnd=primary.cwnd,
            ssthresh=primary.ssthresh,
            srtt=primary.srtt,
            rto=primary.rto,
            flight=self._flight,
            peer_rwnd=self._peer_rwnd,
            buffered=self._buffered,
            retransmissions=self._retransmissions,
            fast_retransmits=self._fast_retransmits,
            t3_expirations=self._t3_expirations,
            primary=primary.address,
        )

    def path_state(self, host: str) -> PathState | None:
        path = self._paths.get(host)
        return path.state if path is not None else None

    def connect(self, *, now: float) -> None:
        """Send INIT (RFC 9260 section 5.1 step A) and start T1-init."""
        if self.state is not State.CLOSED or self.was_established:
            raise LocalProtocolError(f"connect() in state {self.state.value}")
        self._send_init(now, preservative_ms=0)
        self.state = State.COOKIE_WAIT

    def send(
        self,
        data: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        ttl: float | None = None,
        max_retransmissions: int | None = None,
        now: float = 0.0,
    ) -> None:
        """Queue one user message (RFC 9260 section 10.1 SEND).

        ``ttl`` (seconds from ``now``) and ``max_retransmissions`` make it partially reliable
        (RFC 3758, RFC 7496): past either limit it is abandoned and reported with ``SendFailed``.
        """
        if not self._accepts_sends or self._shutdown_requested:
            raise LocalProtocolError(f"cannot send in state {self.state.value}")
        if not data:
            raise LocalProtocolError("an SCTP message carries at least one byte (section 3.3.1)")
        limit = self.outbound_streams or self.config.outbound_streams
        if not 0 <= stream < limit:
            raise LocalProtocolError(f"stream {stream} is not below the {limit} outbound streams")
        if self._resetting_streams is not None and (
            not self._resetting_streams or stream in self._resetting_streams
        ):
            self._held.append((bytes(data), stream, ppid, unordered, ttl, max_retransmissions))
            return
        data = bytes(data)
        message = _Message(
            stream, ppid, data, None if ttl is None else now + ttl, max_retransmissions
        )
        if unordered:
            ssn = 0
        else:
            ssn = self._ssn.get(stream, 0)
            self._ssn[stream] = (ssn + 1) & SSN_MASK
        base = DATA_FLAG_UNORDERED if unordered else 0
        size = self._primary.max_data_payload
        length = len(data)
        self._buffered += length
        if length <= size:
            self._pending.append(
                _OutChunk(message, ssn, base | DATA_FLAG_BEGIN | DATA_FLAG_END, data)
            )
            return
        view = memoryview(data)
        for offset in range(0, length, size):
            flags = base
            if offset == 0:
                flags |= DATA_FLAG_BEGIN
            if offset + size >= length:
                flags |= DATA_FLAG_END
            self._pending.append(
                _OutChunk(message, ssn, flags, bytes(view[offset : offset + size]))
            )

    def shutdown(self, *, now: float) -> None:
        """Graceful close (RFC 9260 section 9.2): send what is queued, then SHUTDOWN."""
        if self.state is State.COOKIE_WAIT:
            self._close(CloseReason.SHUTDOWN, detail="shutdown before the handshake completed")
            return
        if self.state is State.COOKIE_ECHOED:
            self._shutdown_requested = True
            return
        if self.state is not State.ESTABLISHED:
            return
        self.state = State.SHUTDOWN_PENDING
        self._maybe_finish_shutdown(now)

    def abort(self, reason: bytes = b"", *, now: float = 0.0) -> None:
        """Send ABORT with User-Initiated Abort (RFC 9260 section 9.1) and close at once."""
        if self.state is State.CLOSED:
            return
        if self.state is not State.COOKIE_WAIT or self.peer_tag:
            cause = Cause.user_initiated_abort(reason)
            self._send_alone(AbortChunk((cause,)).serialize(), self.peer_tag, self._primary)
        elif self.state is State.COOKIE_WAIT:
            # The peer's tag is not known yet: the T bit says the tag is our own.
            chunk = AbortChunk((Cause.user_initiated_abort(reason),), reflected=True)
            self._send_alone(chunk.serialize(), self.local_tag, self._primary)
        self._close(
            CloseReason.LOCAL_ABORT, error_cause=ErrorCause.USER_INITIATED_ABORT, detail="abort()"
        )

    def reset_streams(self, streams: tuple[int, ...] = (), *, now: float) -> None:
        """Reset the SSNs of outgoing streams (RFC 6525 section 5.1.2; empty: all streams).

        Messages sent on those streams meanwhile wait and go out after the reset, with the new
        numbering.
        """
        if self.state is not State.ESTABLISHED or not self.peer_reconfig:
            raise LocalProtocolError("stream reset needs an established association with RE-CONFIG")
        if self._resetting_streams is not None or self._reconfig_request is not None:
            raise LocalProtocolError("a stream reconfiguration is already in progress")
        self._resetting_streams = tuple(streams)
        self._maybe_send_reset(now)

    def add_streams(self, count: int, *, now: float) -> None:
        """Add outgoing streams (RFC 6525 section 5.1.5)."""
        if self.state is not State.ESTABLISHED or not self.peer_reconfig:
            raise LocalProtocolError(
                "adding streams needs an established association with RE-CONFIG"
            )
        if self._reconfig_request is not None or self._resetting_streams is not None:
            raise LocalProtocolError("a stream reconfiguration is already in progress")
        if not 0 < count <= 0xFFFF - self.outbound_streams:
            raise LocalProtocolError(f"cannot add {count} streams")
        self._start_reconfig(AddOutgoingStreamsRequest(self._take_request_seq(), count), now)

    @property
    def has_events(self) -> bool:
        """Whether ``next_event`` has something to return."""
        return bool(self._events)

    def next_event(self) -> AssociationEvent | None:
        """The next event, or None. Taking a ``MessageReceived`` frees its bytes from the receive
        window; call ``packets_to_send`` afterwards, a window update may be due."""
        events = self._events
        if not events:
            return None
        event = events.popleft()
        if type(event) is MessageReceived and self._inbound is not None:
            inbound = self._inbound
            inbound.buffered -= len(event.data)
            inbound.unread -= len(event.data)
            # RFC 9260 section 6.2 (SWS avoidance): announce a window that opened by a
            # meaningful amount, since the peer may be waiting for it.
            window = self.config.receive_window - inbound.buffered
            if window - self._advertised_rwnd >= self._window_step and self._receives_data:
                self._sack_now = True
        return event

    def receive_packet(self, data: bytes, *, source: Address, now: float) -> None:
        """Process one packet received from ``source`` (IP address and UDP encapsulation port)."""
        if len(data) < 12 or not checksum_ok(data):
            return
        src_port, dst_port, tag = COMMON_HEADER.unpack_from(data)
        if src_port != self.peer_port or dst_port != self.local_port:
            return
        self.receive_verified(data, source=source, tag=tag, now=now)

    def packets_to_send(self, *, now: float) -> list[tuple[bytes, Address]]:
        """Packets to transmit now, each with its destination (address and UDP port)."""
        self._flush(now)
        # RFC 9260 section 7.2.1: the window grows only if it was fully used "before the
        # arrival of the SACK". A driver feeds every packet that is ready before it asks for
        # packets again, so all SACKs of such a batch arrived when the window was as the last
        # flush left it; judging it per SACK would count the acks of one batch as emptying
        # the window for the next one, and a busy receiver would stop the window from growing.
        for path in self._paths.values():
            path.window_full = path.flight + path.max_packet >= path.cwnd
        ready = self._ready
        self._ready = []
        return ready

    def get_timer(self) -> float | None:
        """The earliest deadline at which ``handle_timer`` must run, or None."""
        deadline = self._t1
        for t in (self._t2, self._t5, self._sack_timer, self._reconfig_timer):
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        for path in self._paths.values():
            for t in (path.t3, path.heartbeat_at):
                if t is not None and (deadline is None or t < deadline):
                    deadline = t
        return deadline

    def handle_timer(self, *, now: float) -> None:
        """Run every timer that has expired at ``now``."""
        if self._t1 is not None and self._t1 <= now:
            self._on_t1(now)
        if self._t2 is not None and self._t2 <= now:
            self._on_t2(now)
        if self._t5 is not None and self._t5 <= now:
            self._t5 = None
            self._abort_with(
                Cause.user_initiated_abort(b"T5-shutdown-guard"),
                CloseReason.SHUTDOWN_GUARD,
                detail="T5-shutdown-guard expired",
            )
            return
        if self._sack_timer is not None and self._sack_timer <= now:
            self._sack_timer = None
            self._sack_now = True
        if self._reconfig_timer is not None and self._reconfig_timer <= now:
            self._on_reconfig_timer(now)
        for path in list(self._paths.values()):
            if self.state is State.CLOSED:
                return
            if path.t3 is not None and path.t3 <= now:
                self._on_t3(path, now)
            if path.heartbeat_at is not None and path.heartbeat_at <= now:
                self._on_heartbeat_timer(path, now)

    def handle_icmp_error(
        self, kind: IcmpError, *, destination: Address, now: float, mtu: int | None = None
    ) -> None:
        """An ICMP error about a packet this association sent to ``destination``
        (RFC 9260 appendix C; the I/O layer checked the quoted ports and tag).

        Before the handshake completes an unreachable ends the connect with a reason the
        outcome vocabulary can tell apart; afterwards it counts as a path error. "Fragmentation
        needed" lowers the path MTU (RFC 9260 section 7.3).
        """
        path = self._paths.get(destination.host)
        if path is None or self.state is State.CLOSED:
            return
        if kind is IcmpError.FRAGMENTATION_NEEDED:
            if mtu is not None and mtu < path.mtu:
                path.set_mtu(mtu)
            return
        if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            reason = {
                IcmpError.PROTOCOL_UNREACHABLE: CloseReason.ICMP_PROTOCOL_UNREACHABLE,
                IcmpError.PORT_UNREACHABLE: CloseReason.ICMP_PORT_UNREACHABLE,
            }.get(kind, CloseReason.ICMP_UNREACHABLE)
            self._close(reason, detail=f"ICMP {kind.value} from {destination.host}")
            return
        self._path_error(path, now)

    # ======================================================================== receive

    def receive_verified(self, data: bytes, *, source: Address, tag: int, now: float) -> None:
        """Process a packet whose checksum and ports were checked (the endpoint's entry)."""
        try:
            self._receive(data, source, tag, now)
        except MalformedPacket:
            pass  # RFC 9260 section 6.8/3: discard the rest of the packet
        except ProtocolViolation as violation:
            self._abort_with(
                Cause(violation.cause, violation.info),
                CloseReason.PROTOCOL_VIOLATION,
                detail=violation.detail,
            )

    def _split(self, data: bytes) -> list[tuple[int, int, int, int]]:
        """(type, flags, value start, end) of every chunk; lengths are checked up front."""
        chunks = []
        offset = 12
        size = len(data)
        while offset < size:
            if size - offset < 4:
                raise MalformedPacket("stray bytes after the last chunk")
            type_, flags, length = CHUNK_HEADER.unpack_from(data, offset)
            end = offset + length
            if length < 4 or end > size:
                raise MalformedPacket(f"chunk type {type_} has a bad length {length}")
            chunks.append((type_, flags, offset + 4, end))
            offset = (end + 3) & ~3
        return chunks

    def _receive(self, data: bytes, source: Address, tag: int, now: float) -> None:
        if self.closed:
            return
        size = len(data)
        if size >= 16 and tag == self.local_tag:
            # Fast path: a packet of exactly one DATA or SACK chunk with our tag.
            type_, flags, length = CHUNK_HEADER.unpack_from(data, 12)
            end = 12 + length
            if (type_ == 0 or type_ == 3) and length >= 16 and end <= size <= end + 3:
                path = self._paths.get(source.host)
                if path is not None and path.address.udp_port != source.udp_port:
                    path.set_udp_port(source.udp_port)  # RFC 6951 section 5.4
                if type_ == 0:
                    if self._receives_data:
                        tsn, stream, ssn, ppid = _DATA_FIELDS.unpack_from(data, 16)
                        self._on_data(tsn, stream, ssn, ppid, flags, data[28:end], now)
                        self._data_packet_received(now)
                elif self._up:
                    self._on_sack_raw(data, 16, end, now)
                if self._events and self.on_event is not None:
                    self.on_event(self)
                return
        chunks = self._split(data)
        if not chunks:
            return
        first = chunks[0][0]
        # Verification tag rules (RFC 9260 section 8.5, 8.5.1).
        if first == ChunkType.INIT:
            if len(chunks) != 1 or tag != 0:
                return  # section 6.10: INIT is never bundled; 8.5.1 A: its tag is 0
        elif first in (ChunkType.ABORT, ChunkType.SHUTDOWN_COMPLETE):
            reflected = bool(chunks[0][1] & FLAG_T)
            if not (
                (not reflected and tag == self.local_tag) or (reflected and tag == self.peer_tag)
            ):
                return
        elif first == ChunkType.COOKIE_ECHO:
            pass  # checked against the cookie (section 5.2.4)
        elif first == ChunkType.SHUTDOWN_ACK and self.state in (
            State.COOKIE_WAIT,
            State.COOKIE_ECHOED,
        ):
            # Section 8.5.1 E / 8.4 item 5: treat as out of the blue.
            self._send_alone(ShutdownCompleteChunk(reflected=True).serialize(), tag, source)
            return
        elif tag != self.local_tag:
            return
        elif first in (ChunkType.INIT_ACK, ChunkType.SHUTDOWN_COMPLETE) and len(chunks) > 1:
            return  # section 6.10: never bundled; a bundle is discarded whole
        path = self._paths.get(source.host)
        if (
            path is not None
            and first != ChunkType.INIT
            and path.address.udp_port != source.udp_port
        ):
            path.set_udp_port(source.udp_port)  # RFC 6951 section 5.4: learned per path
        data_packet = False
        for type_, flags, start, end in chunks:
            if self.closed:
                return
            if type_ == 0:
                if not self._receives_data:
                    continue
                if end - start < 12:
                    raise MalformedPacket("DATA chunk shorter than its header")
                data_packet = True
                tsn, stream, ssn, ppid = _DATA_FIELDS.unpack_from(data, start)
                self._on_data(tsn, stream, ssn, ppid, flags, data[start + 12 : end], now)
                continue
            if type_ == 3:
                if self._up or self._state is State.COOKIE_ECHOED:
                    self._on_sack_raw(data, start, end, now)
                continue
            handler = _HANDLERS.get(type_)
            if handler is None:
                action = type_ >> 6
                if action & 1:  # x1: report in an ERROR chunk (section 3.2)
                    raw = bytes(data[start - 4 : end])
                    self._queue_control(ErrorChunk((Cause.unrecognized_chunk_type(raw),)))
                if not action & 2:  # 0x: stop processing the packet
                    break
                continue
            method, states = handler
            if self.state not in states:
                continue
            chunk = parse_chunk(type_, flags, data, start, end)
            if method(self, chunk, source, tag, now) is False:
                break
        if data_packet:
            self._data_packet_received(now)
        if self._events and self.on_event is not None:
            self.on_event(self)

    # --- DATA --------------------------------------------------------------------------

    def _on_data(
        self, tsn: int, stream: int, ssn: int, ppid: int, flags: int, payload: bytes, now: float
    ) -> None:
        inbound = self._inbound
        assert inbound is not None
        if not payload:
            # RFC 9260 section 6.2: a DATA chunk without user data ends the association.
            raise ProtocolViolation(
                ErrorCause.NO_USER_DATA, "DATA chunk without user data", _U32.pack(tsn)
            )
        if flags & DATA_FLAG_IMMEDIATE:
            self._sack_now = True
        cum = inbound.cumulative_tsn
        if tsn == (cum + 1) & TSN_MASK and not inbound.has_gaps:
            # The common case: the next TSN, no hole (no duplicate possible).
            if inbound.buffered + len(payload) > self._receive_window and inbound.unread:
                self._sack_now = True  # no room (section 6.2, see below)
                return
            inbound.cumulative_tsn = inbound.highest_tsn = tsn
            if stream < inbound.inbound_streams and flags & 3 == 3:
                inbound.deliver_whole(stream, ssn, ppid, flags, payload)
                return
        else:
            self._on_data_slow(inbound, tsn, stream, ssn, ppid, flags, payload)
            return
        if stream >= inbound.inbound_streams:
            # Section 6.5: acknowledge the TSN, drop the data, report the stream.
            self._queue_control(ErrorChunk((Cause.invalid_stream_identifier(stream),)))
            self._sack_now = True
            return
        inbound.accept(tsn, stream, ssn, ppid, flags, payload)

    def _on_data_slow(
        self,
        inbound: Inbound,
        tsn: int,
        stream: int,
        ssn: int,
        ppid: int,
        flags: int,
        payload: bytes,
    ) -> None:
        """DATA that is out of order, a duplicate, or beyond a gap."""
        if not inbound.is_new(tsn):
            if len(inbound.duplicates) < self.config.max_duplicate_tsns:
                inbound.duplicates.append(tsn)
            self._sack_now = True  # section 6.2: duplicates are reported at once
            return
        if (
            inbound.buffered + len(payload) > self._receive_window
            and tsn_gt(tsn, inbound.highest_tsn)
            and (inbound.unread or tsn != (inbound.cumulative_tsn + 1) & TSN_MASK)
        ):
            # Section 6.2: no room; drop TSNs beyond the highest one seen, the sender will
            # retransmit when the window opens. The next TSN in sequence is still taken while
            # the application has nothing left to read: the buffer then holds only parts of
            # messages that cannot complete otherwise (a message larger than the window).
            self._sack_now = True
            return
        in_sequence = inbound.record(tsn)
        if not in_sequence:
            self._sack_now = True  # section 6.7: a gap is reported at once
        if stream >= inbound.inbound_streams:
            # Section 6.5: acknowledge the TSN, drop the data, report the stream.
            self._queue_control(ErrorChunk((Cause.invalid_stream_identifier(stream),)))
            self._sack_now = True
            return
        inbound.accept(tsn, stream, ssn, ppid, flags, payload)

    def _data_packet_received(self, now: float) -> None:
        if self._deferred_reset is not None:
            self._check_deferred_reset(now)
        # Section 6.2: SACK at least every second packet, or within SACK.Delay; the first DATA
        # after setup is acknowledged at once (nplab A-V-9-1).
        if self._first_data:
            self._first_data = False
            self._sack_now = True
        if self.state is State.SHUTDOWN_SENT:
            # Section 9.2: respond to each DATA with SHUTDOWN (and SACK), restart T2.
            self._sack_now = True
            self._queue_control(ShutdownChunk(self._cumulative_ack()))
            self._t2 = now + self._primary.rto
        self._unacked_packets += 1
        if self._unacked_packets >= self.config.sack_frequency:
            self._sack_now = True
        elif self._sack_timer is None and not self._sack_now:
            self._sack_timer = now + self.config.sack_delay
        inbound = self._inbound
        if (
            self._sack_now
            and self._up
            and inbound is not None
            and not self._control
            and (self._lead is None)
        ):
            # A SACK is due (every second packet, or at once for gaps and duplicates: sections
            # 6.2, 6.7). It goes out now, in a packet of its own, even when the driver feeds a
            # batch of packets before one flush: one SACK per batch would make a single lost
            # SACK cost a retransmission timeout, and the sender counts miss indications per
            # SACK for fast retransmit (section 7.2.4). Control chunks waiting for the flush
            # (SHUTDOWN in SHUTDOWN-SENT, ERROR for a bad stream) keep the SACK company there.
            sack = self._build_sack()
            self._ready.append(
                (
                    serialize_packet(self.local_port, self.peer_port, self.peer_tag, [sack]),
                    self._primary.address,
                )
            )

    def _cumulative_ack(self) -> int:
        return self._inbound.cumulative_tsn if self._inbound is not None else 0

    def _build_sack(self) -> bytes:
        inbound = self._inbound
        assert inbound is not None
        window = max(0, self.config.receive_window - inbound.buffered)
        self._advertised_rwnd = window
        self._sack_now = False
        self._sack_timer = None
        self._unacked_packets = 0
        cum = inbound.cumulative_tsn
        if not inbound.has_gaps and not inbound.duplicates:
            return b"\x03\x00\x00\x10" + _SACK_FIXED.pack(cum, window, 0, 0)
        gaps = inbound.gap_blocks(self.config.max_gap_blocks)
        dups = tuple(inbound.duplicates)
        inbound.duplicates = []
        return SackChunk(cum, window, gaps, dups).serialize()

    # --- SACK --------------------------------------------------------------------------

    def _on_sack_raw(self, data: bytes, start: int, end: int, now: float) -> None:
        if end - start < 12:
            raise MalformedPacket("SACK chunk shorter than its fixed part")
        cum, a_rwnd, ngaps, ndups = _SACK_FIXED.unpack_from(data, start)
        if end - start < 12 + 4 * ngaps + 4 * ndups:
            raise MalformedPacket("SACK shorter than its gap blocks")
        gaps = (
            tuple(_U16_U16.iter_unpack(data[start + 12 : start + 12 + 4 * ngaps])) if ngaps else ()
        )
        self._process_sack(cum, a_rwnd, gaps, now)

    def _process_sack(
        self, cum: int, a_rwnd: int, gaps: tuple[tuple[int, int], ...], now: float
    ) -> None:
        """RFC 9260 sections 6.2.1 (processing), 6.3.2/6.3.3 (T3), 7.2 (congestion control)."""
        if self._state is State.COOKIE_ECHOED:
            return
        last = self._cum_ack
        if last != cum and ((last - cum) & TSN_MASK) < _HALF:
            return  # section 6.2.1 D i: an outdated SACK
        sent = self._sent
        by_tsn = self._by_tsn
        paths = self._paths.values()
        acked_per_path: dict[Path, int] = {}
        htna: int | None = None
        # Cumulatively acknowledged chunks leave the queue. The common case (first
        # transmission, one path) only adds up sizes; the rest is settled per path below.
        current: Path | None = None
        current_bytes = 0
        released = 0
        while sent:
            chunk = sent[0]
            tsn = chunk.tsn
            if tsn != cum and ((tsn - cum) & TSN_MASK) < _HALF:
                break  # beyond the cumulative ack
            sent.popleft()
            del by_tsn[tsn]
            size = chunk.size
            released += size
            owner = chunk.path
            assert owner is not None
            if chunk.acked or chunk.abandoned or chunk.retransmit:
                if chunk.retransmit:
                    chunk.retransmit = False
                    self._retransmit_count -= 1
                    if not chunk.acked and not chunk.abandoned:
                        acked_per_path[owner] = acked_per_path.get(owner, 0) + size
                        htna = tsn
                elif chunk.acked:
                    self._gap_acked -= 1
                if chunk.abandoned:
                    self._abandoned_sent -= 1
                continue
            if owner is not current:
                if current is not None:
                    acked_per_path[current] = acked_per_path.get(current, 0) + current_bytes
                current = owner
                current_bytes = 0
            current_bytes += size
            htna = tsn
            if owner.rtt_tsn == tsn:
                if chunk.transmissions == 1:
                    owner.rtt_measured(now - owner.rtt_sent)  # Karn: first transmissions only
                owner.rtt_tsn = None
        if current is not None:
            acked_per_path[current] = acked_per_path.get(current, 0) + current_bytes
            current.flight -= current_bytes
            self._flight -= current_bytes
        self._buffered -= released
        self._released_bytes += released
        cum_advanced = cum != last
        self._cum_ack = cum
        point = self._advanced_ack_point
        if cum != point and ((cum - point) & TSN_MASK) < _HALF:
            self._advanced_ack_point = cum
        if gaps or self._gap_acked:
            htna = self._process_gap_blocks(cum, gaps, acked_per_path, htna, now)
        if acked_per_path:
            self._error_count = 0
            for path in acked_per_path:
                path.error_count = 0
                if path.state is PathState.INACTIVE:
                    self._set_path_state(path, PathState.ACTIVE)
        # Congestion control per destination (section 7.2.1, 7.2.2).
        exit_point = self._fast_recovery_exit
        if exit_point is not None and tsn_ge(cum, exit_point):
            self._fast_recovery_exit = exit_point = None
        if cum_advanced and exit_point is None:
            for path, acked in acked_per_path.items():
                mtu = path.max_packet
                # Both phases only grow a window that was fully used.
                if not path.window_full:
                    continue
                if path.cwnd <= path.ssthresh:
                    path.cwnd += min(acked, mtu)  # slow start
                else:
                    path.partial_bytes_acked += acked  # congestion avoidance
                    if path.partial_bytes_acked >= path.cwnd:
                        path.partial_bytes_acked -= path.cwnd
                        path.cwnd += mtu
        # Peer window (section 6.2.1 D ii).
        rwnd = a_rwnd - self._flight
        self._peer_rwnd = rwnd if rwnd > 0 else 0
        if sent and a_rwnd < sent[0].size:
            # Section 6.1 A: a peer that keeps answering while its window is (nearly) closed is
            # alive; unacknowledged window probes do not count as errors.
            self._error_count = 0
            for path in paths:
                path.error_count = 0
        # T3-rtx (section 6.3.2 R2, R3).
        for path in paths:
            if path.flight <= 0:
                path.flight = 0
                path.t3 = None
                path.partial_bytes_acked = 0
            elif cum_advanced and path in acked_per_path:
                path.t3 = now + path.rto
        if not sent:
            self._flight = 0
            self._retransmit_count = 0
            self._gap_acked = 0
        if self._abandoned_sent:
            self._advance_ack_point()
        if self._deferred_reset is not None or self._resetting_streams is not None:
            self._maybe_send_reset(now)
        if self._state is State.SHUTDOWN_PENDING or self._state is State.SHUTDOWN_RECEIVED:
            self._maybe_finish_shutdown(now)

    def _process_gap_blocks(
        self,
        cum: int,
        gaps: tuple[tuple[int, int], ...],
        acked_per_path: dict[Path, int],
        htna: int | None,
        now: float,
    ) -> int | None:
        """Section 6.2.1 D iii: gap-acknowledged chunks are marked, never removed."""
        by_tsn = self._by_tsn
        acked_now: set[int] = set()
        for start, end in gaps:
            if start > end:
                continue
            for offset in range(start, end + 1):
                tsn = (cum + offset) & TSN_MASK
                acked_now.add(tsn)
                chunk = by_tsn.get(tsn)
                if chunk is None or chunk.acked or chunk.abandoned:
                    continue
                chunk.acked = True
                self._gap_acked += 1
                path = chunk.path
                assert path is not None
                if chunk.retransmit:
                    chunk.retransmit = False
                    self._retransmit_count -= 1
                else:
                    path.flight -= chunk.size
                    self._flight -= chunk.size
                acked_per_path[path] = acked_per_path.get(path, 0) + chunk.size
                htna = tsn if htna is None or tsn_gt(tsn, htna) else htna
                if path.rtt_tsn == tsn:
                    if chunk.transmissions == 1:
                        path.rtt_measured(now - path.rtt_sent)
                    path.rtt_tsn = None
        # A peer may renege on data it reported in a gap block (section 6.2.1): such a chunk is
        # outstanding again and is retransmitted (it is not in flight).
        if self._gap_acked:
            for chunk in self._sent:
                if chunk.acked and chunk.tsn not in acked_now:
                    chunk.acked = False
                    self._gap_acked -= 1
                    if not chunk.abandoned:
                        chunk.retransmit = True
                        self._retransmit_count += 1
        if gaps and htna is not None:
            self._count_misses(htna, now)
        return htna

    def _count_misses(self, htna: int, now: float) -> None:
        """Fast retransmit on three miss indications (section 7.2.4)."""
        marked: list[_OutChunk] = []
        for chunk in self._sent:
            if not tsn_gt(htna, chunk.tsn):
                break
            if chunk.acked or chunk.abandoned or chunk.retransmit:
                continue
            if chunk.fast_retransmitted and tsn_gt(chunk.refast_from, htna):
                # A TSN is fast-retransmitted once per loss: miss indications from data sent
                # before its retransmission say nothing new. Data sent after it being acked
                # while it is still missing means the retransmission was lost as well; counting
                # those (usrsctp's fast_retran_tsn rule) recovers in a round trip instead of
                # waiting out T3-rtx, whose RTO.Min of 1 s would stall a lossy path.
                continue
            chunk.misses += 1
            if chunk.misses >= 3:
                marked.append(chunk)
        if not marked:
            return
        if self._fast_recovery_exit is None:
            # Enter fast recovery once per window (section 7.2.4 step 2).
            for path in {c.path for c in marked if c.path is not None}:
                path.ssthresh = max(path.cwnd // 2, 4 * path.max_packet)
                path.cwnd = path.ssthresh
                path.partial_bytes_acked = 0
            self._fast_recovery_exit = (self._next_tsn - 1) & TSN_MASK
        for chunk in marked:
            chunk.fast_retransmitted = True
            chunk.refast_from = self._next_tsn
            self._mark_retransmit(chunk)
            self._fast_retransmit_pending += 1
            self._fast_retransmits += 1

    def _mark_retransmit(self, chunk: _OutChunk) -> None:
        if chunk.retransmit or chunk.abandoned:
            return
        if not chunk.acked and chunk.path is not None:
            chunk.path.flight -= chunk.size
            self._flight -= chunk.size
        chunk.retransmit = True
        self._retransmit_count += 1
        if chunk.path is not None and chunk.path.rtt_tsn == chunk.tsn:
            chunk.path.rtt_tsn = None  # Karn: no RTT sample from retransmitted data

    # --- PR-SCTP -------------------------------------------------------------------------

    def _abandon(self, message: _Message, reason: str) -> None:
        """RFC 3758 section 3.5: abandon every fragment of a message and tell the application."""
        if message.abandoned:
            return
        message.abandoned = True
        unsent = False
        for chunk in (*self._sent, *self._pending):
            if chunk.message is not message or chunk.abandoned:
                continue
            chunk.abandoned = True
            if chunk.transmissions == 0:
                unsent = True
                continue  # still queued: dropped from _pending below
            self._abandoned_sent += 1
            if chunk.retransmit:
                chunk.retransmit = False
                self._retransmit_count -= 1
            elif chunk.acked:
                pass
            elif chunk.path is not None:
                chunk.path.flight -= chunk.size
                self._flight -= chunk.size
        if unsent:
            pending = self._pending
            remaining = [c for c in pending if c.message is not message]
            for c in pending:
                if c.message is message:
                    self._buffered -= c.size
            pending.clear()
            pending.extend(remaining)
        self._queue_event(SendFailed(message.stream, message.ppid, message.data, reason))

    def _advance_ack_point(self) -> None:
        """RFC 3758 section 3.5 C1-C3: move the Advanced.Peer.Ack.Point over abandoned chunks
        and announce it with FORWARD TSN."""
        point = self._advanced_ack_point
        for chunk in self._sent:
            if not tsn_gt(chunk.tsn, point):
                continue
            if chunk.tsn != (point + 1) & TSN_MASK or not chunk.abandoned:
                break
            point = chunk.tsn
        self._advanced_ack_point = point
        if tsn_gt(point, self._cum_ack):
            self._forward_tsn_needed = True

    def _forward_tsn_chunk(self) -> bytes:
        """FORWARD TSN up to the ack point, with the highest skipped SSN of each ordered stream."""
        point = self._advanced_ack_point
        streams: dict[int, int] = {}
        for chunk in self._sent:
            if tsn_gt(chunk.tsn, point):
                break
            if not chunk.flags & DATA_FLAG_UNORDERED:
                streams[chunk.stream] = chunk.ssn
        return ForwardTsnChunk(point, tuple(sorted(streams.items()))).serialize()

    # --- handshake -----------------------------------------------------------------------

    def _send_init(self, now: float, *, preservative_ms: int) -> None:
        extra = (CookiePreservative(preservative_ms),) if preservative_ms else ()
        init = local_init(
            self.config, initiate_tag=self.local_tag, initial_tsn=self._initial_tsn, extra=extra
        )
        self._init_chunk = init.serialize()
        self._send_alone(self._init_chunk, 0, self._primary)
        self._t1 = now + self._primary.rto
        self._t1_count = 0

    def _on_t1(self, now: float) -> None:
        """T1-init / T1-cookie expiry (section 5.1 C, 6.3.3 style back-off)."""
        self._t1_count += 1
        if self._t1_count > self.config.max_init_retransmits:
            self._t1 = None
            what = "INIT" if self.state is State.COOKIE_WAIT else "COOKIE ECHO"
            self._close(
                CloseReason.RETRANSMISSION_LIMIT,
                detail=f"no answer to {what} after {self.config.max_init_retransmits} retries",
            )
            return
        path = self._primary
        path.back_off()
        if self.state is State.COOKIE_WAIT:
            self._send_alone(self._init_chunk, 0, path)
        elif self.state is State.COOKIE_ECHOED:
            self._lead = self._cookie_echo
        self._t1 = now + path.rto

    def _on_init(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        """INIT for an existing association: collision (section 5.2.1) or restart (5.2.2)."""
        assert isinstance(chunk, InitChunk)
        if chunk.initiate_tag == 0:
            return False
        if self.state is State.SHUTDOWN_ACK_SENT:
            # Section 9.2: discard the INIT and retransmit SHUTDOWN ACK.
            self._queue_control(ShutdownAckChunk())
            return False
        path = self._paths.get(source.host)
        if (
            self.state in _UP_STATES
            and path is not None
            and path.address.udp_port != source.udp_port
        ):
            # RFC 6951 update (draft-tuexen-tsvwg-sctp-udp-encaps-cons 4.4): a restart from a
            # different UDP port is refused with cause 14.
            cause = Cause.restart_with_new_encapsulation_port(
                path.address.udp_port, source.udp_port
            )
            self._send_alone(AbortChunk((cause,)).serialize(), chunk.initiate_tag, source)
            return False
        if self.state in _UP_STATES:
            info = examine_params(chunk.params)
            known = set(self._paths)
            new = [a for a in same_family(source.host, info.addresses) if a not in known]
            if new:
                # Section 5.2.2: a restart may not add addresses.
                params = b"".join(
                    (Ipv6Address(a) if ":" in a else Ipv4Address(a)).serialize() for a in new
                )
                abort = AbortChunk((Cause.restart_with_new_addresses(params),))
                self._send_alone(abort.serialize(), chunk.initiate_tag, source)
                return False
        if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            # Section 5.2.1: answer with our original tag and TSN.
            local_tag, local_tsn = self.local_tag, self._initial_tsn
            tie = (self.local_tag, self.peer_tag)
        else:
            # Section 5.2.2: a new tag, the current ones as tie-tags.
            local_tag = self.config.random_u32(nonzero=True)
            local_tsn = self.config.random_u32()
            tie = (self.local_tag, self.peer_tag)
        answer = answer_init(
            self.config,
            self._signer,
            chunk,
            source=source,
            local_port=self.local_port,
            peer_port=self.peer_port,
            local_tag=local_tag,
            local_initial_tsn=local_tsn,
            now=now,
            tie_tags=tie,
        )
        if answer is not None:
            self._send_alone(answer.chunk.serialize(), answer.verification_tag, source)
        return False

    def _on_init_ack(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        """Section 5.1 C: COOKIE-WAIT receives INIT ACK, sends COOKIE ECHO."""
        assert isinstance(chunk, InitAckChunk)
        if chunk.initiate_tag == 0 or chunk.outbound_streams == 0 or chunk.inbound_streams == 0:
            # Section 3.3.3 (nplab AS-I-1-14-2, AS-I-1-7-4).
            self._abort_reflected(Cause.invalid_mandatory_parameter(), "invalid INIT ACK")
            return False
        info = examine_params(chunk.params)
        if info.host_name is not None:
            self._abort_reflected(Cause.unresolvable_address(info.host_name), "host name address")
            return False
        if info.cookie is None:
            self._abort_reflected(
                Cause.missing_mandatory_parameter(ParamType.STATE_COOKIE), "INIT ACK without cookie"
            )
            return False
        self.peer_tag = chunk.initiate_tag
        self.outbound_streams = min(self.config.outbound_streams, chunk.inbound_streams)
        self.inbound_streams = min(self.config.max_inbound_streams, chunk.outbound_streams)
        self.peer_partial_reliability = info.partial_reliability and self.config.partial_reliability
        self.peer_reconfig = info.reconfig and self.config.stream_reconfiguration
        self._setup_peer(chunk.initial_tsn, chunk.a_rwnd, info.addresses)
        self._cookie_echo = CookieEchoChunk(info.cookie).serialize()
        self._lead = self._cookie_echo
        if info.unrecognized:
            # Section 3.2.1: unrecognized INIT ACK parameters are reported in an ERROR chunk
            # bundled with the COOKIE ECHO (nplab E-I-6-6).
            cause = Cause.unrecognized_parameters(b"".join(info.unrecognized))
            self._queue_control(ErrorChunk((cause,)))
        self.state = State.COOKIE_ECHOED
        self._t1 = now + self._primary.rto
        self._t1_count = 0
        return None

    def _setup_peer(
        self, peer_initial_tsn: int, peer_rwnd: int, addresses: tuple[str, ...]
    ) -> None:
        self._inbound = Inbound(peer_initial_tsn, self.inbound_streams, self._events)
        self._peer_rwnd = peer_rwnd
        for path in self._paths.values():
            path.ssthresh = peer_rwnd  # section 7.2.1: initial ssthresh is the peer's a_rwnd
        if not self.config.use_peer_addresses:
            addresses = ()
        for host in same_family(self._primary.address.host, addresses)[1:]:
            if host not in self._paths:
                self._add_path(Address(host, self._primary.address.udp_port), confirmed=False)
        self._notify_paths()

    def _on_cookie_ack(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        self._t1 = None
        self._lead = None
        self._establish(now)
        return None

    def _establish(self, now: float) -> None:
        self.state = State.ESTABLISHED
        self.was_established = True
        self._error_count = 0
        self._queue_event(
            AssociationEstablished(self.outbound_streams, self.inbound_streams, self.peer_addresses)
        )
        for path in self._paths.values():
            if path.state is PathState.UNCONFIRMED:
                # Section 5.4: probe the other addresses at once (usrsctp does the same).
                self._on_heartbeat_timer(path, now)
            else:
                self._schedule_heartbeat(path, now)
        if self._shutdown_requested:
            self._shutdown_requested = False
            self.state = State.SHUTDOWN_PENDING
            self._maybe_finish_shutdown(now)

    @classmethod
    def from_cookie(
        cls,
        config: Configuration,
        state: CookieState,
        *,
        source: Address,
        signer: CookieSigner,
        association_id: int,
        now: float,
    ) -> Association:
        """The passive side, built from a verified, fresh cookie (section 5.1 D)."""
        primary = Address(
            state.peer_addresses[0] if state.peer_addresses else source.host, state.udp_port
        )
        self = cls(
            config,
            local_port=state.local_port,
            peer_port=state.peer_port,
            peer_address=primary,
            signer=signer,
            association_id=association_id,
        )
        self._adopt_cookie(state, now)
        self._lead = CookieAckChunk().serialize()
        self._establish(now)
        return self

    def _adopt_cookie(self, state: CookieState, now: float) -> None:
        self.local_tag = state.local_tag
        self.peer_tag = state.peer_tag
        self._initial_tsn = state.local_initial_tsn
        self._reconfig_request_seq = state.local_initial_tsn
        self._reset_send_state(state.local_initial_tsn)
        self.outbound_streams = state.outbound_streams
        self.inbound_streams = state.inbound_streams
        self.peer_partial_reliability = state.peer_prsctp
        self.peer_reconfig = state.peer_reconfig
        self._first_data = True
        self._setup_peer(state.peer_initial_tsn, state.peer_rwnd, state.peer_addresses[1:])

    def _on_cookie_echo(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        """COOKIE ECHO with an existing association: section 5.2.4, table 7."""
        assert isinstance(chunk, CookieEchoChunk)
        state = self._signer.verify(chunk.cookie)
        if state is None or tag != state.local_tag:
            return False  # section 5.1.5: bad MAC or wrong tag, silently discarded
        local_match = state.local_tag == self.local_tag
        peer_match = state.peer_tag == self.peer_tag
        if not local_match and not peer_match:
            # (A) peer restart, when the tie-tags match the current tags.
            if state.local_tie_tag != self.local_tag or state.peer_tie_tag != self.peer_tag:
                return False
            if self._stale(state, now):
                return False
            if self.state is State.SHUTDOWN_ACK_SENT:
                # Section 5.2.4 A: do not restart while shutting down.
                cause = Cause.cookie_received_while_shutting_down()
                self._queue_control(ShutdownAckChunk())
                self._queue_control(ErrorChunk((cause,)))
                return False
            self._restart(state, now)
            self._lead = CookieAckChunk().serialize()
            return None
        if local_match and (not peer_match or self.peer_tag == 0):
            # (B) setup collision: take the peer's tag and parameters, become ESTABLISHED.
            if self._stale(state, now):
                return False
            self.peer_tag = state.peer_tag
            if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
                self.outbound_streams = state.outbound_streams
                self.inbound_streams = state.inbound_streams
                self.peer_partial_reliability = state.peer_prsctp
                self.peer_reconfig = state.peer_reconfig
                self._setup_peer(state.peer_initial_tsn, state.peer_rwnd, state.peer_addresses[1:])
            self._lead = CookieAckChunk().serialize()
            if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
                self._t1 = None
                self._establish(now)
            return None
        if not local_match and peer_match and state.local_tie_tag == 0 and state.peer_tie_tag == 0:
            return False  # (C) a late cookie: discard
        if local_match and peer_match:
            # (D) a duplicate: the peer missed our COOKIE ACK.
            if self.state is State.COOKIE_ECHOED:
                self._t1 = None
                self._establish(now)
            self._lead = CookieAckChunk().serialize()
            return None
        return False

    def _stale(self, state: CookieState, now: float) -> bool:
        expiry = state.created + state.lifetime
        if now <= expiry:
            return False
        cause = Cause.stale_cookie(int((now - expiry) * 1_000_000))
        self._send_alone(ErrorChunk((cause,)).serialize(), state.peer_tag, self._primary)
        return True

    def _restart(self, state: CookieState, now: float) -> None:
        """Section 5.2.4 A: the peer restarted; start over with the new tags and TSNs."""
        for message in self._unacked_messages():
            self._queue_event(
                SendFailed(message.stream, message.ppid, message.data, "peer restarted")
            )
        self._ssn = {}
        for path in self._paths.values():
            path.cwnd = self.config.initial_congestion_window(path.max_packet)
            path.flight = 0
            path.t3 = None
            path.partial_bytes_acked = 0
            path.rtt_tsn = None
            path.error_count = 0
        self._control = []
        self._adopt_cookie(state, now)
        self.state = State.ESTABLISHED
        self._queue_event(AssociationRestarted(self.outbound_streams, self.inbound_streams))

    def _unacked_messages(self) -> list[_Message]:
        seen: dict[int, _Message] = {}
        for chunk in (*self._sent, *self._pending):
            if not chunk.message.abandoned:
                seen.setdefault(id(chunk.message), chunk.message)
        return list(seen.values())

    # --- heartbeats and paths --------------------------------------------------------------

    def _add_path(self, address: Address, *, confirmed: bool) -> Path:
        path = Path(address, self.config, confirmed=confirmed)
        self._paths[address.host] = path
        return path

    def _notify_paths(self) -> None:
        if self.on_paths_changed is not None:
            self.on_paths_changed(self)

    def _jitter(self, rto: float) -> float:
        # Section 8.3: jitter of +/- 50% of the RTO.
        fraction = int.from_bytes(self.config.random_bytes(2), "big") / 0xFFFF
        return (fraction - 0.5) * rto

    def _schedule_heartbeat(self, path: Path, now: float) -> None:
        if path.state is PathState.UNCONFIRMED:
            path.heartbeat_at = now + path.rto  # section 5.4: probed once per RTO
        elif self.config.heartbeats:
            path.heartbeat_at = (
                now + path.rto + self.config.heartbeat_interval + self._jitter(path.rto)
            )
        else:
            path.heartbeat_at = None

    def _on_heartbeat_timer(self, path: Path, now: float) -> None:
        """Section 8.3 (and 5.4 for unconfirmed addresses)."""
        if self.state not in _UP_STATES:
            path.heartbeat_at = None
            return
        if path.heartbeat_nonce is not None:
            # The previous heartbeat went unanswered for an RTO.
            path.heartbeat_nonce = None
            if path.state is PathState.UNCONFIRMED:
                path.error_count += 1
                path.back_off()
                if path.error_count > self.config.path_max_retrans:
                    path.heartbeat_at = None  # never confirmed: stop probing it
                    return
            else:
                self._path_error(path, now)
                if self.state is State.CLOSED:
                    return
        elif path.state is not PathState.UNCONFIRMED:
            if not self.config.heartbeats:
                path.heartbeat_at = None
                return
            idle_since = path.last_sent if path.flight else 0.0
            if idle_since > now - (path.rto + self.config.heartbeat_interval):
                self._schedule_heartbeat(path, now)  # not idle: data is flowing
                return
        nonce = self.config.random_bytes(8)
        path.heartbeat_nonce = nonce
        path.heartbeat_sent = now
        info = HeartbeatInfo(_HB_INFO.pack(nonce, now, 0) + path.address.host.encode())
        self._queue_control(HeartbeatChunk((info,)), path)
        path.heartbeat_at = now + path.rto  # the answer is due within an RTO

    def _on_heartbeat(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        """Section 8.3: answer every HEARTBEAT with its information, byte for byte."""
        assert isinstance(chunk, HeartbeatChunk)
        reply = HeartbeatAckChunk(chunk.params).serialize()
        path = self._paths.get(source.host)
        if path is not None and path.address == source:
            self._control.append((reply, path))
        else:
            self._send_alone(reply, self.peer_tag, source)
        return None

    def _on_heartbeat_ack(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        assert isinstance(chunk, HeartbeatAckChunk)
        for param in chunk.params:
            if not isinstance(param, HeartbeatInfo) or len(param.info) < _HB_INFO.size:
                continue
            nonce, _sent, _ = _HB_INFO.unpack_from(param.info)
            host = param.info[_HB_INFO.size :].decode("ascii", "replace")
            path = self._paths.get(host)
            if path is None or path.heartbeat_nonce != nonce:
                continue
            path.heartbeat_nonce = None
            path.rtt_measured(now - path.heartbeat_sent)
            path.error_count = 0
            self._error_count = 0
            if path.state is not PathState.ACTIVE:
                self._set_path_state(path, PathState.ACTIVE)
            self._schedule_heartbeat(path, now)
        return None

    def _set_path_state(self, path: Path, state: PathState) -> None:
        path.state = state
        if state is PathState.INACTIVE and path is self._primary:
            alternative = next((p for p in self._paths.values() if p.usable), None)
            if alternative is not None:
                self._primary = alternative
                self._queue_event(PathStateChanged(alternative.address, alternative.state, True))
        self._queue_event(PathStateChanged(path.address, state, path is self._primary))

    def _path_error(self, path: Path, now: float) -> None:
        """Sections 8.1, 8.2: count an error on the path and on the association."""
        path.error_count += 1
        path.back_off()
        if path.state is PathState.ACTIVE and path.error_count > self.config.path_max_retrans:
            self._set_path_state(path, PathState.INACTIVE)
        self._error_count += 1
        if self._error_count > self.config.association_max_retrans:
            self._abort_with(
                Cause.user_initiated_abort(b"association retransmission limit"),
                CloseReason.RETRANSMISSION_LIMIT,
                detail=f"no acknowledgement after {self.config.association_max_retrans} tries",
            )

    def _alternate_path(self, path: Path) -> Path:
        for other in self._paths.values():
            if other is not path and other.usable:
                return other
        return path

    # --- T3-rtx ----------------------------------------------------------------------------

    def _on_t3(self, path: Path, now: float) -> None:
        """Section 6.3.3: E1 cut cwnd, E2 back off, E3 retransmit the earliest chunks."""
        path.t3 = None
        self._t3_expirations += 1
        if self.state is State.COOKIE_ECHOED:
            path.t3 = now + path.rto
            return
        self._path_error(path, now)
        if self.state is State.CLOSED:
            return
        path.ssthresh = max(path.cwnd // 2, 4 * path.max_packet)
        path.cwnd = path.max_packet
        path.partial_bytes_acked = 0
        self._fast_recovery_exit = None
        abandoned: list[_Message] = []
        for chunk in self._sent:
            if chunk.path is path and not chunk.acked and not chunk.abandoned:
                if self._expired(chunk, now):
                    abandoned.append(chunk.message)
                    continue
                self._mark_retransmit(chunk)
        for message in abandoned:
            self._abandon(message, "expired" if message.expires is not None else "retransmissions")
        if self._forward_tsn_pending_ack():
            self._forward_tsn_needed = True
        if self._abandoned_sent:
            self._advance_ack_point()
        if self._flight == 0 and self._retransmit_count == 0 and not self._forward_tsn_needed:
            return
        path.t3 = now + path.rto

    def _forward_tsn_pending_ack(self) -> bool:
        return self.peer_partial_reliability and tsn_gt(self._advanced_ack_point, self._cum_ack)

    def _expired(self, chunk: _OutChunk, now: float) -> bool:
        if not self.peer_partial_reliability:
            return False
        message = chunk.message
        if message.expires is not None and now >= message.expires:
            return True
        return (
            message.max_retransmissions is not None
            and chunk.transmissions > message.max_retransmissions
        )

    # --- SHUTDOWN --------------------------------------------------------------------------

    def _maybe_finish_shutdown(self, now: float) -> None:
        if self.state is State.SHUTDOWN_PENDING:
            if not self._sent and not self._pending:
                self.state = State.SHUTDOWN_SENT
                self._queue_control(ShutdownChunk(self._cumulative_ack()))
                self._t2 = now + self._primary.rto
                self._t2_count = 0
                self._t5 = now + 5 * self.config.rto_max  # section 9.2: T5-shutdown-guard
        elif self.state is State.SHUTDOWN_RECEIVED and not self._sent and not self._pending:
            self.state = State.SHUTDOWN_ACK_SENT
            self._queue_control(ShutdownAckChunk())
            self._t2 = now + self._primary.rto
            self._t2_count = 0

    def _gave_up(self, retransmissions: int, what: str) -> bool:
        """Past Association.Max.Retrans for a control chunk (section 8.1): abort and say so."""
        if retransmissions <= self.config.association_max_retrans:
            return False
        self._abort_with(
            Cause.user_initiated_abort(f"{what} retransmission limit".encode()),
            CloseReason.RETRANSMISSION_LIMIT,
            detail=f"no answer to {what}",
        )
        return True

    def _on_t2(self, now: float) -> None:
        self._t2_count += 1
        path = self._primary
        path.back_off()
        if self._gave_up(self._t2_count, "SHUTDOWN"):
            return
        if self.state is State.SHUTDOWN_SENT:
            self._queue_control(ShutdownChunk(self._cumulative_ack()))
        elif self.state is State.SHUTDOWN_ACK_SENT:
            self._queue_control(ShutdownAckChunk())
        else:
            self._t2 = None
            return
        self._t2 = now + path.rto

    def _on_shutdown(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        """Section 9.2: SHUTDOWN acknowledges data like a SACK without gaps."""
        assert isinstance(chunk, ShutdownChunk)
        if self.state is State.SHUTDOWN_SENT:
            # Collision (section 9.2, nplab DM-O-4-5): answer SHUTDOWN ACK at once.
            self._process_sack(chunk.cumulative_tsn_ack, self._peer_rwnd + self._flight, (), now)
            self.state = State.SHUTDOWN_ACK_SENT
            self._queue_control(ShutdownAckChunk())
            self._t2 = now + self._primary.rto
            self._t2_count = 0
            return None
        if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            self.state = State.SHUTDOWN_RECEIVED
        self._process_sack(chunk.cumulative_tsn_ack, self._peer_rwnd + self._flight, (), now)
        self._maybe_finish_shutdown(now)
        return None

    def _on_shutdown_ack(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        if self.state not in (State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT):
            return None
        self._send_alone(ShutdownCompleteChunk().serialize(), self.peer_tag, self._primary)
        self._close(CloseReason.SHUTDOWN)
        return False

    def _on_shutdown_complete(
        self, chunk: Chunk, source: Address, tag: int, now: float
    ) -> bool | None:
        if self.state is State.SHUTDOWN_ACK_SENT:
            self._close(CloseReason.SHUTDOWN)
        return False

    # --- ABORT and ERROR -------------------------------------------------------------------

    def _on_abort(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        assert isinstance(chunk, AbortChunk)
        cause = chunk.causes[0] if chunk.causes else None
        detail = f"peer sent ABORT ({cause.name})" if cause is not None else "peer sent ABORT"
        if self.state is State.SHUTDOWN_ACK_SENT:
            # Everything was delivered and acknowledged; the peer is gone and answered a late
            # packet as out of the blue (section 8.4) before our SHUTDOWN COMPLETE arrived.
            detail += " after SHUTDOWN ACK"
        self._close(
            CloseReason.PEER_ABORTED,
            error_cause=cause.code if cause is not None else None,
            detail=detail,
        )
        return False

    def _on_error(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        assert isinstance(chunk, ErrorChunk)
        codes = tuple(c.code for c in chunk.causes)
        stale = next((c for c in chunk.causes if c.code == ErrorCause.STALE_COOKIE), None)
        if stale is not None and self.state is State.COOKIE_ECHOED:
            # Section 5.2.6: start over with a Cookie Preservative asking for more time.
            self._t1_count += 1
            if self._t1_count > self.config.max_init_retransmits:
                self._close(CloseReason.RETRANSMISSION_LIMIT, detail="stale cookie")
                return False
            self.state = State.COOKIE_WAIT
            self._lead = None
            self._control = [(c, p) for c, p in self._control if c[0] != ChunkType.ERROR]
            preservative = max(1, stale.staleness_us // 1000) * 2
            count = self._t1_count
            self._send_init(now, preservative_ms=preservative)
            self._t1_count = count
            return False
        if stale is not None:
            return None  # section 5.2.6: ignored in other states (nplab E-O-6-2)
        self._queue_event(ErrorReported(codes))
        return None

    # --- FORWARD TSN and RE-CONFIG ------------------------------------------------------------

    def _on_forward_tsn(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        assert isinstance(chunk, ForwardTsnChunk)
        if self._inbound is None:
            return None
        if not self.peer_partial_reliability:
            # Not negotiated, so not a chunk this association knows: its type bits (11) say
            # skip and report (RFC 9260 section 3.2).
            self._queue_control(ErrorChunk((Cause.unrecognized_chunk_type(chunk.serialize()),)))
            return None
        self._inbound.forward_tsn(chunk.new_cumulative_tsn, chunk.streams)
        self._sack_now = True  # RFC 3758 section 3.6: SACK at once
        self._check_deferred_reset(now)
        return None

    def _on_reconfig(self, chunk: Chunk, source: Address, tag: int, now: float) -> bool | None:
        """RFC 6525 section 5.2: answer requests, apply responses."""
        assert isinstance(chunk, ReconfigChunk)
        if not self.peer_reconfig:
            return None  # not negotiated: type bits 10, skip silently (RFC 9260 section 3.2)
        responses: list[Param] = []
        for param in chunk.params:
            if isinstance(param, ReconfigResponse):
                self._on_reconfig_response(param, now)
                continue
            seq = getattr(param, "request_sequence", None)
            if seq is None:
                continue
            expected = (self._peer_request_seq + 1) & TSN_MASK if self._peer_seen else None
            if expected is not None and seq != expected:
                if self._last_response is not None and seq == self._last_response.response_sequence:
                    responses.append(self._last_response)  # a retransmitted request
                else:
                    responses.append(
                        ReconfigResponse(seq, ReconfigResult.ERROR_BAD_SEQUENCE_NUMBER)
                    )
                continue
            self._peer_seen = True
            self._peer_request_seq = seq
            if isinstance(param, OutgoingSsnResetRequest):
                assert self._inbound is not None
                if tsn_ge(self._inbound.cumulative_tsn, param.last_tsn):
                    self._inbound.reset_streams(param.streams)
                    self._queue_event(StreamsReset(param.streams, incoming=True))
                    response = ReconfigResponse(seq, ReconfigResult.SUCCESS_PERFORMED)
                else:
                    # Section 5.2.2: deferred until the data up to last_tsn has arrived.
                    self._deferred_reset = param
                    response = ReconfigResponse(seq, ReconfigResult.IN_PROGRESS)
            elif isinstance(param, AddOutgoingStreamsRequest):
                assert self._inbound is not None
                total = self.inbound_streams + param.new_streams
                if total > 0xFFFF:
                    response = ReconfigResponse(seq, ReconfigResult.DENIED)
                else:
                    self.inbound_streams = total
                    self._inbound.inbound_streams = total
                    self._queue_event(StreamsAdded(self.outbound_streams, self.inbound_streams))
                    response = ReconfigResponse(seq, ReconfigResult.SUCCESS_PERFORMED)
            elif isinstance(
                param, IncomingSsnResetRequest | SsnTsnResetRequest | AddIncomingStreamsRequest
            ):
                # Section 5.2.3, 5.2.4, 5.2.6: optional; this implementation declines.
                response = ReconfigResponse(seq, ReconfigResult.DENIED)
            else:
                continue
            self._last_response = response
            responses.append(response)
        if responses:
            self._queue_control(ReconfigChunk(tuple(responses[:2])))
        return None

    def _check_deferred_reset(self, now: float) -> None:
        request = self._deferred_reset
        if request is None or self._inbound is None:
            return
        if tsn_ge(self._inbound.cumulative_tsn, request.last_tsn):
            self._deferred_reset = None
            self._inbound.reset_streams(request.streams)
            self._queue_event(StreamsReset(request.streams, incoming=True))
            self._last_response = ReconfigResponse(
                request.request_sequence, ReconfigResult.SUCCESS_PERFORMED
            )

    def _take_request_seq(self) -> int:
        seq = self._reconfig_request_seq
        self._reconfig_request_seq = (seq + 1) & TSN_MASK
        return seq

    def _maybe_send_reset(self, now: float) -> None:
        if self._deferred_reset is not None:
            self._check_deferred_reset(now)
        streams = self._resetting_streams
        if streams is None or self._reconfig_request is not None:
            return
        # RFC 6525 section 5.1.2: the request names the last TSN assigned; nothing queued for
        # these streams may be sent before it with the old numbering.
        if any(not streams or c.stream in streams for c in self._pending):
            return
        request = OutgoingSsnResetRequest(
            self._take_request_seq(),
            self._peer_request_seq,
            (self._next_tsn - 1) & TSN_MASK,
            streams,
        )
        self._start_reconfig(request, now)

    def _start_reconfig(self, request: Param, now: float) -> None:
        self._reconfig_request = request
        self._queue_control(ReconfigChunk((request,)))
        self._reconfig_timer = now + self._primary.rto
        self._reconfig_count = 0

    def _on_reconfig_timer(self, now: float) -> None:
        request = self._reconfig_request
        if request is None:
            self._reconfig_timer = None
            return
        self._reconfig_count += 1
        self._primary.back_off()
        if self._gave_up(self._reconfig_count, "RE-CONFIG"):
            return
        self._queue_control(ReconfigChunk((request,)))
        self._reconfig_timer = now + self._primary.rto

    def _on_reconfig_response(self, response: ReconfigResponse, now: float) -> None:
        request = self._reconfig_request
        if (
            request is None
            or getattr(request, "request_sequence", None) != response.response_sequence
        ):
            return
        if response.result == ReconfigResult.IN_PROGRESS:
            self._reconfig_timer = now + self._primary.rto  # the peer defers; ask again later
            return
        self._reconfig_request = None
        self._reconfig_timer = None
        success = response.result in (
            ReconfigResult.SUCCESS_PERFORMED,
            ReconfigResult.SUCCESS_NOTHING_TO_DO,
        )
        if isinstance(request, OutgoingSsnResetRequest):
            if success:
                targets = request.streams or tuple(self._ssn)
                for stream in targets:
                    self._ssn[stream] = 0
            self._queue_event(StreamsReset(request.streams, incoming=False, success=success))
            self._resetting_streams = None
            held, self._held = self._held, []
            for data, stream, ppid, unordered, ttl, max_rtx in held:
                self.send(
                    data,
                    stream=stream,
                    ppid=ppid,
                    unordered=unordered,
                    ttl=ttl,
                    max_retransmissions=max_rtx,
                    now=now,
                )
        elif isinstance(request, AddOutgoingStreamsRequest):
            if success:
                self.outbound_streams += request.new_streams
            self._queue_event(StreamsAdded(self.outbound_streams, self.inbound_streams))

    # ======================================================================== transmit

    def _queue_control(self, chunk: Chunk, path: Path | None = None) -> None:
        self._control.append((chunk.serialize(), path))

    def _send_alone(self, chunk: bytes, tag: int, destination: Path | Address) -> None:
        address = destination.address if isinstance(destination, Path) else destination
        self._ready.append(
            (serialize_packet(self.local_port, self.peer_port, tag, [chunk]), address)
        )

    def _abort_reflected(self, cause: Cause, detail: str) -> None:
        # The peer's tag is unknown or unusable: T bit set, our own tag (section 8.4, 8.5.1).
        self._send_alone(
            AbortChunk((cause,), reflected=True).serialize(), self.local_tag, self._primary
        )
        self._close(CloseReason.PROTOCOL_VIOLATION, error_cause=cause.code, detail=detail)

    def _abort_with(self, cause: Cause, reason: CloseReason, *, detail: str) -> None:
        if self.peer_tag:
            self._send_alone(AbortChunk((cause,)).serialize(), self.peer_tag, self._primary)
        else:
            self._send_alone(
                AbortChunk((cause,), reflected=True).serialize(), self.local_tag, self._primary
            )
        self._close(reason, error_cause=cause.code, detail=detail)

    def _flush(self, now: float) -> None:
        if self.closed:
            return
        control = self._control
        lead = self._lead
        sack_due = self._sack_now and self._inbound is not None and self._up
        # New data and retransmissions go out in these states; in COOKIE-ECHOED only bundled
        # with the COOKIE ECHO (section 5.1 C). SHUTDOWN-SENT/ACK-SENT have nothing outstanding.
        can_send_data = self._sends_data or (
            self._state is State.COOKIE_ECHOED and lead is not None
        )
        if (
            not sack_due
            and self._sack_timer is not None
            and can_send_data
            and self._pending
            and self._up
            and self._inbound is not None
        ):
            # A delayed SACK rides on the new data (section 6.2 lets it go early; usrsctp and
            # Linux piggyback it): a peer that holds small messages back until its previous
            # one is acknowledged (Nagle) would otherwise answer each request SACK.Delay late.
            sack_due = True
        if (
            lead is None
            and not control
            and not sack_due
            and not self._forward_tsn_needed
            and not (can_send_data and (self._pending or self._retransmit_count))
        ):
            return
        primary = self._primary
        tag = self.peer_tag
        # Chunks for the primary path, in the order RFC 9260 section 6.10 wants: COOKIE ECHO
        # or COOKIE ACK first, then other control chunks (SACK first of them), then DATA.
        head: list[bytes] = []
        if lead is not None:
            head.append(lead)
            self._lead = None
        if sack_due:
            head.append(self._build_sack())
        elif self._sack_now and self._inbound is None:
            self._sack_now = False
        if self._forward_tsn_needed:
            self._forward_tsn_needed = False
            if tsn_gt(self._advanced_ack_point, self._cum_ack):
                head.append(self._forward_tsn_chunk())
                if primary.t3 is None:
                    primary.t3 = now + primary.rto
        if control:
            self._control = []
            for chunk, path in control:
                if path is None or path is primary:
                    head.append(chunk)
                else:
                    # Heartbeats and their answers go to their own path.
                    self._ready.append(
                        (
                            serialize_packet(self.local_port, self.peer_port, tag, [chunk]),
                            path.address,
                        )
                    )
                    path.last_sent = now
        packet: list[bytes] = []
        size = 12
        limit = primary.max_packet
        for chunk in head:
            if size + len(chunk) > limit and packet:
                self._emit(packet, primary.address)
                packet = []
                size = 12
            packet.append(chunk)
            size += (len(chunk) + 3) & ~3
        if can_send_data:
            packet, size = self._send_data(packet, size, now)
        if packet:
            self._emit(packet, primary.address)
        primary.last_sent = now

    def _emit(self, chunks: list[bytes], address: Address) -> None:
        self._ready.append(
            (serialize_packet(self.local_port, self.peer_port, self.peer_tag, chunks), address)
        )

    def _send_data(self, packet: list[bytes], size: int, now: float) -> tuple[list[bytes], int]:
        """Retransmissions first (section 6.1 B), then new data within cwnd and the peer's
        window (section 6.1 A, 7.2), at most Max.Burst packets of new data (section 6.1)."""
        primary = self._primary
        if self._retransmit_count:
            packet, size = self._send_retransmissions(packet, size, now)
        pending = self._pending
        if not pending:
            return packet, size
        path = primary
        limit = path.max_packet
        if not path.flight and path.last_data is not None and now - path.last_data > path.rto:
            path.decay_idle_window(now)
        bursts = 0
        # Section 6.1 D, Max.Burst: at most that many packets of new data beyond those the
        # acknowledgements since the last flush took out of the network. A peer (or a driver)
        # that acknowledges several packets at once must not pin the window at Max.Burst.
        released = self._released_bytes
        self._released_bytes = 0
        max_burst = self.config.max_burst + -(-released // path.max_data_payload)
        address = path.address
        pack_header = DATA_HEADER.pack
        local_port, peer_port, tag = self.local_port, self.peer_port, self.peer_tag
        sent = self._sent
        by_tsn = self._by_tsn
        ready = self._ready
        immediate_when_idle = self.config.immediate_sack_when_idle
        while pending:
            if path.flight >= path.cwnd:
                break
            chunk = pending[0]
            chunk_size = chunk.size
            if self._peer_rwnd < chunk_size and self._flight > 0:
                break  # section 6.1 A; with nothing in flight one chunk probes a zero window
            expires = chunk.expires
            if expires is not None and now >= expires:
                # Never sent and already expired: abandon without a FORWARD TSN (RFC 3758).
                self._abandon(chunk.message, "expired")
                continue
            wire_size = 16 + chunk_size
            if size + wire_size > limit and packet:
                ready.append((serialize_packet(local_port, peer_port, tag, packet), address))
                packet = []
                size = 12
                bursts += 1
                if bursts >= max_burst or path.flight >= path.cwnd:
                    break
            pending.popleft()
            tsn = self._next_tsn
            self._next_tsn = (tsn + 1) & TSN_MASK
            chunk.tsn = tsn
            flags = chunk.flags
            if immediate_when_idle and not pending and path.flight >= path.max_data_payload:
                # RFC 9260 section 3.3.1: SACK this at once. Only after more than a packet of
                # data: a lone request is acknowledged with the peer's answer (a delayed SACK
                # rides on data both ways), and an immediate SACK would cost a packet and a
                # wake-up per request.
                flags |= DATA_FLAG_IMMEDIATE
            header = pack_header(0, flags, wire_size, tsn, chunk.stream, chunk.ssn, chunk.ppid)
            chunk.header = header
            chunk.sent_at = now
            chunk.transmissions = 1
            chunk.path = path
            sent.append(chunk)
            by_tsn[tsn] = chunk
            packet.append(header)
            packet.append(chunk.data)
            padding = wire_size & 3
            if padding:
                packet.append(_PADDING[padding])
            size += (wire_size + 3) & ~3
            path.flight += chunk_size
            self._flight += chunk_size
            rwnd = self._peer_rwnd - chunk_size
            self._peer_rwnd = rwnd if rwnd > 0 else 0
            if path.rtt_tsn is None:
                path.rtt_tsn = tsn
                path.rtt_sent = now
            if path.t3 is None:
                path.t3 = now + path.rto
        path.last_sent = path.last_data = now
        return packet, size

    def _send_retransmissions(
        self, packet: list[bytes], size: int, now: float
    ) -> tuple[list[bytes], int]:
        first_fast = self._fast_retransmit_pending > 0
        for chunk in self._sent:
            if not self._retransmit_count:
                break
            if not chunk.retransmit:
                continue
            if self._expired(chunk, now):
                self._abandon(
                    chunk.message, "expired" if chunk.message.expires else "retransmissions"
                )
                continue
            old = chunk.path
            assert old is not None
            path = (
                self._alternate_path(old)
                if old.error_count and not chunk.fast_retransmitted
                else old
            )
            if path is not self._primary:
                # Section 6.4.1: retransmit to an alternate address, in a packet of its own.
                self._emit(_wire(chunk), path.address)
            else:
                wire = _wire(chunk)
                wire_size = sum(len(w) for w in wire)
                # Fast retransmit ignores cwnd for the first packet (section 7.2.4 step 3);
                # after T3 the window is one MTU, so one packet goes (section 6.3.3 E3).
                if not first_fast and path.flight and path.flight + chunk.size > path.cwnd:
                    break
                if size + wire_size > path.max_packet and packet:
                    self._emit(packet, path.address)
                    packet = []
                    size = 12
                    if first_fast:
                        first_fast = False
                        if path.flight >= path.cwnd:
                            break
                packet.extend(wire)
                size += wire_size
            chunk.retransmit = False
            self._retransmit_count -= 1
            if chunk.fast_retransmitted and self._fast_retransmit_pending:
                self._fast_retransmit_pending -= 1
            chunk.transmissions += 1
            self._retransmissions += 1
            chunk.misses = 0
            chunk.path = path
            chunk.sent_at = now
            path.flight += chunk.size
            self._flight += chunk.size
            if path.t3 is None:
                path.t3 = now + path.rto
        if self._retransmit_count == 0:
            self._fast_retransmit_pending = 0
        return packet, size

    # ======================================================================== bookkeeping

    def _reset_send_state(self, initial_tsn: int) -> None:
        self._next_tsn = initial_tsn
        self._cum_ack = (initial_tsn - 1) & TSN_MASK
        self._advanced_ack_point = self._cum_ack
        self._ssn = {}
        self._pending = deque()
        self._sent = deque()
        self._by_tsn = {}
        self._buffered = 0
        self._flight = 0
        self._retransmit_count = 0
        self._fast_retransmit_pending = 0
        self._gap_acked = 0
        self._fast_recovery_exit = None
        self._forward_tsn_needed = False
        self._abandoned_sent = 0
        self._peer_seen = False
        self._t2_count = 0
        self._reconfig_count = 0

    def _queue_event(self, event: AssociationEvent) -> None:
        was_empty = not self._events
        self._events.append(event)
        if was_empty and self.on_event is not None:
            self.on_event(self)

    def _close(
        self, reason: CloseReason, *, error_cause: int | None = None, detail: str = ""
    ) -> None:
        for message in self._unacked_messages():
            self._queue_event(
                SendFailed(message.stream, message.ppid, message.data, "association closed")
            )
            message.abandoned = True
        self.state = State.CLOSED
        self._pending.clear()
        self._sent.clear()
        self._by_tsn.clear()
        self._buffered = 0
        self._t1 = self._t2 = self._t5 = self._sack_timer = self._reconfig_timer = None
        for path in self._paths.values():
            path.t3 = None
            path.heartbeat_at = None
        self._control = []
        self._lead = None
        self._queue_event(AssociationClosed(reason, self.was_established, error_cause, detail))


_Handler = Callable[[Association, Chunk, Address, int, float], "bool | None"]

# The dispatch table (rule 1 of the module docstring): chunk type -> (handler, states).
# A handler returning False stops the processing of the rest of the packet.
_HANDLERS: dict[int, tuple[_Handler, frozenset[State]]] = {
    ChunkType.INIT: (Association._on_init, _ALL_BUT_CLOSED),
    ChunkType.INIT_ACK: (Association._on_init_ack, frozenset({_S.COOKIE_WAIT})),
    ChunkType.HEARTBEAT: (Association._on_heartbeat, _UP_STATES),
    ChunkType.HEARTBEAT_ACK: (Association._on_heartbeat_ack, _UP_STATES),
    ChunkType.ABORT: (Association._on_abort, _ALL_BUT_CLOSED),
    ChunkType.SHUTDOWN: (
        Association._on_shutdown,
        frozenset({_S.ESTABLISHED, _S.SHUTDOWN_PENDING, _S.SHUTDOWN_SENT, _S.SHUTDOWN_RECEIVED}),
    ),
    ChunkType.SHUTDOWN_ACK: (Association._on_shutdown_ack, _ALL_BUT_CLOSED),
    ChunkType.ERROR: (Association._on_error, _ALL_BUT_CLOSED),
    ChunkType.COOKIE_ECHO: (Association._on_cookie_echo, _ALL_BUT_CLOSED),
    ChunkType.COOKIE_ACK: (Association._on_cookie_ack, frozenset({_S.COOKIE_ECHOED})),
    ChunkType.SHUTDOWN_COMPLETE: (
        Association._on_shutdown_complete,
        frozenset({_S.SHUTDOWN_ACK_SENT}),
    ),
    ChunkType.FORWARD_TSN: (Association._on_forward_tsn, _DATA_STATES),
    ChunkType.RE_CONFIG: (Association._on_reconfig, _DATA_STATES),
}
"""Chunk type -> (handler, states in which it is processed). DATA and SACK have inlined fast
paths in ``_receive`` (DATA in the data states, SACK once the association is up)."""
