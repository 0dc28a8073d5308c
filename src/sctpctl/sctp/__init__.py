"""The sans-IO SCTP protocol core (RFC 9260): wire codec, associations and endpoints.

No asyncio, no sockets, no clocks, no ambient randomness: time comes in as ``now`` arguments and
randomness through the configuration, so every test is reproducible byte for byte. See
docs/sctp-core.md for the API and the design.

Three sources drive an ``Endpoint`` (or a single ``Association``): the application (``connect``,
``listen``, ``send``, ``shutdown``, ``abort``), the network (``receive_packet``,
``handle_icmp_error``) and the clock (``handle_timer``). After any of them, send what
``packets_to_send(now=...)`` returns, re-arm one timer at ``get_timer()``, and drain
``next_event()``.
"""

from .association import (
    TRANSITIONS,
    Association,
    IcmpError,
    Metrics,
    State,
    Transition,
    state_diagram,
)
from .chunks import Packet, parse_packet, serialize_packet
from .config import Address, Configuration, OotbPolicy
from .endpoint import Endpoint
from .errors import LocalProtocolError, MalformedPacket, ProtocolViolation, SctpError
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
from .probe import ProbeAnswer, ProbeReply, abort_for, classify_reply, probe_init

__all__ = [
    "TRANSITIONS",
    "Address",
    "Association",
    "AssociationClosed",
    "AssociationEstablished",
    "AssociationEvent",
    "AssociationRestarted",
    "CloseReason",
    "Configuration",
    "Endpoint",
    "ErrorReported",
    "IcmpError",
    "LocalProtocolError",
    "MalformedPacket",
    "MessageReceived",
    "Metrics",
    "OotbPolicy",
    "Packet",
    "PathState",
    "PathStateChanged",
    "ProbeAnswer",
    "ProbeReply",
    "ProtocolViolation",
    "SctpError",
    "SendFailed",
    "State",
    "StreamsAdded",
    "StreamsReset",
    "Transition",
    "abort_for",
    "classify_reply",
    "parse_packet",
    "probe_init",
    "serialize_packet",
    "state_diagram",
]
