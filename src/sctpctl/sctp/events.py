"""Events an association reports: frozen, slotted, past tense. Drain them with ``next_event()``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .config import Address

__all__ = [
    "AssociationClosed",
    "AssociationEstablished",
    "AssociationEvent",
    "AssociationRestarted",
    "CloseReason",
    "ErrorReported",
    "MessageReceived",
    "PathState",
    "PathStateChanged",
    "SendFailed",
    "StreamsAdded",
    "StreamsReset",
]


class CloseReason(Enum):
    """Why an association ended; together with ``was_established`` it maps onto the outcome
    vocabulary (an ABORT answering INIT is "closed", T1-init running out is "filtered")."""

    SHUTDOWN = "shutdown"
    "Graceful SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE (either side started it)."
    PEER_ABORTED = "peer-aborted"
    "The peer sent ABORT."
    LOCAL_ABORT = "local-abort"
    "The application called abort()."
    RETRANSMISSION_LIMIT = "retransmission-limit"
    "No answer: T1-init/T1-cookie, T3-rtx, heartbeats or T2-shutdown ran out of retransmissions."
    PROTOCOL_VIOLATION = "protocol-violation"
    "The peer broke a rule and this side sent ABORT."
    ICMP_PROTOCOL_UNREACHABLE = "icmp-protocol-unreachable"
    "The peer's host has no SCTP (ICMP protocol unreachable while connecting)."
    ICMP_PORT_UNREACHABLE = "icmp-port-unreachable"
    "ICMP port unreachable (for UDP encapsulation: nothing on the peer's UDP port)."
    ICMP_UNREACHABLE = "icmp-unreachable"
    "Another ICMP unreachable, typically administratively prohibited (a firewall's reject)."
    SHUTDOWN_GUARD = "shutdown-guard"
    "T5-shutdown-guard expired (RFC 9260 section 9.2)."


class PathState(Enum):
    """State of one peer address (RFC 9260 sections 5.4 and 8.2)."""

    UNCONFIRMED = "unconfirmed"
    ACTIVE = "active"
    INACTIVE = "inactive"


class AssociationEvent:
    """Base of every event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class AssociationEstablished(AssociationEvent):
    """The four-way handshake completed (RFC 9260 section 5.1)."""

    outbound_streams: int
    "Streams this side may send on."
    inbound_streams: int
    "Streams the peer may send on."
    peer_addresses: tuple[Address, ...]
    "The peer's addresses, the primary first."


@dataclass(frozen=True, slots=True)
class AssociationRestarted(AssociationEvent):
    """The peer restarted the association (RFC 9260 section 5.2.4, action A): sequence numbers
    start over, and messages not yet acknowledged were reported with ``SendFailed``."""

    outbound_streams: int
    inbound_streams: int


@dataclass(frozen=True, slots=True)
class AssociationClosed(AssociationEvent):
    """The association is gone; the last event it reports."""

    reason: CloseReason
    was_established: bool
    "False when the handshake never completed (a failed connect)."
    error_cause: int | None = None
    "The first error cause of the ABORT that ended it, when there was one."
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MessageReceived(AssociationEvent):
    """A complete user message; its bytes leave the receive window once this event is taken."""

    stream: int
    "The stream the message arrived on."
    ppid: int
    "Payload Protocol Identifier, as the sender set it."
    data: bytes
    unordered: bool
    "Delivered as soon as complete (U bit), not in stream order."


@dataclass(frozen=True, slots=True)
class SendFailed(AssociationEvent):
    """A message was not (or not completely) delivered: abandoned by PR-SCTP (lifetime or
    retransmission limit), or still queued when the association closed or restarted."""

    stream: int
    ppid: int
    data: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class PathStateChanged(AssociationEvent):
    """A peer address was confirmed, failed, or came back (RFC 9260 sections 5.4, 8.2)."""

    address: Address
    state: PathState
    primary: bool
    "Whether this address is now the primary path."


@dataclass(frozen=True, slots=True)
class ErrorReported(AssociationEvent):
    """The peer sent an ERROR chunk (RFC 9260 section 3.3.10); the association goes on."""

    causes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StreamsReset(AssociationEvent):
    """Stream sequence numbers were reset (RFC 6525): ``incoming`` tells which direction.
    An empty ``streams`` means all streams."""

    streams: tuple[int, ...]
    incoming: bool
    success: bool = True


@dataclass(frozen=True, slots=True)
class StreamsAdded(AssociationEvent):
    """Streams were added (RFC 6525 section 5.1.5/5.2.5)."""

    outbound_streams: int
    inbound_streams: int
