"""Parameters and error causes: the TLVs inside chunks (RFC 9260 sections 3.2.1, 3.3.2, 3.3.10).

Parameters and causes share one layout: type (16), length (16, header included, padding excluded),
value, padding to a multiple of 4 bytes. Parsing never raises anything but ``MalformedPacket``.

Every parameter type the codec does not model is kept as an ``UnknownParam`` with its raw value, in
order, because the association needs the exact bytes to report it back (RFC 9260 section 3.2.1:
"Unrecognized Parameter" carries the parameter as received).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .constants import ErrorCause, ParamType
from .errors import MalformedPacket

__all__ = [
    "AdaptationLayerIndication",
    "AddIncomingStreamsRequest",
    "AddOutgoingStreamsRequest",
    "Cause",
    "CookiePreservative",
    "EcnCapable",
    "ForwardTsnSupported",
    "HeartbeatInfo",
    "HostNameAddress",
    "IncomingSsnResetRequest",
    "Ipv4Address",
    "Ipv6Address",
    "OutgoingSsnResetRequest",
    "Param",
    "ReconfigResponse",
    "SsnTsnResetRequest",
    "StateCookie",
    "SupportedAddressTypes",
    "SupportedExtensions",
    "UnknownParam",
    "UnrecognizedParameter",
    "pack_causes",
    "pack_params",
    "pack_tlv",
    "parse_causes",
    "parse_params",
]

_TLV = struct.Struct("!HH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U32_U32_U32 = struct.Struct("!III")
_U32_U16_U16 = struct.Struct("!IHH")
_U32_U32 = struct.Struct("!II")
_U16_U16 = struct.Struct("!HH")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


def pack_tlv(type_: int, value: bytes) -> bytes:
    """One TLV with its length and the padding to 4 bytes (RFC 9260 section 3.2.1)."""
    length = 4 + len(value)
    return _TLV.pack(type_, length) + value + _PAD[length & 3]


def iter_tlvs(data: bytes, offset: int, end: int) -> list[tuple[int, int, int]]:
    """(type, value offset, value end) of every TLV in ``data[offset:end]``.

    The last TLV may omit its padding (RFC 9260 section 3.2: the chunk length excludes the final
    padding). Anything else that does not add up raises ``MalformedPacket``.
    """
    tlvs = []
    while offset < end:
        if end - offset < 4:
            raise MalformedPacket(f"{end - offset} stray bytes after the last parameter")
        type_, length = _TLV.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            raise MalformedPacket(f"parameter 0x{type_:04x} has a bad length {length}")
        tlvs.append((type_, offset + 4, offset + length))
        offset += (length + 3) & ~3
    return tlvs


# --- parameters -------------------------------------------------------------------------------


class Param:
    """Base of every parameter; ``type`` is the wire code."""

    __slots__ = ()
    type: ClassVar[int]

    def value(self) -> bytes:
        raise NotImplementedError

    def serialize(self) -> bytes:
        return pack_tlv(self.type_code, self.value())

    @property
    def type_code(self) -> int:
        return self.type


@dataclass(frozen=True, slots=True)
class UnknownParam(Param):
    """A parameter the codec does not model, kept byte for byte."""

    code: int
    "The parameter type; its two high bits say what an endpoint that does not know it must do."
    raw: bytes
    "The value, without header and padding."

    def value(self) -> bytes:
        return self.raw

    @property
    def type_code(self) -> int:
        return self.code


@dataclass(frozen=True, slots=True)
class HeartbeatInfo(Param):
    """Heartbeat Info (RFC 9260 section 3.3.5): opaque to the receiver, echoed verbatim."""

    type: ClassVar[int] = ParamType.HEARTBEAT_INFO
    info: bytes

    def value(self) -> bytes:
        return self.info


@dataclass(frozen=True, slots=True)
class Ipv4Address(Param):
    """IPv4 Address (RFC 9260 section 3.3.2.1), textual."""

    type: ClassVar[int] = ParamType.IPV4_ADDRESS
    address: str

    def value(self) -> bytes:
        return ipaddress.IPv4Address(self.address).packed


@dataclass(frozen=True, slots=True)
class Ipv6Address(Param):
    """IPv6 Address (RFC 9260 section 3.3.2.1), textual."""

    type: ClassVar[int] = ParamType.IPV6_ADDRESS
    address: str

    def value(self) -> bytes:
        return ipaddress.IPv6Address(self.address).packed


@dataclass(frozen=True, slots=True)
class StateCookie(Param):
    """State Cookie (RFC 9260 section 3.3.3.1): opaque, any length."""

    type: ClassVar[int] = ParamType.STATE_COOKIE
    cookie: bytes

    def value(self) -> bytes:
        return self.cookie


@dataclass(frozen=True, slots=True)
class UnrecognizedParameter(Param):
    """Unrecognized Parameter (RFC 9260 section 3.3.3.1): the offending TLV as received."""

    type: ClassVar[int] = ParamType.UNRECOGNIZED_PARAMETER
    parameter: bytes

    def value(self) -> bytes:
        return self.parameter


@dataclass(frozen=True, slots=True)
class CookiePreservative(Param):
    """Cookie Preservative (RFC 9260 section 3.3.2.1): suggested life-span increment in ms."""

    type: ClassVar[int] = ParamType.COOKIE_PRESERVATIVE
    increment_ms: int

    def value(self) -> bytes:
        return _U32.pack(self.increment_ms)


@dataclass(frozen=True, slots=True)
class HostNameAddress(Param):
    """Host Name Address (RFC 9260 section 3.3.2.1): deprecated, answered with ABORT."""

    type: ClassVar[int] = ParamType.HOST_NAME_ADDRESS
    name: bytes

    def value(self) -> bytes:
        return self.name


@dataclass(frozen=True, slots=True)
class SupportedAddressTypes(Param):
    """Supported Address Types (RFC 9260 section 3.3.2.1): parameter types 5, 6 (and 11)."""

    type: ClassVar[int] = ParamType.SUPPORTED_ADDRESS_TYPES
    address_types: tuple[int, ...]

    def value(self) -> bytes:
        return b"".join(_U16.pack(t) for t in self.address_types)


@dataclass(frozen=True, slots=True)
class EcnCapable(Param):
    """ECN Capable (RFC 9260 appendix A); never sent by sctpctl, recognised when received."""

    type: ClassVar[int] = ParamType.ECN_CAPABLE

    def value(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class ForwardTsnSupported(Param):
    """Forward-TSN-Supported (RFC 3758 section 3.1): the sender speaks PR-SCTP."""

    type: ClassVar[int] = ParamType.FORWARD_TSN_SUPPORTED

    def value(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class SupportedExtensions(Param):
    """Supported Extensions (RFC 5061 section 4.2.7): chunk types beyond the base protocol."""

    type: ClassVar[int] = ParamType.SUPPORTED_EXTENSIONS
    chunk_types: tuple[int, ...]

    def value(self) -> bytes:
        return bytes(self.chunk_types)


@dataclass(frozen=True, slots=True)
class AdaptationLayerIndication(Param):
    """Adaptation Layer Indication (RFC 5061 section 4.2.6): a 32-bit code for the ULP."""

    type: ClassVar[int] = ParamType.ADAPTATION_LAYER_INDICATION
    indication: int

    def value(self) -> bytes:
        return _U32.pack(self.indication)


# RE-CONFIG parameters (RFC 6525 section 4).


@dataclass(frozen=True, slots=True)
class OutgoingSsnResetRequest(Param):
    """Outgoing SSN Reset Request (RFC 6525 section 4.1)."""

    type: ClassVar[int] = ParamType.OUTGOING_SSN_RESET_REQUEST
    request_sequence: int
    response_sequence: int
    last_tsn: int
    "The sender's last assigned TSN."
    streams: tuple[int, ...]
    "Streams to reset; empty means all."

    def value(self) -> bytes:
        head = _U32_U32_U32.pack(self.request_sequence, self.response_sequence, self.last_tsn)
        return head + b"".join(_U16.pack(s) for s in self.streams)


@dataclass(frozen=True, slots=True)
class IncomingSsnResetRequest(Param):
    """Incoming SSN Reset Request (RFC 6525 section 4.2)."""

    type: ClassVar[int] = ParamType.INCOMING_SSN_RESET_REQUEST
    request_sequence: int
    streams: tuple[int, ...]

    def value(self) -> bytes:
        return _U32.pack(self.request_sequence) + b"".join(_U16.pack(s) for s in self.streams)


@dataclass(frozen=True, slots=True)
class SsnTsnResetRequest(Param):
    """SSN/TSN Reset Request (RFC 6525 section 4.3)."""

    type: ClassVar[int] = ParamType.SSN_TSN_RESET_REQUEST
    request_sequence: int

    def value(self) -> bytes:
        return _U32.pack(self.request_sequence)


@dataclass(frozen=True, slots=True)
class ReconfigResponse(Param):
    """Re-configuration Response (RFC 6525 section 4.4)."""

    type: ClassVar[int] = ParamType.RECONFIGURATION_RESPONSE
    response_sequence: int
    result: int
    sender_next_tsn: int | None = None
    receiver_next_tsn: int | None = None

    def value(self) -> bytes:
        body = _U32_U32.pack(self.response_sequence, self.result)
        if self.sender_next_tsn is not None and self.receiver_next_tsn is not None:
            body += _U32_U32.pack(self.sender_next_tsn, self.receiver_next_tsn)
        return body


@dataclass(frozen=True, slots=True)
class AddOutgoingStreamsRequest(Param):
    """Add Outgoing Streams Request (RFC 6525 section 4.5)."""

    type: ClassVar[int] = ParamType.ADD_OUTGOING_STREAMS_REQUEST
    request_sequence: int
    new_streams: int

    def value(self) -> bytes:
        return _U32_U16_U16.pack(self.request_sequence, self.new_streams, 0)


@dataclass(frozen=True, slots=True)
class AddIncomingStreamsRequest(Param):
    """Add Incoming Streams Request (RFC 6525 section 4.6)."""

    type: ClassVar[int] = ParamType.ADD_INCOMING_STREAMS_REQUEST
    request_sequence: int
    new_streams: int

    def value(self) -> bytes:
        return _U32_U16_U16.pack(self.request_sequence, self.new_streams, 0)


def _u16_list(data: bytes, start: int, end: int) -> tuple[int, ...]:
    if (end - start) % 2:
        raise MalformedPacket("odd length of a list of 16-bit values")
    return tuple(v for (v,) in _U16.iter_unpack(data[start:end]))


def _need(start: int, end: int, size: int, what: str) -> None:
    if end - start < size:
        raise MalformedPacket(f"{what} is {end - start} bytes, needs {size}")


def _exact(start: int, end: int, size: int, what: str) -> None:
    if end - start != size:
        raise MalformedPacket(f"{what} is {end - start} bytes, must be {size}")


def _parse_param(type_: int, data: bytes, start: int, end: int) -> Param:
    parser = _PARAM_PARSERS.get(type_)
    if parser is None:
        return UnknownParam(type_, data[start:end])
    return parser(data, start, end)


def _p_ipv4(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 4, "IPv4 Address")
    return Ipv4Address(str(ipaddress.IPv4Address(data[start:end])))


def _p_ipv6(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 16, "IPv6 Address")
    return Ipv6Address(str(ipaddress.IPv6Address(data[start:end])))


def _p_cookie_preservative(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 4, "Cookie Preservative")
    return CookiePreservative(_U32.unpack_from(data, start)[0])


def _p_adaptation(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 4, "Adaptation Layer Indication")
    return AdaptationLayerIndication(_U32.unpack_from(data, start)[0])


def _p_outgoing_reset(data: bytes, start: int, end: int) -> Param:
    _need(start, end, 12, "Outgoing SSN Reset Request")
    req, resp, last = _U32_U32_U32.unpack_from(data, start)
    return OutgoingSsnResetRequest(req, resp, last, _u16_list(data, start + 12, end))


def _p_incoming_reset(data: bytes, start: int, end: int) -> Param:
    _need(start, end, 4, "Incoming SSN Reset Request")
    return IncomingSsnResetRequest(
        _U32.unpack_from(data, start)[0], _u16_list(data, start + 4, end)
    )


def _p_ssn_tsn_reset(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 4, "SSN/TSN Reset Request")
    return SsnTsnResetRequest(_U32.unpack_from(data, start)[0])


def _p_response(data: bytes, start: int, end: int) -> Param:
    if end - start == 8:
        seq, result = _U32_U32.unpack_from(data, start)
        return ReconfigResponse(seq, result)
    _exact(start, end, 16, "Re-configuration Response")
    seq, result = _U32_U32.unpack_from(data, start)
    sender_next, receiver_next = _U32_U32.unpack_from(data, start + 8)
    return ReconfigResponse(seq, result, sender_next, receiver_next)


def _p_add_out(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 8, "Add Outgoing Streams Request")
    seq, count, _ = _U32_U16_U16.unpack_from(data, start)
    return AddOutgoingStreamsRequest(seq, count)


def _p_add_in(data: bytes, start: int, end: int) -> Param:
    _exact(start, end, 8, "Add Incoming Streams Request")
    seq, count, _ = _U32_U16_U16.unpack_from(data, start)
    return AddIncomingStreamsRequest(seq, count)


_ParamParser = Callable[[bytes, int, int], Param]

_PARAM_PARSERS: dict[int, _ParamParser] = {
    ParamType.HEARTBEAT_INFO: lambda d, s, e: HeartbeatInfo(d[s:e]),
    ParamType.IPV4_ADDRESS: _p_ipv4,
    ParamType.IPV6_ADDRESS: _p_ipv6,
    ParamType.STATE_COOKIE: lambda d, s, e: StateCookie(d[s:e]),
    ParamType.UNRECOGNIZED_PARAMETER: lambda d, s, e: UnrecognizedParameter(d[s:e]),
    ParamType.COOKIE_PRESERVATIVE: _p_cookie_preservative,
    ParamType.HOST_NAME_ADDRESS: lambda d, s, e: HostNameAddress(d[s:e]),
    ParamType.SUPPORTED_ADDRESS_TYPES: lambda d, s, e: SupportedAddressTypes(_u16_list(d, s, e)),
    # ECN Capable and Forward-TSN-Supported carry no value (RFC 9260 appendix A, RFC 3758
    # section 3.1); a value sent anyway is ignored, nothing depends on it.
    ParamType.ECN_CAPABLE: lambda d, s, e: EcnCapable(),
    ParamType.FORWARD_TSN_SUPPORTED: lambda d, s, e: ForwardTsnSupported(),
    ParamType.SUPPORTED_EXTENSIONS: lambda d, s, e: SupportedExtensions(tuple(d[s:e])),
    ParamType.ADAPTATION_LAYER_INDICATION: _p_adaptation,
    ParamType.OUTGOING_SSN_RESET_REQUEST: _p_outgoing_reset,
    ParamType.INCOMING_SSN_RESET_REQUEST: _p_incoming_reset,
    ParamType.SSN_TSN_RESET_REQUEST: _p_ssn_tsn_reset,
    ParamType.RECONFIGURATION_RESPONSE: _p_response,
    ParamType.ADD_OUTGOING_STREAMS_REQUEST: _p_add_out,
    ParamType.ADD_INCOMING_STREAMS_REQUEST: _p_add_in,
}


def parse_params(data: bytes, offset: int, end: int) -> tuple[Param, ...]:
    """Every parameter in ``data[offset:end]``, in order."""
    return tuple(_parse_param(t, data, s, e) for t, s, e in iter_tlvs(data, offset, end))


def _pack_last_unpadded(tlvs: list[bytes], last_value_length: int) -> bytes:
    # RFC 9260 section 3.2: the chunk length covers the padding of every parameter but the
    # last; the last one's padding is the chunk's own, which the chunk writer adds.
    body = b"".join(tlvs)
    return body[: len(body) - len(tlvs[-1]) + 4 + last_value_length]


def pack_params(params: tuple[Param, ...] | list[Param]) -> bytes:
    """The parameters of a chunk, the last one without its padding (see ``_chunk``)."""
    if not params:
        return b""
    return _pack_last_unpadded([p.serialize() for p in params], len(params[-1].value()))


# --- error causes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cause:
    """One error cause (RFC 9260 section 3.3.10): a code and its cause-specific information.

    The constructors below build the causes of RFC 9260 with their exact layout; the properties
    read the fields back.
    """

    code: int
    info: bytes = b""

    def serialize(self) -> bytes:
        return pack_tlv(self.code, self.info)

    @property
    def name(self) -> str:
        try:
            return ErrorCause(self.code).name.lower().replace("_", "-")
        except ValueError:
            return f"cause-{self.code}"

    # Constructors (RFC 9260 sections 3.3.10.1 to 3.3.10.13, and cause 14 of RFC 6951's update).
    @classmethod
    def invalid_stream_identifier(cls, stream_id: int) -> Cause:
        return cls(ErrorCause.INVALID_STREAM_IDENTIFIER, _U16_U16.pack(stream_id, 0))

    @classmethod
    def missing_mandatory_parameter(cls, *param_types: int) -> Cause:
        info = _U32.pack(len(param_types)) + b"".join(_U16.pack(t) for t in param_types)
        return cls(ErrorCause.MISSING_MANDATORY_PARAMETER, info)

    @classmethod
    def stale_cookie(cls, staleness_us: int) -> Cause:
        return cls(ErrorCause.STALE_COOKIE, _U32.pack(min(staleness_us, 0xFFFFFFFF)))

    @classmethod
    def out_of_resource(cls) -> Cause:
        return cls(ErrorCause.OUT_OF_RESOURCE)

    @classmethod
    def unresolvable_address(cls, address_param: bytes) -> Cause:
        return cls(ErrorCause.UNRESOLVABLE_ADDRESS, address_param)

    @classmethod
    def unrecognized_chunk_type(cls, chunk: bytes) -> Cause:
        return cls(ErrorCause.UNRECOGNIZED_CHUNK_TYPE, chunk)

    @classmethod
    def invalid_mandatory_parameter(cls) -> Cause:
        return cls(ErrorCause.INVALID_MANDATORY_PARAMETER)

    @classmethod
    def unrecognized_parameters(cls, params: bytes) -> Cause:
        return cls(ErrorCause.UNRECOGNIZED_PARAMETERS, params)

    @classmethod
    def no_user_data(cls, tsn: int) -> Cause:
        return cls(ErrorCause.NO_USER_DATA, _U32.pack(tsn))

    @classmethod
    def cookie_received_while_shutting_down(cls) -> Cause:
        return cls(ErrorCause.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN)

    @classmethod
    def restart_with_new_addresses(cls, address_params: bytes) -> Cause:
        return cls(ErrorCause.RESTART_WITH_NEW_ADDRESSES, address_params)

    @classmethod
    def user_initiated_abort(cls, reason: bytes = b"") -> Cause:
        return cls(ErrorCause.USER_INITIATED_ABORT, reason)

    @classmethod
    def protocol_violation(cls, info: bytes = b"") -> Cause:
        return cls(ErrorCause.PROTOCOL_VIOLATION, info)

    @classmethod
    def restart_with_new_encapsulation_port(cls, current_port: int, new_port: int) -> Cause:
        return cls(
            ErrorCause.RESTART_WITH_NEW_ENCAPSULATION_PORT, _U16_U16.pack(current_port, new_port)
        )

    # Readers.
    @property
    def stream_id(self) -> int:
        """Invalid Stream Identifier: the stream."""
        return int(_U16.unpack_from(self.info)[0]) if len(self.info) >= 2 else 0

    @property
    def staleness_us(self) -> int:
        """Stale Cookie: how late the cookie was, in microseconds."""
        return int(_U32.unpack_from(self.info)[0]) if len(self.info) >= 4 else 0

    @property
    def missing_types(self) -> tuple[int, ...]:
        """Missing Mandatory Parameter: the missing parameter types."""
        if len(self.info) < 4:
            return ()
        count = _U32.unpack_from(self.info)[0]
        body = self.info[4 : 4 + 2 * count]
        return tuple(v for (v,) in _U16.iter_unpack(body[: len(body) & ~1]))

    @property
    def tsn(self) -> int:
        """No User Data: the TSN of the empty DATA chunk."""
        return int(_U32.unpack_from(self.info)[0]) if len(self.info) >= 4 else 0

    @property
    def ports(self) -> tuple[int, int]:
        """Restart with New Encapsulation Port: (current port, new port)."""
        if len(self.info) < 4:
            return (0, 0)
        current, new = _U16_U16.unpack_from(self.info)
        return (current, new)


def parse_causes(data: bytes, offset: int, end: int) -> tuple[Cause, ...]:
    """Every error cause in ``data[offset:end]`` (ABORT and ERROR bodies)."""
    return tuple(Cause(t, data[s:e]) for t, s, e in iter_tlvs(data, offset, end))


def pack_causes(causes: tuple[Cause, ...] | list[Cause]) -> bytes:
    """The error causes of a chunk, the last one without its padding, like parameters."""
    if not causes:
        return b""
    return _pack_last_unpadded([c.serialize() for c in causes], len(causes[-1].info))
