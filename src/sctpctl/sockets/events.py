"""From core events to what applications see: outcomes, terminations, one-line descriptions."""

from __future__ import annotations

from sctpctl.outcomes import Outcome
from sctpctl.sctp import (
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    AssociationRestarted,
    CloseReason,
    ErrorReported,
    PathStateChanged,
    SendFailed,
    StreamsAdded,
    StreamsReset,
)

from .api import Termination

__all__ = ["connect_outcome", "describe", "termination_of"]

# A connect that ended before the handshake completed, by the core's reason (docs/sctp-core.md).
_CONNECT_OUTCOMES: dict[CloseReason, Outcome] = {
    CloseReason.PEER_ABORTED: Outcome.CLOSED,
    CloseReason.RETRANSMISSION_LIMIT: Outcome.FILTERED,
    CloseReason.ICMP_PROTOCOL_UNREACHABLE: Outcome.NO_SCTP_ON_TARGET,
    CloseReason.ICMP_PORT_UNREACHABLE: Outcome.REJECTED,
    CloseReason.ICMP_UNREACHABLE: Outcome.REJECTED,
    CloseReason.PROTOCOL_VIOLATION: Outcome.CLOSED,
}


def connect_outcome(reason: str) -> Outcome:
    """The outcome of a connect that ended for ``reason`` (a ``CloseReason`` value, or
    ``timeout``) before the association came up."""
    try:
        return _CONNECT_OUTCOMES.get(CloseReason(reason), Outcome.FILTERED)
    except ValueError:
        return Outcome.FILTERED


def termination_of(event: AssociationClosed) -> Termination:
    detail = event.detail
    if event.error_cause is not None and "cause" not in detail:
        cause = f"error cause {event.error_cause}"
        detail = f"{detail} ({cause})" if detail else cause
    return Termination(event.reason.value, event.was_established, detail)


def describe(event: AssociationEvent) -> str:
    """One line for ``-v``."""
    if isinstance(event, AssociationEstablished):
        peers = ", ".join(a.host for a in event.peer_addresses)
        return (
            f"association up: {event.outbound_streams} outbound and {event.inbound_streams}"
            f" inbound streams, peer addresses {peers}"
        )
    if isinstance(event, AssociationClosed):
        how = "closed" if event.reason is CloseReason.SHUTDOWN else "ended"
        extra = f": {event.detail}" if event.detail else ""
        return f"association {how} ({event.reason.value}){extra}"
    if isinstance(event, PathStateChanged):
        primary = ", primary" if event.primary else ""
        return f"path {event.address.host} is {event.state.value}{primary}"
    if isinstance(event, AssociationRestarted):
        return "the peer restarted the association"
    if isinstance(event, SendFailed):
        size = len(event.data)
        return f"a message of {size} bytes on stream {event.stream} failed: {event.reason}"
    if isinstance(event, ErrorReported):
        return f"the peer reported errors {list(event.causes)}"
    if isinstance(event, StreamsReset):
        direction = "incoming" if event.incoming else "outgoing"
        result = "reset" if event.success else "reset refused"
        return f"{direction} streams {list(event.streams) or 'all'} {result}"
    if isinstance(event, StreamsAdded):
        return f"streams now {event.outbound_streams} out, {event.inbound_streams} in"
    return type(event).__name__
