"""Chunks and packets: the SCTP wire codec (RFC 9260 section 3, RFC 3758, RFC 6525).

``parse_packet(data)`` either returns a ``Packet`` or raises ``MalformedPacket``: never
``IndexError``, ``struct.error`` or a half-built object. ``serialize_packet`` writes the common
header and the CRC32c, stored little-endian as every implementation (and Wireshark) does
(RFC 9260 appendix A).

Each chunk is a frozen dataclass with ``serialize() -> bytes`` (header, value, padding). Types the
codec does not model become ``UnknownChunk`` with the raw value: what to do with them is decided
by their two high bits (RFC 9260 section 3.2), which is protocol logic and lives in the
association.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .constants import (
    DATA_FLAG_BEGIN,
    DATA_FLAG_END,
    DATA_FLAG_IMMEDIATE,
    DATA_FLAG_UNORDERED,
    FLAG_T,
    ChunkType,
)
from .crc32c import crc32c, crc32c_extend
from .errors import MalformedPacket
from .params import Cause, Param, pack_causes, pack_params, parse_causes, parse_params

__all__ = [
    "AbortChunk",
    "Chunk",
    "CookieAckChunk",
    "CookieEchoChunk",
    "DataChunk",
    "ErrorChunk",
    "ForwardTsnChunk",
    "HeartbeatAckChunk",
    "HeartbeatChunk",
    "InitAckChunk",
    "InitChunk",
    "Packet",
    "ReconfigChunk",
    "SackChunk",
    "ShutdownAckChunk",
    "ShutdownChunk",
    "ShutdownCompleteChunk",
    "UnknownChunk",
    "parse_packet",
    "serialize_packet",
]

COMMON_HEADER = struct.Struct("!HHI")
CHECKSUM = struct.Struct("<I")
CHUNK_HEADER = struct.Struct("!BBH")
DATA_HEADER = struct.Struct("!BBHIHHI")  # chunk header + TSN, stream, SSN, PPID
_INIT_FIXED = struct.Struct("!IIHHI")
_SACK_FIXED = struct.Struct("!IIHH")
_U32 = struct.Struct("!I")
_U16_U16 = struct.Struct("!HH")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


def _chunk(type_: int, flags: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return CHUNK_HEADER.pack(type_, flags, length) + value + _PAD[length & 3]


class Chunk:
    """Base of every chunk; ``type`` is the wire code."""

    __slots__ = ()
    type: ClassVar[int]

    def serialize(self) -> bytes:
        raise NotImplementedError

    @property
    def type_code(self) -> int:
        return self.type


@dataclass(frozen=True, slots=True)
class DataChunk(Chunk):
    """DATA (RFC 9260 section 3.3.1)."""

    type: ClassVar[int] = ChunkType.DATA
    tsn: int
    stream_id: int
    ssn: int
    ppid: int
    user_data: bytes
    flags: int = DATA_FLAG_BEGIN | DATA_FLAG_END

    @property
    def unordered(self) -> bool:
        return bool(self.flags & DATA_FLAG_UNORDERED)

    @property
    def begin(self) -> bool:
        return bool(self.flags & DATA_FLAG_BEGIN)

    @property
    def end(self) -> bool:
        return bool(self.flags & DATA_FLAG_END)

    @property
    def immediate(self) -> bool:
        return bool(self.flags & DATA_FLAG_IMMEDIATE)

    def serialize(self) -> bytes:
        length = 16 + len(self.user_data)
        header = DATA_HEADER.pack(
            ChunkType.DATA, self.flags, length, self.tsn, self.stream_id, self.ssn, self.ppid
        )
        return header + self.user_data + _PAD[length & 3]


@dataclass(frozen=True, slots=True)
class _InitLike(Chunk):
    """The layout INIT and INIT ACK share (RFC 9260 sections 3.3.2, 3.3.3)."""

    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    params: tuple[Param, ...] = ()

    def serialize(self) -> bytes:
        fixed = _INIT_FIXED.pack(
            self.initiate_tag,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn,
        )
        return _chunk(self.type, 0, fixed + pack_params(self.params))


@dataclass(frozen=True, slots=True)
class InitChunk(_InitLike):
    """INIT (RFC 9260 section 3.3.2)."""

    type: ClassVar[int] = ChunkType.INIT


@dataclass(frozen=True, slots=True)
class InitAckChunk(_InitLike):
    """INIT ACK (RFC 9260 section 3.3.3): the layout of INIT; it must carry a State Cookie."""

    type: ClassVar[int] = ChunkType.INIT_ACK


@dataclass(frozen=True, slots=True)
class SackChunk(Chunk):
    """SACK (RFC 9260 section 3.3.4): gap blocks are (start, end) offsets from the cum TSN."""

    type: ClassVar[int] = ChunkType.SACK
    cumulative_tsn_ack: int
    a_rwnd: int
    gap_blocks: tuple[tuple[int, int], ...] = ()
    duplicate_tsns: tuple[int, ...] = ()

    def serialize(self) -> bytes:
        parts = [
            _SACK_FIXED.pack(
                self.cumulative_tsn_ack,
                self.a_rwnd,
                len(self.gap_blocks),
                len(self.duplicate_tsns),
            )
        ]
        parts.extend(_U16_U16.pack(s, e) for s, e in self.gap_blocks)
        parts.extend(_U32.pack(t) for t in self.duplicate_tsns)
        return _chunk(self.type, 0, b"".join(parts))


@dataclass(frozen=True, slots=True)
class HeartbeatChunk(Chunk):
    """HEARTBEAT (RFC 9260 section 3.3.5): one Heartbeat Info parameter, opaque to the peer."""

    type: ClassVar[int] = ChunkType.HEARTBEAT
    params: tuple[Param, ...]

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, pack_params(self.params))


@dataclass(frozen=True, slots=True)
class HeartbeatAckChunk(Chunk):
    """HEARTBEAT ACK (RFC 9260 section 3.3.6): echoes the Heartbeat Info verbatim."""

    type: ClassVar[int] = ChunkType.HEARTBEAT_ACK
    params: tuple[Param, ...]

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, pack_params(self.params))


@dataclass(frozen=True, slots=True)
class AbortChunk(Chunk):
    """ABORT (RFC 9260 section 3.3.7); ``reflected`` is the T bit."""

    type: ClassVar[int] = ChunkType.ABORT
    causes: tuple[Cause, ...] = ()
    reflected: bool = False

    def serialize(self) -> bytes:
        return _chunk(self.type, FLAG_T if self.reflected else 0, pack_causes(self.causes))


@dataclass(frozen=True, slots=True)
class ShutdownChunk(Chunk):
    """SHUTDOWN (RFC 9260 section 3.3.8)."""

    type: ClassVar[int] = ChunkType.SHUTDOWN
    cumulative_tsn_ack: int

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, _U32.pack(self.cumulative_tsn_ack))


@dataclass(frozen=True, slots=True)
class ShutdownAckChunk(Chunk):
    """SHUTDOWN ACK (RFC 9260 section 3.3.9)."""

    type: ClassVar[int] = ChunkType.SHUTDOWN_ACK

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, b"")


@dataclass(frozen=True, slots=True)
class ErrorChunk(Chunk):
    """ERROR (RFC 9260 section 3.3.10)."""

    type: ClassVar[int] = ChunkType.ERROR
    causes: tuple[Cause, ...] = ()

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, pack_causes(self.causes))


@dataclass(frozen=True, slots=True)
class CookieEchoChunk(Chunk):
    """COOKIE ECHO (RFC 9260 section 3.3.11): the State Cookie, byte for byte."""

    type: ClassVar[int] = ChunkType.COOKIE_ECHO
    cookie: bytes

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, self.cookie)


@dataclass(frozen=True, slots=True)
class CookieAckChunk(Chunk):
    """COOKIE ACK (RFC 9260 section 3.3.12)."""

    type: ClassVar[int] = ChunkType.COOKIE_ACK

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, b"")


@dataclass(frozen=True, slots=True)
class ShutdownCompleteChunk(Chunk):
    """SHUTDOWN COMPLETE (RFC 9260 section 3.3.13); ``reflected`` is the T bit."""

    type: ClassVar[int] = ChunkType.SHUTDOWN_COMPLETE
    reflected: bool = False

    def serialize(self) -> bytes:
        return _chunk(self.type, FLAG_T if self.reflected else 0, b"")


@dataclass(frozen=True, slots=True)
class ForwardTsnChunk(Chunk):
    """FORWARD TSN (RFC 3758 section 3.2): new cumulative TSN and (stream, SSN) pairs."""

    type: ClassVar[int] = ChunkType.FORWARD_TSN
    new_cumulative_tsn: int
    streams: tuple[tuple[int, int], ...] = ()

    def serialize(self) -> bytes:
        body = _U32.pack(self.new_cumulative_tsn) + b"".join(
            _U16_U16.pack(s, n) for s, n in self.streams
        )
        return _chunk(self.type, 0, body)


@dataclass(frozen=True, slots=True)
class ReconfigChunk(Chunk):
    """RE-CONFIG (RFC 6525 section 3.1): one or two request/response parameters."""

    type: ClassVar[int] = ChunkType.RE_CONFIG
    params: tuple[Param, ...]

    def serialize(self) -> bytes:
        return _chunk(self.type, 0, pack_params(self.params))


@dataclass(frozen=True, slots=True)
class UnknownChunk(Chunk):
    """A chunk type the codec does not model, kept byte for byte."""

    code: int
    flags: int
    value: bytes

    @property
    def type_code(self) -> int:
        return self.code

    def serialize(self) -> bytes:
        return _chunk(self.code, self.flags, self.value)


@dataclass(frozen=True, slots=True)
class Packet:
    """An SCTP packet: the common header (RFC 9260 section 3.1) and its chunks."""

    source_port: int
    destination_port: int
    verification_tag: int
    chunks: tuple[Chunk, ...]

    def serialize(self) -> bytes:
        return serialize_packet(
            self.source_port,
            self.destination_port,
            self.verification_tag,
            [c.serialize() for c in self.chunks],
        )


def serialize_packet(
    source_port: int, destination_port: int, verification_tag: int, chunks: list[bytes]
) -> bytes:
    """Common header + serialized chunks + CRC32c (RFC 9260 section 6.8)."""
    header = COMMON_HEADER.pack(source_port, destination_port, verification_tag)
    body = b"".join(chunks)
    return header + CHECKSUM.pack(crc32c_extend(crc32c(header + b"\0\0\0\0"), body)) + body


def checksum_ok(data: bytes) -> bool:
    """True when the CRC32c of ``data`` (with its checksum field zeroed) matches the field."""
    stored: int = CHECKSUM.unpack_from(data, 8)[0]
    return stored == crc32c_extend(crc32c(data[:8] + b"\0\0\0\0"), data[12:])


# --- parsing ----------------------------------------------------------------------------------


def _p_data(flags: int, data: bytes, start: int, end: int) -> Chunk:
    if end - start < 12:
        raise MalformedPacket("DATA chunk shorter than its 16-byte header")
    tsn, stream_id, ssn, ppid = _DATA_FIELDS.unpack_from(data, start)
    return DataChunk(tsn, stream_id, ssn, ppid, data[start + 12 : end], flags)


_DATA_FIELDS = struct.Struct("!IHHI")


def _p_init_like(cls: type[_InitLike]) -> _ChunkParser:
    def parse(flags: int, data: bytes, start: int, end: int) -> Chunk:
        if end - start < 16:
            raise MalformedPacket(f"{cls.__name__} chunk shorter than its 20-byte fixed part")
        tag, rwnd, outbound, inbound, tsn = _INIT_FIXED.unpack_from(data, start)
        return cls(tag, rwnd, outbound, inbound, tsn, parse_params(data, start + 16, end))

    return parse


def _p_sack(flags: int, data: bytes, start: int, end: int) -> Chunk:
    if end - start < 12:
        raise MalformedPacket("SACK chunk shorter than its 16-byte fixed part")
    cum, rwnd, ngaps, ndups = _SACK_FIXED.unpack_from(data, start)
    if end - start < 12 + 4 * ngaps + 4 * ndups:
        raise MalformedPacket(f"SACK announces {ngaps} gap blocks and {ndups} duplicates")
    pos = start + 12
    gaps = tuple(_U16_U16.iter_unpack(data[pos : pos + 4 * ngaps])) if ngaps else ()
    pos += 4 * ngaps
    dups = tuple(t for (t,) in _U32.iter_unpack(data[pos : pos + 4 * ndups])) if ndups else ()
    return SackChunk(cum, rwnd, gaps, dups)


def _p_shutdown(flags: int, data: bytes, start: int, end: int) -> Chunk:
    if end - start != 4:
        raise MalformedPacket("SHUTDOWN chunk must carry exactly a cumulative TSN ack")
    return ShutdownChunk(_U32.unpack_from(data, start)[0])


def _p_forward_tsn(flags: int, data: bytes, start: int, end: int) -> Chunk:
    if end - start < 4 or (end - start) % 4:
        raise MalformedPacket("FORWARD TSN chunk has a bad length")
    streams = tuple(_U16_U16.iter_unpack(data[start + 4 : end]))
    return ForwardTsnChunk(_U32.unpack_from(data, start)[0], streams)


def _p_empty(cls: Callable[[], Chunk]) -> _ChunkParser:
    def parse(flags: int, data: bytes, start: int, end: int) -> Chunk:
        return cls()

    return parse


_ChunkParser = Callable[[int, bytes, int, int], Chunk]

_CHUNK_PARSERS: dict[int, _ChunkParser] = {
    ChunkType.DATA: _p_data,
    ChunkType.INIT: _p_init_like(InitChunk),
    ChunkType.INIT_ACK: _p_init_like(InitAckChunk),
    ChunkType.SACK: _p_sack,
    ChunkType.HEARTBEAT: lambda f, d, s, e: HeartbeatChunk(parse_params(d, s, e)),
    ChunkType.HEARTBEAT_ACK: lambda f, d, s, e: HeartbeatAckChunk(parse_params(d, s, e)),
    ChunkType.ABORT: lambda f, d, s, e: AbortChunk(parse_causes(d, s, e), bool(f & FLAG_T)),
    ChunkType.SHUTDOWN: _p_shutdown,
    ChunkType.SHUTDOWN_ACK: _p_empty(ShutdownAckChunk),
    ChunkType.ERROR: lambda f, d, s, e: ErrorChunk(parse_causes(d, s, e)),
    ChunkType.COOKIE_ECHO: lambda f, d, s, e: CookieEchoChunk(d[s:e]),
    ChunkType.COOKIE_ACK: _p_empty(CookieAckChunk),
    ChunkType.SHUTDOWN_COMPLETE: lambda f, d, s, e: ShutdownCompleteChunk(bool(f & FLAG_T)),
    ChunkType.FORWARD_TSN: _p_forward_tsn,
    ChunkType.RE_CONFIG: lambda f, d, s, e: ReconfigChunk(parse_params(d, s, e)),
}


def parse_chunk(type_: int, flags: int, data: bytes, start: int, end: int) -> Chunk:
    """One chunk whose value is ``data[start:end]`` (header already read and checked)."""
    parser = _CHUNK_PARSERS.get(type_)
    if parser is None:
        return UnknownChunk(type_, flags, data[start:end])
    return parser(flags, data, start, end)


def parse_chunks(data: bytes, offset: int = 12) -> list[Chunk]:
    """The chunks of a packet from ``offset`` on (RFC 9260 section 3.2)."""
    chunks: list[Chunk] = []
    size = len(data)
    parsers = _CHUNK_PARSERS
    unpack_header = CHUNK_HEADER.unpack_from
    while offset < size:
        if size - offset < 4:
            raise MalformedPacket(f"{size - offset} stray bytes after the last chunk")
        type_, flags, length = unpack_header(data, offset)
        end = offset + length
        if length < 4 or end > size:
            raise MalformedPacket(f"chunk type {type_} has a bad length {length}")
        parser = parsers.get(type_)
        if parser is None:
            chunks.append(UnknownChunk(type_, flags, data[offset + 4 : end]))
        elif type_ == 0:
            # The hot path: DATA, inlined.
            if length < 16:
                raise MalformedPacket("DATA chunk shorter than its 16-byte header")
            tsn, stream_id, ssn, ppid = _DATA_FIELDS.unpack_from(data, offset + 4)
            chunks.append(DataChunk(tsn, stream_id, ssn, ppid, data[offset + 16 : end], flags))
        else:
            chunks.append(parser(flags, data, offset + 4, end))
        offset = (end + 3) & ~3
    return chunks


def parse_packet(data: bytes, *, verify_checksum: bool = True) -> Packet:
    """Parse one SCTP packet; raise ``MalformedPacket`` for anything else.

    A wrong CRC32c is a malformed packet too (RFC 9260 section 6.8: silently discard it).
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) < 12:
        raise MalformedPacket(f"{len(data)} bytes is shorter than the SCTP common header")
    if verify_checksum and not checksum_ok(data):
        raise MalformedPacket("bad CRC32c checksum")
    source_port, destination_port, tag = COMMON_HEADER.unpack_from(data)
    return Packet(source_port, destination_port, tag, tuple(parse_chunks(data)))
