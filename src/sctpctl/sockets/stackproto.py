"""The protocol between applications and the host stack service (docs/host-stack.md).

Applications reach the service of their network namespace through the abstract Unix socket
``@sctpctl-stack`` (abstract names are per network namespace, so every namespace the service
serves has its own). Each connection carries ONE thing, decided by its first frame: one
association (``CONNECT``, or ``ACCEPT`` of an association a listener announced), one listener
(``LISTEN``), a batch of INIT probes (``PROBE``), or an ``INFO`` question. One association per
connection keeps back-pressure exact: the service stops reading a connection whose association's
send buffer is full, and stops taking an association's messages while its connection's socket
is full, so the core's receive window closes and the peer stops.

A frame is a 4-byte big-endian length (of what follows), a 1-byte type and a body. Control bodies
are JSON objects; data bodies (``SEND``, ``MESSAGE``) are binary: stream (2 bytes), PPID
(4 bytes), flags (1 byte: 1 = unordered), then the message's bytes as they are.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .api import Message

__all__ = [
    "ABSTRACT_NAME",
    "MAX_FRAME",
    "PROTOCOL_VERSION",
    "Frame",
    "FrameType",
    "ProtocolError",
    "data_frame",
    "json_frame",
    "parse_data",
    "read_frame",
]

ABSTRACT_NAME = "\0sctpctl-stack"
"The service's socket address in every namespace it serves (``@sctpctl-stack``)."
PROTOCOL_VERSION = 1
MAX_FRAME = 16 * 1024 * 1024 + 64
"The largest frame either side accepts: a 16 MiB message and its header."

_HEADER = struct.Struct("!IB")
_DATA = struct.Struct("!HIB")
_UNORDERED = 0x01


class FrameType(IntEnum):
    # application -> service
    CONNECT = 1
    "JSON {version, host, port, streams}: open an association; answered ESTABLISHED or FAILED."
    LISTEN = 2
    "JSON {version, port, host, streams}: answered LISTENING or FAILED, then INCOMING frames."
    ACCEPT = 3
    "JSON {version, id, token}: take the association an INCOMING frame announced."
    PROBE = 4
    "JSON {version, id, host, port, wait}: one INIT probe; answered PROBED (many per connection)."
    INFO = 5
    "JSON {version}: answered INFO with what the service serves in this namespace."
    SEND = 8
    "Data: one message to send."
    SHUTDOWN = 9
    "Empty: graceful shutdown; CLOSED follows when it completed."
    ABORT = 10
    "JSON {reason}: ABORT now."
    # service -> application
    ESTABLISHED = 16
    "JSON {peer_host, peer_port, local_port, outbound_streams, inbound_streams}."
    LISTENING = 17
    "JSON {port}."
    INCOMING = 18
    "JSON {id, token, peer_host, peer_port}: an association came up on the listener."
    MESSAGE = 19
    "Data: one received message."
    CLOSED = 20
    "JSON {reason, was_established, detail}: the association ended; the connection closes next."
    FAILED = 21
    "JSON {message, outcome}: the request failed (outcome word for connects, else null)."
    PROBED = 22
    "JSON {id, outcome, detail}."
    EVENT = 23
    "JSON {text}: an association event, for -v."


class ProtocolError(Exception):
    """A peer sent something this protocol does not allow."""


@dataclass(frozen=True, slots=True)
class Frame:
    type: FrameType
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError as error:
            raise ProtocolError(f"{self.type.name} frame: bad JSON body") from error
        if not isinstance(value, dict):
            raise ProtocolError(f"{self.type.name} frame: the body is not a JSON object")
        return value


def json_frame(type_: FrameType, body: dict[str, Any] | None = None) -> bytes:
    payload = json.dumps(body or {}, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload) + 1, type_) + payload


def data_frame(type_: FrameType, message: Message) -> bytes:
    data = message.data
    flags = _UNORDERED if message.unordered else 0
    return (
        _HEADER.pack(len(data) + 1 + _DATA.size, type_)
        + _DATA.pack(message.stream, message.ppid, flags)
        + data
    )


def parse_data(frame: Frame) -> Message:
    body = frame.body
    if len(body) < _DATA.size:
        raise ProtocolError(f"{frame.type.name} frame too short")
    stream, ppid, flags = _DATA.unpack_from(body)
    return Message(body[_DATA.size :], stream, ppid, bool(flags & _UNORDERED))


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at a clean end of the stream (between frames)."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise ProtocolError("the stream ended inside a frame header") from error
        return None
    length, type_ = _HEADER.unpack(header)
    if not 1 <= length <= MAX_FRAME:
        raise ProtocolError(f"frame length {length} is out of range")
    try:
        kind = FrameType(type_)
    except ValueError as error:
        raise ProtocolError(f"unknown frame type {type_}") from error
    try:
        body = await reader.readexactly(length - 1)
    except asyncio.IncompleteReadError as error:
        raise ProtocolError("the stream ended inside a frame") from error
    return Frame(kind, body)
