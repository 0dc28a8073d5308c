"""The wire codec: round trips, malformed input, and cross-checks against scapy's SCTP layer."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.sctp import (
    SCTP,
    SCTPChunkAbort,
    SCTPChunkData,
    SCTPChunkInit,
    SCTPChunkParamCookiePreservative,
    SCTPChunkParamIPv4Addr,
    SCTPChunkSACK,
    SCTPChunkShutdown,
)

from sctpctl.sctp import crc32c as crc_module
from sctpctl.sctp.chunks import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    Packet,
    ReconfigChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
    parse_packet,
    serialize_packet,
)
from sctpctl.sctp.constants import ErrorCause
from sctpctl.sctp.errors import MalformedPacket
from sctpctl.sctp.params import (
    AddIncomingStreamsRequest,
    AddOutgoingStreamsRequest,
    Cause,
    CookiePreservative,
    EcnCapable,
    ForwardTsnSupported,
    HeartbeatInfo,
    HostNameAddress,
    IncomingSsnResetRequest,
    Ipv4Address,
    Ipv6Address,
    OutgoingSsnResetRequest,
    ReconfigResponse,
    SsnTsnResetRequest,
    StateCookie,
    SupportedAddressTypes,
    SupportedExtensions,
    UnknownParam,
    UnrecognizedParameter,
)

EVERY_CHUNK = [
    DataChunk(tsn=7, stream_id=3, ssn=9, ppid=51, user_data=b"hello", flags=0x07),
    DataChunk(tsn=0xFFFFFFFF, stream_id=0, ssn=0, ppid=0, user_data=b"", flags=0x03),
    InitChunk(
        initiate_tag=0xDEADBEEF,
        a_rwnd=131072,
        outbound_streams=10,
        inbound_streams=2048,
        initial_tsn=1,
        params=(
            Ipv4Address("192.0.2.2"),
            Ipv6Address("2001:db8::1"),
            CookiePreservative(5000),
            SupportedAddressTypes((5, 6)),
            EcnCapable(),
            ForwardTsnSupported(),
            SupportedExtensions((192, 130)),
            UnknownParam(0x8002, bytes(32)),
            UnknownParam(0x0ABC, b"\x01\x02\x03"),
        ),
    ),
    InitAckChunk(1, 2, 3, 4, 5, params=(StateCookie(b"c" * 37), UnrecognizedParameter(b"xy"))),
    SackChunk(100, 65535, gap_blocks=((2, 3), (5, 5)), duplicate_tsns=(99, 98)),
    SackChunk(100, 0),
    HeartbeatChunk((HeartbeatInfo(b"nonce-and-time"),)),
    HeartbeatAckChunk((HeartbeatInfo(b"nonce-and-time"),)),
    AbortChunk((Cause.user_initiated_abort(b"bye"),), reflected=True),
    AbortChunk(),
    ShutdownChunk(42),
    ShutdownAckChunk(),
    ErrorChunk((Cause.invalid_stream_identifier(7), Cause.stale_cookie(5_000_000))),
    CookieEchoChunk(b"opaque cookie"),
    CookieAckChunk(),
    ShutdownCompleteChunk(reflected=True),
    ForwardTsnChunk(1000, ((1, 4), (2, 9))),
    ReconfigChunk(
        (
            OutgoingSsnResetRequest(1, 2, 3, (4, 5)),
            IncomingSsnResetRequest(6, ()),
        )
    ),
    ReconfigChunk((ReconfigResponse(1, 1), ReconfigResponse(2, 6, 10, 20))),
    ReconfigChunk((AddOutgoingStreamsRequest(3, 4), AddIncomingStreamsRequest(4, 5))),
    ReconfigChunk((SsnTsnResetRequest(9),)),
    UnknownChunk(0xAF, 0x12, b"\x01\x02\x03\x04\x05"),
]


@pytest.mark.parametrize("chunk", EVERY_CHUNK, ids=lambda c: type(c).__name__)
def test_every_chunk_round_trips_through_a_packet(chunk: object) -> None:
    packet = Packet(5000, 7, 0x11223344, (chunk,))  # type: ignore[arg-type]
    assert parse_packet(packet.serialize()) == packet


def test_a_packet_bundles_several_chunks_in_order() -> None:
    packet = Packet(1, 2, 3, tuple(EVERY_CHUNK[4:12]))
    assert parse_packet(packet.serialize()).chunks == tuple(EVERY_CHUNK[4:12])


def test_crc32c_matches_the_rfc_test_vector_in_both_backends() -> None:
    assert crc_module.crc32c(b"123456789") == 0xE3069283
    assert crc_module.crc32c_python(b"123456789") == 0xE3069283
    data = bytes(range(256)) * 7
    assert crc_module.crc32c(data) == crc_module.crc32c_python(data)
    assert crc_module.BACKEND == "google-crc32c"


def test_a_bad_checksum_is_a_malformed_packet() -> None:
    data = bytearray(Packet(1, 2, 3, (CookieAckChunk(),)).serialize())
    data[-1] ^= 0xFF
    with pytest.raises(MalformedPacket, match="checksum"):
        parse_packet(bytes(data))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "shorter than the SCTP common header"),
        (struct.pack("!BBH", 0, 3, 40) + b"\0" * 8, "bad length"),  # beyond the packet
        (struct.pack("!BBH", 11, 0, 0), "bad length"),  # zero-length chunk
        (struct.pack("!BBH", 0, 3, 12) + b"\0" * 8, "DATA chunk shorter"),
        (struct.pack("!BBH", 1, 0, 8) + b"\0" * 4, "InitChunk chunk shorter"),
        (struct.pack("!BBHIIHH", 3, 0, 16, 1, 1, 5, 0), "gap blocks"),
        (b"\0\0", "stray bytes"),
    ],
)
def test_truncated_and_inconsistent_packets_raise_the_typed_error(body: bytes, reason: str) -> None:
    data = b"\x00" * 8 if body == b"" else serialize_packet(1, 2, 3, [body])
    with pytest.raises(MalformedPacket, match=reason):
        parse_packet(data)


def test_the_last_parameter_may_omit_its_padding() -> None:
    # RFC 9260 section 3.2: the chunk length does not include the final padding.
    value = struct.pack("!IIHHI", 1, 2, 3, 4, 5) + struct.pack("!HH", 0x0ABC, 5) + b"z"
    chunk = struct.pack("!BBH", 1, 0, 4 + len(value)) + value + b"\0\0\0"
    (init,) = parse_packet(serialize_packet(1, 2, 0, [chunk])).chunks
    assert isinstance(init, InitChunk)
    assert init.params == (UnknownParam(0x0ABC, b"z"),)


def test_error_cause_constructors_and_readers_agree() -> None:
    assert Cause.invalid_stream_identifier(9).stream_id == 9
    assert Cause.stale_cookie(1234).staleness_us == 1234
    assert Cause.missing_mandatory_parameter(7).missing_types == (7,)
    assert Cause.no_user_data(55).tsn == 55
    assert Cause.restart_with_new_encapsulation_port(9899, 9900).ports == (9899, 9900)
    assert Cause.out_of_resource().code == ErrorCause.OUT_OF_RESOURCE
    assert Cause.unresolvable_address(HostNameAddress(b"x").serialize()).name == (
        "unresolvable-address"
    )
    for code in range(1, 15):
        cause = Cause(code, b"\0\0\0\x01")
        (parsed,) = parse_packet(Packet(1, 2, 3, (ErrorChunk((cause,)),)).serialize()).chunks
        assert parsed == ErrorChunk((cause,))


# --- scapy cross-checks -----------------------------------------------------------------------


def test_scapy_dissects_what_the_codec_writes_with_a_valid_checksum() -> None:
    data_chunk = DataChunk(tsn=77, stream_id=2, ssn=5, ppid=46, user_data=b"payload", flags=0x03)
    sack = SackChunk(76, 4096, gap_blocks=((2, 2),), duplicate_tsns=(70,))
    raw = Packet(5001, 5002, 0xCAFEBABE, (sack, data_chunk)).serialize()
    dissected = SCTP(raw)
    assert dissected.sport == 5001 and dissected.dport == 5002 and dissected.tag == 0xCAFEBABE
    rebuilt = SCTP(raw)
    rebuilt.chksum = None  # let scapy compute it
    assert bytes(rebuilt) == raw
    assert dissected[SCTPChunkSACK].cumul_tsn_ack == 76
    assert dissected[SCTPChunkSACK].gap_ack_list == ["2:2"]
    assert dissected[SCTPChunkSACK].dup_tsn_list == [70]
    assert dissected[SCTPChunkData].tsn == 77
    assert dissected[SCTPChunkData].stream_seq == 5
    assert dissected[SCTPChunkData].proto_id == 46
    assert bytes(dissected[SCTPChunkData].data) == b"payload"


def test_scapy_dissects_an_init_with_addresses_and_preservative() -> None:
    init = InitChunk(
        0x01020304,
        5000,
        10,
        20,
        99,
        params=(Ipv4Address("198.51.100.7"), CookiePreservative(1000)),
    )
    raw = Packet(9, 10, 0, (init,)).serialize()
    dissected = SCTP(raw)
    assert dissected[SCTPChunkInit].init_tag == 0x01020304
    assert dissected[SCTPChunkParamIPv4Addr].addr == "198.51.100.7"
    assert dissected[SCTPChunkParamCookiePreservative].sug_cookie_inc == 1000


def test_the_codec_parses_what_scapy_writes() -> None:
    packet = SCTP(sport=7, dport=8, tag=0x55) / SCTPChunkData(
        tsn=3, stream_id=1, stream_seq=2, proto_id=9, data=b"abc", beginning=1, ending=1
    )
    packet /= SCTPChunkShutdown(cumul_tsn_ack=2)
    packet /= SCTPChunkAbort(TCB=1)
    parsed = parse_packet(bytes(packet))
    assert parsed.verification_tag == 0x55
    assert parsed.chunks == (
        DataChunk(3, 1, 2, 9, b"abc", 0x03),
        ShutdownChunk(2),
        AbortChunk((), reflected=True),
    )
    init = SCTP(sport=1, dport=2) / SCTPChunkInit(
        init_tag=7,
        a_rwnd=100,
        n_out_streams=1,
        n_in_streams=1,
        init_tsn=5,
        params=[SCTPChunkParamIPv4Addr(addr="203.0.113.9")],
    )
    (parsed_init,) = parse_packet(bytes(init)).chunks
    assert parsed_init == InitChunk(7, 100, 1, 1, 5, (Ipv4Address("203.0.113.9"),))


# --- the package surface ---------------------------------------------------------------------


def test_the_public_api_is_curated() -> None:
    import sctpctl.sctp as core

    assert core.__all__ == sorted(core.__all__, key=lambda n: (not n.isupper(), n))
    for name in core.__all__:
        assert hasattr(core, name), name


def test_the_documented_state_diagram_is_the_generated_one() -> None:
    from pathlib import Path

    from sctpctl.sctp import state_diagram

    doc = (Path(__file__).parents[2] / "docs" / "sctp-core.md").read_text()
    begin = doc.index("```mermaid\n") + len("```mermaid\n")
    end = doc.index("```\n<!-- state-diagram:end")
    assert doc[begin:end] == state_diagram()
