"""Conformance scenarios 27-36 of the reference (unknown chunks, bundling, out of the blue,
verification tags, checksums, heartbeats and paths, shutdown, PR-SCTP and RE-CONFIG)."""

from __future__ import annotations

import struct

import pytest

from sctpctl.sctp.association import State
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
    ReconfigChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
    serialize_packet,
)
from sctpctl.sctp.config import Address, Configuration, OotbPolicy
from sctpctl.sctp.constants import ErrorCause, ReconfigResult
from sctpctl.sctp.errors import LocalProtocolError
from sctpctl.sctp.events import (
    AssociationClosed,
    CloseReason,
    MessageReceived,
    PathState,
    PathStateChanged,
    SendFailed,
    StreamsAdded,
    StreamsReset,
)
from sctpctl.sctp.params import (
    AddOutgoingStreamsRequest,
    Cause,
    HeartbeatInfo,
    Ipv4Address,
    OutgoingSsnResetRequest,
    ReconfigResponse,
    StateCookie,
    SupportedExtensions,
)

from .harness import LOCAL_PORT, PEER, PEER_PORT, ScriptedPeer, seeded
from .test_scenarios_data import datas, sacks
from .test_scenarios_setup import active_setup, init_chunk, only, passive_setup

# --- 27, 28 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk_type", "data_processed", "reported"),
    [(0x2F, False, False), (0x6F, False, True), (0xAF, True, False), (0xEF, True, True)],
    ids=["M-I-10-1 00", "M-I-10-2 01", "M-I-10-3 10", "M-I-10-4 11"],
)
def test_m_i_10_unknown_chunk_types_bundled_before_data_follow_their_type_bits(
    chunk_type: int, data_processed: bool, reported: bool
) -> None:
    peer = ScriptedPeer()
    passive_setup(peer)
    peer.receive()
    peer.send(UnknownChunk(chunk_type, 0, b"\x01\x02\x03"), DataChunk(1000, 0, 0, 0, b"data"))
    chunks = [c for p in peer.receive() for c in p.chunks]
    assert bool(peer.of(MessageReceived)) is data_processed
    assert bool([c for c in chunks if isinstance(c, SackChunk)]) is data_processed
    errors = [c for c in chunks if isinstance(c, ErrorChunk)]
    assert bool(errors) is reported
    if reported:
        assert errors[0].causes[0].code == ErrorCause.UNRECOGNIZED_CHUNK_TYPE
        assert errors[0].causes[0].info[0] == chunk_type


def test_bdc_i_7_1_init_bundled_with_data_is_discarded():
    peer = ScriptedPeer()
    peer.send(init_chunk(peer), DataChunk(1, 0, 0, 0, b"x"), tag=0)
    assert peer.receive() == []
    assert peer.endpoint.associations == ()


def test_bdc_i_7_2_init_ack_and_bdc_i_7_3_shutdown_complete_bundled_with_data_are_discarded():
    peer = ScriptedPeer(listen=False)
    association = peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.peer_tag = init.initiate_tag
    ack = InitAckChunk(peer.tag, 65536, 5, 5, 1, (StateCookie(b"k"),))
    peer.send(ack, DataChunk(1, 0, 0, 0, b"x"))
    assert peer.receive() == [] and association.state is State.COOKIE_WAIT
    peer.send(ack)
    assert association.state is State.COOKIE_ECHOED


# --- 29 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "answer"),
    [
        (DataChunk(1, 0, 0, 0, b"x"), AbortChunk(reflected=True)),
        (AbortChunk(), None),
        (ShutdownAckChunk(), ShutdownCompleteChunk(reflected=True)),
        (ShutdownCompleteChunk(), None),
        (CookieAckChunk(), None),
        (ErrorChunk((Cause.stale_cookie(1),)), None),
        (HeartbeatChunk((HeartbeatInfo(b"hb"),)), AbortChunk(reflected=True)),
    ],
    ids=[
        "FH-O-5-3-1 DATA",
        "FH-O-5-3-2 ABORT",
        "FH-O-5-3-3 SHUTDOWN-ACK",
        "FH-O-5-3-4 SHUTDOWN-COMPLETE",
        "COOKIE-ACK",
        "ERROR",
        "HEARTBEAT",
    ],
)
def test_fh_o_5_3_out_of_the_blue_packets_are_answered_like_a_kernel(chunk, answer) -> None:
    peer = ScriptedPeer()
    peer.send(chunk, tag=0x12345678)
    packets = peer.receive()
    if answer is None:
        assert packets == []
    else:
        packet = only(packets)
        assert packet.verification_tag == 0x12345678  # reflected, with the T bit
        assert packet.chunks == (answer,)


@pytest.mark.parametrize("policy", [OotbPolicy.SILENT])
def test_fh_o_5_3_blackhole_policy_never_answers_out_of_the_blue(policy: OotbPolicy) -> None:
    peer = ScriptedPeer(Configuration(random_bytes=seeded(1), ootb_policy=policy), listen=False)
    for chunk in (DataChunk(1, 0, 0, 0, b"x"), ShutdownAckChunk(), HeartbeatChunk(())):
        peer.send(chunk, tag=7)
    peer.send(init_chunk(peer), tag=0)  # INIT to a closed port
    assert peer.receive() == []


def test_init_to_a_closed_port_gets_abort_with_the_initiate_tag_unless_silent():
    peer = ScriptedPeer(listen=False)
    peer.send(init_chunk(peer), tag=0)
    packet = only(peer.receive())
    assert packet.verification_tag == peer.tag
    assert packet.chunks == (AbortChunk(reflected=False),)
    quiet = ScriptedPeer(
        Configuration(random_bytes=seeded(1), ootb_policy=OotbPolicy.NO_ABORT_ON_INIT),
        listen=False,
    )
    quiet.send(init_chunk(quiet), tag=0)
    assert quiet.receive() == []


# --- 30, 31 ----------------------------------------------------------------------------------


def test_imh_i_3_7_abort_with_a_wrong_tag_is_ignored_and_at_v_2_2_t_bit_with_peer_tag_accepted():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    peer.send(AbortChunk(), tag=peer.peer_tag ^ 1)
    peer.send(AbortChunk(reflected=True), tag=peer.peer_tag)  # T bit needs the *peer's* tag
    assert association.state is State.ESTABLISHED
    peer.send(AbortChunk((Cause.user_initiated_abort(b"bye"),), reflected=True), tag=peer.tag)
    assert association.state is State.CLOSED
    (closed,) = peer.of(AssociationClosed)
    assert closed.reason is CloseReason.PEER_ABORTED
    assert closed.error_cause == ErrorCause.USER_INITIATED_ABORT
    assert peer.receive() == []  # never answer an ABORT


def test_imh_i_3_4_bad_checksum_and_imh_i_3_1_truncated_or_zero_length_chunks_are_discarded():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    good = serialize_packet(
        PEER_PORT, LOCAL_PORT, peer.peer_tag, [DataChunk(1000, 0, 0, 0, b"ok").serialize()]
    )
    bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
    truncated = serialize_packet(PEER_PORT, LOCAL_PORT, peer.peer_tag, [good[12:-4]])
    beyond = serialize_packet(
        PEER_PORT, LOCAL_PORT, peer.peer_tag, [struct.pack("!BBH", 0, 3, 400) + b"\0" * 16]
    )
    zero = serialize_packet(PEER_PORT, LOCAL_PORT, peer.peer_tag, [struct.pack("!BBH", 0, 3, 0)])
    for data in (bad_crc, truncated, beyond, zero, b"\0" * 5):
        peer.send_raw(data)
        assert peer.receive() == []
    assert peer.of(MessageReceived) == []
    peer.send_raw(good)
    assert [e.data for e in peer.of(MessageReceived)] == [b"ok"]
    assert association.state is State.ESTABLISHED


# --- 32 --------------------------------------------------------------------------------------


def test_fh_v_5_2_heartbeat_is_answered_with_identical_information():
    peer = ScriptedPeer()
    passive_setup(peer)
    peer.receive()
    info = HeartbeatInfo(b"opaque \x00\x01\x02 sender data")
    peer.send(HeartbeatChunk((info,)))
    (ack,) = only(peer.receive()).chunks
    assert ack == HeartbeatAckChunk((info,))


def test_fh_5_heartbeats_probe_idle_and_unconfirmed_paths_and_fail_over_after_path_max_retrans():
    config = Configuration(random_bytes=seeded(9), path_max_retrans=2, association_max_retrans=20)
    peer = ScriptedPeer(config)
    alternate = Address("198.51.100.8")
    peer.send(init_chunk(peer, params=(Ipv4Address(alternate.host),)), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    peer.peer_tag = ack.initiate_tag
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    peer.send(CookieEchoChunk(cookie))
    association = peer.association
    assert association is not None
    assert association.path_state(alternate.host) is PathState.UNCONFIRMED
    out = peer.receive_with_addresses()
    probes = [(c, a) for p, a in out for c in p.chunks if isinstance(c, HeartbeatChunk)]
    assert [a for _, a in probes] == [alternate]  # the unconfirmed address is probed at once
    # Data never goes to an unconfirmed address.
    association.send(b"data", now=peer.now)
    with_data = [(p, a) for p, a in peer.receive_with_addresses() if datas([p])]
    assert [a for _, a in with_data] == [PEER]
    peer.send(SackChunk(datas([with_data[0][0]])[0].tsn, 65536))
    # Confirm it by answering the probe from that address.
    peer.send(HeartbeatAckChunk(probes[0][0].params), source=alternate)
    assert association.path_state(alternate.host) is PathState.ACTIVE
    assert any(isinstance(e, PathStateChanged) and e.state is PathState.ACTIVE for e in peer.events)
    # Idle primary: a heartbeat after RTO + HB.interval (+/- 50% RTO jitter).
    peer.receive()
    t0 = peer.now
    heartbeat_seen = None
    while heartbeat_seen is None:
        peer.advance_to_next_timer()
        for packet, address in peer.receive_with_addresses():
            if any(isinstance(c, HeartbeatChunk) for c in packet.chunks) and address == PEER:
                heartbeat_seen = peer.now - t0
    assert 30.0 + 0.5 <= heartbeat_seen <= 30.0 + 1.5 + 1.0
    # The primary stops answering: after Path.Max.Retrans it is inactive, the alternate primary.
    while association.path_state(PEER.host) is not PathState.INACTIVE:
        peer.advance_to_next_timer()
        for packet, address in peer.receive_with_addresses():
            for chunk in packet.chunks:
                if isinstance(chunk, HeartbeatChunk) and address == alternate:
                    peer.send(HeartbeatAckChunk(chunk.params), source=alternate)
    assert association.primary_address == alternate
    assert association.state is State.ESTABLISHED


# --- 33, 34, 35 ------------------------------------------------------------------------------


def test_at_i_2_3_shutdown_waits_for_all_data_to_be_acknowledged():
    peer = ScriptedPeer()
    association = active_setup(peer)
    association.send(b"last words", now=peer.now)
    association.shutdown(now=peer.now)
    (data,) = [c for p in peer.receive() for c in p.chunks]
    assert isinstance(data, DataChunk) and association.state is State.SHUTDOWN_PENDING
    with pytest.raises(LocalProtocolError):
        association.send(b"more", now=peer.now)  # AT-I-2-7: no new data in SHUTDOWN-*
    peer.send(SackChunk(data.tsn, 65536))
    (shutdown,) = only(peer.receive()).chunks
    assert isinstance(shutdown, ShutdownChunk) and association.state is State.SHUTDOWN_SENT
    peer.send(ShutdownAckChunk())
    assert only(peer.receive()).chunks == (ShutdownCompleteChunk(),)
    assert peer.of(AssociationClosed)[0].reason is CloseReason.SHUTDOWN


def test_at_i_2_4_t2_shutdown_is_retransmitted_and_at_i_2_5_limited():
    config = Configuration(random_bytes=seeded(4), association_max_retrans=3, heartbeats=False)
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    association.shutdown(now=peer.now)
    count = 0
    while association.state is not State.CLOSED:
        for packet in peer.receive():
            count += sum(isinstance(c, ShutdownChunk) for c in packet.chunks)
        peer.advance_to_next_timer()
    assert count == 4  # the first SHUTDOWN and three retransmissions
    assert peer.of(AssociationClosed)[0].reason is CloseReason.RETRANSMISSION_LIMIT


def test_at_i_2_8_data_in_shutdown_sent_is_answered_with_shutdown_and_sack():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    association.shutdown(now=peer.now)
    assert isinstance(only(peer.receive()).chunks[0], ShutdownChunk)
    peer.send(DataChunk(1000, 0, 0, 0, b"late"))
    chunks = only(peer.receive()).chunks
    assert any(isinstance(c, SackChunk) and c.cumulative_tsn_ack == 1000 for c in chunks)
    assert any(isinstance(c, ShutdownChunk) and c.cumulative_tsn_ack == 1000 for c in chunks)


def test_at_i_2_10_shutdown_received_with_outstanding_data_keeps_retransmitting_then_acks():
    peer = ScriptedPeer()
    association = active_setup(peer)
    association.send(b"unacked", now=peer.now)
    (data,) = datas(peer.receive())
    peer.send(ShutdownChunk(4999))
    assert association.state is State.SHUTDOWN_RECEIVED
    peer.advance_to_next_timer()  # T3: the data goes out again
    assert [d.tsn for d in datas(peer.receive())] == [data.tsn]
    peer.send(SackChunk(data.tsn, 65536))
    assert only(peer.receive()).chunks == (ShutdownAckChunk(),)
    peer.send(ShutdownCompleteChunk(reflected=True), tag=peer.tag ^ 5)  # IMH-I-3-10: wrong tag
    assert association.state is State.SHUTDOWN_ACK_SENT
    peer.send(ShutdownCompleteChunk())
    assert association.state is State.CLOSED


def test_dm_o_4_5_shutdown_collision_and_dm_o_4_7_3_shutdown_ack_collision():
    peer = ScriptedPeer()
    association = active_setup(peer)
    association.shutdown(now=peer.now)
    assert isinstance(only(peer.receive()).chunks[0], ShutdownChunk)
    peer.send(ShutdownChunk(4999))  # both sides shut down at once
    assert only(peer.receive()).chunks == (ShutdownAckChunk(),)
    assert association.state is State.SHUTDOWN_ACK_SENT
    peer.send(ShutdownAckChunk())  # the peer's SHUTDOWN-ACK crosses ours
    assert only(peer.receive()).chunks == (ShutdownCompleteChunk(),)
    assert association.state is State.CLOSED


def test_init_in_shutdown_ack_sent_is_discarded_and_shutdown_ack_retransmitted():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    peer.send(ShutdownChunk((1000 - 1) & 0xFFFFFFFF))
    assert only(peer.receive()).chunks == (ShutdownAckChunk(),)
    assert association.state is State.SHUTDOWN_ACK_SENT
    peer.send(init_chunk(peer, initiate_tag=0x31313131), tag=0)  # RFC 9260 section 9.2
    assert only(peer.receive()).chunks == (ShutdownAckChunk(),)


def test_cookie_echo_of_a_restart_in_shutdown_ack_sent_gets_shutdown_ack_and_error():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    # The peer restarts while established: its INIT-ACK carries the tie-tags.
    old_tag = peer.tag
    peer.tag = 0x31313131
    peer.send(init_chunk(peer), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    # Meanwhile the old incarnation shuts down.
    peer.tag = old_tag
    peer.send(ShutdownChunk((1000 - 1) & 0xFFFFFFFF))
    peer.receive()
    assert association.state is State.SHUTDOWN_ACK_SENT
    peer.send(CookieEchoChunk(cookie), tag=ack.initiate_tag)
    chunks = only(peer.receive()).chunks
    assert chunks[0] == ShutdownAckChunk()
    assert isinstance(chunks[1], ErrorChunk)
    assert chunks[1].causes[0].code == ErrorCause.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN
    assert association.state is State.SHUTDOWN_ACK_SENT


# --- 36 --------------------------------------------------------------------------------------


def _prsctp_peer() -> tuple[ScriptedPeer, object]:
    peer = ScriptedPeer()
    peer.send(
        init_chunk(peer, params=(SupportedExtensions((192, 130)),)),
        tag=0,
    )
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    peer.peer_tag = ack.initiate_tag
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    peer.send(CookieEchoChunk(cookie))
    peer.receive()
    assert peer.association is not None and peer.association.peer_partial_reliability
    return peer, peer.association


def test_forward_tsn_receiver_skips_abandoned_tsns_and_ssns_and_acks_at_once():
    peer, _ = _prsctp_peer()
    peer.send(DataChunk(1000, 0, 0, 0, b"kept"))
    peer.send(DataChunk(1002, 0, 2, 0, b"after the hole"))
    peer.send(DataChunk(1003, 0, 3, 0, b"frag", flags=0x02))  # B only, its rest is abandoned
    peer.receive()
    assert [e.data for e in peer.of(MessageReceived)] == [b"kept"]
    peer.send(ForwardTsnChunk(1001, ((0, 1),)))  # TSN 1001 / SSN 1 abandoned by the sender
    (sack,) = sacks(peer.receive())
    assert sack.cumulative_tsn_ack == 1003
    assert [e.data for e in peer.of(MessageReceived)] == [b"kept", b"after the hole"]
    peer.send(ForwardTsnChunk(1004, ((0, 3),)))
    assert sacks(peer.receive())[0].cumulative_tsn_ack == 1004
    peer.send(DataChunk(1005, 0, 4, 0, b"flows on"))
    assert [e.data for e in peer.of(MessageReceived)][-1] == b"flows on"


def test_forward_tsn_sender_abandons_by_lifetime_and_announces_the_new_cumulative_tsn():
    peer, association = _prsctp_peer()
    association.send(b"perishable", ttl=0.5, now=peer.now)  # type: ignore[attr-defined]
    association.send(b"durable", now=peer.now)  # type: ignore[attr-defined]
    first, second = datas(peer.receive())
    peer.send(SackChunk((first.tsn - 1) & 0xFFFFFFFF, 65536, gap_blocks=((2, 2),)))
    peer.advance_to_next_timer()  # T3 after the lifetime ran out: abandon, FORWARD TSN
    chunks = [c for p in peer.receive() for c in p.chunks]
    forward = [c for c in chunks if isinstance(c, ForwardTsnChunk)]
    assert forward and forward[0].new_cumulative_tsn == first.tsn
    assert forward[0].streams == ((0, first.ssn),)
    failed = peer.of(SendFailed)
    assert [(f.data, f.reason) for f in failed] == [(b"perishable", "expired")]
    peer.send(SackChunk(second.tsn, 65536))
    assert association.buffered_amount == 0  # type: ignore[attr-defined]


def test_forward_tsn_sender_abandons_after_max_retransmissions():
    peer, association = _prsctp_peer()
    association.send(b"try twice", max_retransmissions=1, now=peer.now)  # type: ignore[attr-defined]
    datas(peer.receive())
    peer.advance_to_next_timer()
    assert datas(peer.receive())  # the one retransmission
    peer.advance_to_next_timer()
    chunks = [c for p in peer.receive() for c in p.chunks]
    assert any(isinstance(c, ForwardTsnChunk) for c in chunks)
    assert not any(isinstance(c, DataChunk) for c in chunks)
    assert peer.of(SendFailed)[0].reason == "retransmissions"


def test_reconfig_outgoing_stream_reset_and_add_streams_handshake():
    peer, association = _prsctp_peer()
    association.send(b"a", stream=1, now=peer.now)  # type: ignore[attr-defined]
    (data,) = datas(peer.receive())
    peer.send(SackChunk(data.tsn, 65536))
    association.reset_streams((1,), now=peer.now)  # type: ignore[attr-defined]
    (request,) = [c for p in peer.receive() for c in p.chunks if isinstance(c, ReconfigChunk)]
    (param,) = request.params
    assert isinstance(param, OutgoingSsnResetRequest)
    assert param.streams == (1,) and param.last_tsn == data.tsn
    association.send(b"b", stream=1, now=peer.now)  # held until the reset is done
    assert datas(peer.receive()) == []
    peer.send(
        ReconfigChunk((ReconfigResponse(param.request_sequence, ReconfigResult.SUCCESS_PERFORMED),))
    )
    (after,) = datas(peer.receive())
    assert after.stream_id == 1 and after.ssn == 0  # numbering restarted
    assert peer.of(StreamsReset)[0] == StreamsReset((1,), incoming=False, success=True)
    # Add streams (RFC 6525 section 5.1.5).
    before = association.outbound_streams  # type: ignore[attr-defined]
    association.add_streams(2, now=peer.now)  # type: ignore[attr-defined]
    (request,) = [c for p in peer.receive() for c in p.chunks if isinstance(c, ReconfigChunk)]
    (add,) = request.params
    assert isinstance(add, AddOutgoingStreamsRequest) and add.new_streams == 2
    peer.send(ReconfigChunk((ReconfigResponse(add.request_sequence, ReconfigResult.DENIED),)))
    assert association.outbound_streams == before  # type: ignore[attr-defined]
    assert peer.of(StreamsAdded)


def test_reconfig_incoming_reset_request_is_performed_once_the_data_has_arrived():
    peer, association = _prsctp_peer()
    peer.send(DataChunk(1000, 0, 0, 0, b"x"))
    peer.receive()
    # Request 1: the peer's last TSN is 1001, not received yet -> in progress (deferred).
    peer.send(ReconfigChunk((OutgoingSsnResetRequest(1, 0, 1001, (0,)),)))
    (response,) = [c for p in peer.receive() for c in p.chunks if isinstance(c, ReconfigChunk)]
    assert response.params == (ReconfigResponse(1, ReconfigResult.IN_PROGRESS),)
    peer.send(DataChunk(1001, 0, 1, 0, b"y"))
    peer.receive()
    assert peer.of(StreamsReset) == [StreamsReset((0,), incoming=True)]
    peer.send(DataChunk(1002, 0, 0, 0, b"z"))  # SSN 0 again after the reset
    assert [e.data for e in peer.of(MessageReceived)] == [b"x", b"y", b"z"]
    # Add outgoing streams of the peer = our incoming.
    peer.send(ReconfigChunk((AddOutgoingStreamsRequest(2, 3),)))
    (response,) = [c for p in peer.receive() for c in p.chunks if isinstance(c, ReconfigChunk)]
    assert response.params == (ReconfigResponse(2, ReconfigResult.SUCCESS_PERFORMED),)
    assert association.inbound_streams == 8  # type: ignore[attr-defined]
    assert peer.of(AssociationClosed) == []


def test_t5_shutdown_guard_ends_a_shutdown_the_peer_never_completes():
    config = Configuration(
        random_bytes=seeded(11), rto_max=4.0, association_max_retrans=100, heartbeats=False
    )
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    association.shutdown(now=peer.now)
    start = peer.now
    while association.state is not State.CLOSED:
        peer.receive()
        peer.advance_to_next_timer()
    (closed,) = peer.of(AssociationClosed)
    assert closed.reason is CloseReason.SHUTDOWN_GUARD
    assert peer.now - start == pytest.approx(5 * 4.0)  # RFC 9260 section 9.2: 5 x RTO.Max
    assert any(isinstance(c, AbortChunk) for p in peer.receive() for c in p.chunks)


def test_forward_tsn_without_pr_sctp_is_an_unrecognized_chunk_reported_by_its_type_bits():
    peer = ScriptedPeer()
    association = passive_setup(peer)  # the peer's INIT offered no PR-SCTP
    peer.receive()
    assert not association.peer_partial_reliability
    peer.send(ForwardTsnChunk(2000, ()), DataChunk(1000, 0, 0, 0, b"still processed"))
    chunks = [c for p in peer.receive() for c in p.chunks]
    errors = [c for c in chunks if isinstance(c, ErrorChunk)]
    assert errors and errors[0].causes[0].code == ErrorCause.UNRECOGNIZED_CHUNK_TYPE
    assert [e.data for e in peer.of(MessageReceived)] == [b"still processed"]
