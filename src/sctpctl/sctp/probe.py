"""INIT scanning without associations (what ``nmap -sY`` does), over the codec.

``probe_init`` builds a bare INIT; ``classify_reply`` tells what came back: an INIT-ACK means the
port is open (answer it with the ABORT from ``abort_for``, so the target keeps no state and no
association is ever completed), an ABORT means nothing listens there (closed). Silence and ICMP
errors are the I/O layer's to observe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .chunks import (
    COMMON_HEADER,
    AbortChunk,
    InitAckChunk,
    checksum_ok,
    parse_packet,
    serialize_packet,
)
from .config import Configuration
from .errors import MalformedPacket
from .handshake import local_init
from .params import Cause

__all__ = ["ProbeAnswer", "ProbeReply", "abort_for", "classify_reply", "probe_init"]


class ProbeAnswer(Enum):
    INIT_ACK = "init-ack"
    "Something accepts associations on the port: open."
    ABORT = "abort"
    "The host has SCTP but nothing listens on the port: closed."


@dataclass(frozen=True, slots=True)
class ProbeReply:
    answer: ProbeAnswer
    peer_tag: int
    "The target's Initiate Tag (INIT-ACK), needed to abort the half-open association."
    source_port: int
    destination_port: int


def probe_init(
    config: Configuration,
    *,
    source_port: int,
    destination_port: int,
    initiate_tag: int,
    initial_tsn: int = 0,
) -> bytes:
    """A complete INIT packet (verification tag 0, RFC 9260 section 8.5.1 A)."""
    init = local_init(config, initiate_tag=initiate_tag, initial_tsn=initial_tsn)
    return serialize_packet(source_port, destination_port, 0, [init.serialize()])


def classify_reply(data: bytes, *, initiate_tag: int) -> ProbeReply | None:
    """What a received packet says about the probe that used ``initiate_tag``, or None when it
    is not an answer to it (wrong tag, bad checksum, anything else)."""
    if len(data) < 16 or not checksum_ok(data):
        return None
    _, _, tag = COMMON_HEADER.unpack_from(data)
    try:
        packet = parse_packet(data, verify_checksum=False)
    except MalformedPacket:
        return None
    if not packet.chunks:
        return None
    first = packet.chunks[0]
    if isinstance(first, InitAckChunk) and tag == initiate_tag and first.initiate_tag:
        answer = ProbeAnswer.INIT_ACK
        peer_tag = first.initiate_tag
    elif isinstance(first, AbortChunk) and (tag == initiate_tag or (first.reflected and tag == 0)):
        answer = ProbeAnswer.ABORT
        peer_tag = 0
    else:
        return None
    return ProbeReply(answer, peer_tag, packet.source_port, packet.destination_port)


def abort_for(reply: ProbeReply) -> bytes:
    """The ABORT that tears down the target's half-open state after an INIT-ACK (its tag is the
    target's Initiate Tag; the target has no TCB, so it simply discards the cookie)."""
    abort = AbortChunk((Cause.user_initiated_abort(b"probe"),))
    return serialize_packet(
        reply.destination_port, reply.source_port, reply.peer_tag, [abort.serialize()]
    )
