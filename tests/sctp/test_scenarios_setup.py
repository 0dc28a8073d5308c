"""Conformance scenarios 1-15 of the reference (association setup), named after their ETSI/nplab
test purposes. A scripted peer drives one endpoint with hand-built packets and a virtual clock."""

from __future__ import annotations

from sctpctl.sctp.association import Association, State
from sctpctl.sctp.chunks import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    Packet,
    SackChunk,
)
from sctpctl.sctp.config import Address, Configuration
from sctpctl.sctp.constants import ErrorCause, ParamType
from sctpctl.sctp.events import (
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    CloseReason,
    MessageReceived,
)
from sctpctl.sctp.params import (
    CookiePreservative,
    HostNameAddress,
    Ipv4Address,
    StateCookie,
    UnknownParam,
    UnrecognizedParameter,
)

from .harness import LOCAL_PORT, PEER, PEER_PORT, ScriptedPeer, seeded


def init_chunk(peer: ScriptedPeer, **overrides: object) -> InitChunk:
    fields: dict[str, object] = dict(
        initiate_tag=peer.tag,
        a_rwnd=65536,
        outbound_streams=5,
        inbound_streams=5,
        initial_tsn=1000,
        params=(),
    )
    fields.update(overrides)
    return InitChunk(**fields)  # type: ignore[arg-type]


def only(packets: list[Packet]) -> Packet:
    assert len(packets) == 1, packets
    return packets[0]


def passive_setup(peer: ScriptedPeer, *bundled: object) -> Association:
    """INIT -> INIT-ACK -> COOKIE-ECHO (+bundled) -> COOKIE-ACK against a listening endpoint."""
    peer.send(init_chunk(peer), tag=0)
    ack = only(peer.receive())
    (init_ack,) = ack.chunks
    assert isinstance(init_ack, InitAckChunk)
    peer.peer_tag = init_ack.initiate_tag
    cookie = next(p for p in init_ack.params if isinstance(p, StateCookie)).cookie
    peer.send(CookieEchoChunk(cookie), *bundled)
    assert peer.association is not None
    return peer.association


def active_setup(peer: ScriptedPeer, *, cookie: bytes = b"cookie") -> Association:
    """The endpoint connects; the scripted peer answers INIT-ACK and COOKIE-ACK."""
    association = peer.endpoint.connect(PEER, PEER_PORT, now=peer.now, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.peer_tag = init.initiate_tag
    peer.send(
        InitAckChunk(peer.tag, 65536, 5, 5, 5000, (StateCookie(cookie),)),
    )
    echo = only(peer.receive())
    assert isinstance(echo.chunks[0], CookieEchoChunk)
    peer.send(CookieAckChunk())
    assert association.state is State.ESTABLISHED
    return association


# --- 1 ---------------------------------------------------------------------------------------


def test_as_v_1_1_1_active_setup_bundles_data_with_cookie_echo_and_accepts_cookie_ack_with_sack():
    peer = ScriptedPeer(listen=False)
    association = peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init_packet = only(peer.receive())
    assert init_packet.verification_tag == 0
    init = init_packet.chunks[0]
    assert isinstance(init, InitChunk) and init.initiate_tag != 0
    peer.peer_tag = init.initiate_tag
    association.send(b"early", stream=1, ppid=42, now=peer.now)
    peer.send(InitAckChunk(peer.tag, 65536, 5, 5, 5000, (StateCookie(b"c00kie"),)))
    echo = only(peer.receive())
    assert echo.verification_tag == peer.tag
    assert isinstance(echo.chunks[0], CookieEchoChunk) and echo.chunks[0].cookie == b"c00kie"
    data = echo.chunks[1]
    assert isinstance(data, DataChunk) and data.user_data == b"early" and data.ppid == 42
    assert association.state is State.COOKIE_ECHOED
    peer.send(CookieAckChunk(), SackChunk(data.tsn, 65536))
    assert association.state is State.ESTABLISHED
    assert peer.of(AssociationEstablished)
    assert association.buffered_amount == 0  # the bundled SACK acknowledged the data


# --- 2 ---------------------------------------------------------------------------------------


def test_as_i_1_4_passive_setup_keeps_no_state_on_init_and_creates_it_on_cookie_echo():
    peer = ScriptedPeer()
    peer.send(init_chunk(peer), tag=0)
    first = only(peer.receive()).chunks[0]
    peer.send(init_chunk(peer), tag=0)
    second = only(peer.receive()).chunks[0]
    assert isinstance(first, InitAckChunk) and isinstance(second, InitAckChunk)
    assert first.initiate_tag != second.initiate_tag  # two independent answers
    assert peer.endpoint.associations == ()  # no resource allocated on INIT
    peer.peer_tag = second.initiate_tag
    cookie = next(p for p in second.params if isinstance(p, StateCookie)).cookie
    peer.send(CookieEchoChunk(cookie), DataChunk(1000, 0, 0, 7, b"hello"))
    packet = only(peer.receive())
    assert isinstance(packet.chunks[0], CookieAckChunk)
    assert isinstance(packet.chunks[1], SackChunk) and packet.chunks[1].cumulative_tsn_ack == 1000
    assert len(peer.endpoint.associations) == 1
    assert [e.data for e in peer.of(MessageReceived)] == [b"hello"]


# --- 3, 4 ------------------------------------------------------------------------------------


def test_as_i_1_2_1_t1_init_retransmits_with_doubling_rto_then_fails():
    config = Configuration(random_bytes=seeded(3), rto_initial=0.1, rto_max=0.8, rto_min=0.1)
    peer = ScriptedPeer(config, listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0)
    only(peer.receive())
    times = []
    while not peer.of(AssociationClosed):
        peer.advance_to_next_timer()
        if peer.receive():
            times.append(round(peer.now, 3))
    gaps = [round(b - a, 3) for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8, 0.8, 0.8]
    (closed,) = peer.of(AssociationClosed)
    assert closed.reason is CloseReason.RETRANSMISSION_LIMIT and not closed.was_established
    assert round(peer.now, 3) == 5.5


def test_as_i_1_2_2_t1_cookie_retransmits_the_cookie_echo_then_fails():
    config = Configuration(random_bytes=seeded(3), max_init_retransmits=3)
    peer = ScriptedPeer(config, listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.peer_tag = init.initiate_tag
    peer.send(InitAckChunk(peer.tag, 65536, 5, 5, 1, (StateCookie(b"k"),)))
    assert isinstance(only(peer.receive()).chunks[0], CookieEchoChunk)
    echoes = 0
    while not peer.of(AssociationClosed):
        peer.advance_to_next_timer()
        for packet in peer.receive():
            assert isinstance(packet.chunks[0], CookieEchoChunk)
            echoes += 1
    assert echoes == 3
    assert peer.of(AssociationClosed)[0].reason is CloseReason.RETRANSMISSION_LIMIT


# --- 5, 6, 7 ---------------------------------------------------------------------------------


def test_as_i_1_14_1_init_with_initiate_tag_zero_gets_no_answer_at_all():
    peer = ScriptedPeer()
    peer.send(init_chunk(peer, initiate_tag=0), tag=0)
    assert peer.receive() == []
    peer.endpoint.close_listener(LOCAL_PORT)
    peer.send(init_chunk(peer, initiate_tag=0), tag=0)
    assert peer.receive() == []  # not even the closed-port ABORT


def test_as_i_1_14_2_init_ack_with_initiate_tag_zero_is_answered_with_abort():
    peer = ScriptedPeer(listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.send(InitAckChunk(0, 65536, 5, 5, 1, (StateCookie(b"k"),)), tag=init.initiate_tag)
    abort = only(peer.receive())
    assert isinstance(abort.chunks[0], AbortChunk)
    assert abort.chunks[0].causes[0].code == ErrorCause.INVALID_MANDATORY_PARAMETER
    assert peer.of(AssociationClosed)[0].reason is CloseReason.PROTOCOL_VIOLATION


def test_as_i_1_7_2_init_with_zero_outbound_or_inbound_streams_is_aborted():
    peer = ScriptedPeer()
    for fields in ({"outbound_streams": 0}, {"inbound_streams": 0}):
        peer.send(init_chunk(peer, **fields), tag=0)
        packet = only(peer.receive())
        assert packet.verification_tag == peer.tag  # the INIT's Initiate Tag, T bit clear
        (abort,) = packet.chunks
        assert isinstance(abort, AbortChunk) and not abort.reflected
        assert abort.causes[0].code == ErrorCause.INVALID_MANDATORY_PARAMETER


def test_as_i_1_7_4_init_ack_with_zero_streams_is_aborted():
    peer = ScriptedPeer(listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.send(InitAckChunk(peer.tag, 65536, 0, 5, 1, (StateCookie(b"k"),)), tag=init.initiate_tag)
    (abort,) = only(peer.receive()).chunks
    assert isinstance(abort, AbortChunk)
    assert abort.causes[0].code == ErrorCause.INVALID_MANDATORY_PARAMETER


# --- 8 ---------------------------------------------------------------------------------------


def _init_ack_params(peer: ScriptedPeer, *params: object) -> InitAckChunk:
    peer.send(init_chunk(peer, params=params), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    return ack


def test_as_i_1_8_1_unknown_init_parameter_00_stops_processing_without_report():
    peer = ScriptedPeer()
    ack = _init_ack_params(peer, UnknownParam(0x3FF0, b"abcd"), UnknownParam(0xFFF0, b"after"))
    assert not [p for p in ack.params if isinstance(p, UnrecognizedParameter)]


def test_as_i_1_8_2_unknown_init_parameter_01_stops_and_is_reported():
    peer = ScriptedPeer()
    ack = _init_ack_params(peer, UnknownParam(0x7FF0, b"abcd"), UnknownParam(0xFFF0, b"after"))
    reports = [p.parameter for p in ack.params if isinstance(p, UnrecognizedParameter)]
    assert reports == [UnknownParam(0x7FF0, b"abcd").serialize()]


def test_as_i_1_8_3_unknown_init_parameter_10_is_skipped_silently():
    peer = ScriptedPeer()
    ack = _init_ack_params(peer, UnknownParam(0xBFF0, b"abcd"), UnknownParam(0xFFF1, b"later"))
    reports = [p.parameter for p in ack.params if isinstance(p, UnrecognizedParameter)]
    assert reports == [UnknownParam(0xFFF1, b"later").serialize()]


def test_as_i_1_8_4_unknown_init_parameter_11_is_skipped_and_reported():
    peer = ScriptedPeer()
    ack = _init_ack_params(peer, UnknownParam(0xFFF0, b"abc"), UnknownParam(0xFFF1, b"de"))
    reports = [p.parameter for p in ack.params if isinstance(p, UnrecognizedParameter)]
    assert reports == [
        UnknownParam(0xFFF0, b"abc").serialize(),
        UnknownParam(0xFFF1, b"de").serialize(),
    ]
    # The association is still set up with that INIT-ACK.
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    peer.peer_tag = ack.initiate_tag
    peer.send(CookieEchoChunk(cookie))
    assert isinstance(only(peer.receive()).chunks[0], CookieAckChunk)


def test_e_i_6_6_unknown_init_ack_parameter_is_reported_in_error_bundled_with_cookie_echo():
    peer = ScriptedPeer(listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.peer_tag = init.initiate_tag
    unknown = UnknownParam(0xC123, b"zz")
    peer.send(InitAckChunk(peer.tag, 65536, 5, 5, 1, (unknown, StateCookie(b"k"))))
    packet = only(peer.receive())
    assert isinstance(packet.chunks[0], CookieEchoChunk)
    error = packet.chunks[1]
    assert isinstance(error, ErrorChunk)
    assert error.causes[0].code == ErrorCause.UNRECOGNIZED_PARAMETERS
    assert error.causes[0].info == unknown.serialize()


# --- 9, 10 -----------------------------------------------------------------------------------


def test_e_i_6_4_init_ack_without_state_cookie_is_aborted_with_missing_mandatory_parameter():
    peer = ScriptedPeer(listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.send(InitAckChunk(peer.tag, 65536, 5, 5, 1, ()), tag=init.initiate_tag)
    (abort,) = only(peer.receive()).chunks
    assert isinstance(abort, AbortChunk)
    assert abort.causes[0].code == ErrorCause.MISSING_MANDATORY_PARAMETER
    assert abort.causes[0].missing_types == (ParamType.STATE_COOKIE,)


def test_as_i_1_12_2_host_name_address_in_init_is_aborted_as_unresolvable():
    peer = ScriptedPeer()
    host_name = HostNameAddress(b"peer.example\0")
    peer.send(init_chunk(peer, params=(host_name,)), tag=0)
    (abort,) = only(peer.receive()).chunks
    assert isinstance(abort, AbortChunk)
    assert abort.causes[0].code == ErrorCause.UNRESOLVABLE_ADDRESS
    assert abort.causes[0].info == host_name.serialize()
    assert peer.endpoint.associations == ()


# --- 11, 12 ----------------------------------------------------------------------------------


def test_imh_i_3_5_cookie_echo_with_bad_mac_or_wrong_tag_is_discarded_and_a_retry_works():
    peer = ScriptedPeer()
    peer.send(init_chunk(peer), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    forged = cookie[:-1] + bytes([cookie[-1] ^ 1])
    peer.send(CookieEchoChunk(forged), tag=ack.initiate_tag)
    assert peer.receive() == []
    peer.send(CookieEchoChunk(cookie), tag=ack.initiate_tag ^ 0xFFFF)  # IMH-I-3-3: wrong tag
    assert peer.receive() == []
    assert peer.endpoint.associations == ()
    peer.send(CookieEchoChunk(cookie), tag=ack.initiate_tag)
    assert isinstance(only(peer.receive()).chunks[0], CookieAckChunk)


def test_imh_i_3_6_stale_cookie_is_answered_with_its_staleness_in_microseconds():
    peer = ScriptedPeer()
    peer.send(init_chunk(peer), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    peer.advance(65.0)
    peer.send(CookieEchoChunk(cookie), tag=ack.initiate_tag)
    packet = only(peer.receive())
    assert packet.verification_tag == peer.tag
    (error,) = packet.chunks
    assert isinstance(error, ErrorChunk)
    assert error.causes[0].code == ErrorCause.STALE_COOKIE
    assert error.causes[0].staleness_us == 5_000_000
    assert peer.endpoint.associations == ()


def test_e_o_6_1_stale_cookie_error_in_cookie_echoed_restarts_with_a_cookie_preservative():
    peer = ScriptedPeer(listen=False)
    association = peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    peer.peer_tag = init.initiate_tag
    peer.send(InitAckChunk(peer.tag, 65536, 5, 5, 1, (StateCookie(b"k"),)))
    only(peer.receive())
    from sctpctl.sctp.params import Cause

    peer.send(ErrorChunk((Cause.stale_cookie(3000),)))
    packet = only(peer.receive())
    assert packet.verification_tag == 0
    new_init = packet.chunks[0]
    assert isinstance(new_init, InitChunk)
    assert any(isinstance(p, CookiePreservative) for p in new_init.params)
    assert association.state is State.COOKIE_WAIT


def test_e_o_6_2_stale_cookie_error_is_ignored_when_established():
    peer = ScriptedPeer(listen=False)
    association = active_setup(peer)
    from sctpctl.sctp.params import Cause

    peer.send(ErrorChunk((Cause.stale_cookie(3000),)))
    assert peer.receive() == []
    assert association.state is State.ESTABLISHED


# --- 13, 14, 15 ------------------------------------------------------------------------------


def test_dm_o_4_1_init_collision_is_answered_with_the_original_tag_and_ends_established_once():
    peer = ScriptedPeer(listen=False)
    association = peer.endpoint.connect(PEER, PEER_PORT, now=0.0, local_port=LOCAL_PORT)
    init = only(peer.receive()).chunks[0]
    assert isinstance(init, InitChunk)
    # The peer's own INIT crosses ours.
    peer.send(init_chunk(peer), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    assert ack.initiate_tag == init.initiate_tag
    assert ack.initial_tsn == init.initial_tsn
    # The peer answers with the cookie of that INIT-ACK (section 5.2.4 action B).
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    peer.peer_tag = init.initiate_tag
    peer.send(CookieEchoChunk(cookie))
    assert isinstance(only(peer.receive()).chunks[0], CookieAckChunk)
    assert association.state is State.ESTABLISHED
    # Our INIT's answer arrives late: ignored outside COOKIE-WAIT (nplab DM-O-4-3).
    peer.send(InitAckChunk(peer.tag, 65536, 5, 5, 1000, (StateCookie(b"late"),)))
    assert peer.receive() == []
    assert len(peer.of(AssociationEstablished)) == 1


def test_dm_o_4_2_1_peer_restart_resets_the_association_and_reports_it():
    peer = ScriptedPeer()
    association = passive_setup(peer, DataChunk(1000, 0, 0, 0, b"before"))
    peer.receive()
    old_local_tag = association.local_tag
    # The peer restarts: a new INIT with a new tag, from the same address and port.
    peer.tag = 0x77777777
    peer.send(init_chunk(peer, initial_tsn=9000), tag=0)
    ack = only(peer.receive()).chunks[0]
    assert isinstance(ack, InitAckChunk)
    assert ack.initiate_tag != old_local_tag
    assert association.state is State.ESTABLISHED  # not disturbed by the INIT itself
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie
    peer.peer_tag = ack.initiate_tag
    peer.send(CookieEchoChunk(cookie), DataChunk(9000, 0, 0, 0, b"after"))
    packet = only(peer.receive())
    assert isinstance(packet.chunks[0], CookieAckChunk)
    assert packet.verification_tag == 0x77777777
    assert peer.of(AssociationRestarted)
    assert association.local_tag == ack.initiate_tag
    assert [e.data for e in peer.of(MessageReceived)] == [b"before", b"after"]


def test_as_o_1_9_2_restart_with_a_new_address_is_aborted():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    peer.send(init_chunk(peer, initiate_tag=0x5555, params=(Ipv4Address("203.0.113.50"),)), tag=0)
    packet = only(peer.receive())
    assert packet.verification_tag == 0x5555
    (abort,) = packet.chunks
    assert isinstance(abort, AbortChunk)
    assert abort.causes[0].code == ErrorCause.RESTART_WITH_NEW_ADDRESSES
    assert association.state is State.ESTABLISHED


def test_udp_restart_from_a_different_encapsulation_port_is_aborted_with_cause_14():
    peer = ScriptedPeer()
    encapsulated = Address(PEER.host, 9899)
    peer.send(init_chunk(peer), tag=0, source=encapsulated)
    ack, destination = peer.receive_with_addresses()[0]
    assert destination == encapsulated  # the reply goes back to the UDP source port
    init_ack = ack.chunks[0]
    assert isinstance(init_ack, InitAckChunk)
    peer.peer_tag = init_ack.initiate_tag
    cookie = next(p for p in init_ack.params if isinstance(p, StateCookie)).cookie
    peer.send(CookieEchoChunk(cookie), source=encapsulated)
    association = peer.association
    assert association is not None and association.primary_address == encapsulated
    peer.receive()
    peer.send(init_chunk(peer, initiate_tag=0x4242), tag=0, source=Address(PEER.host, 10000))
    packet, _ = peer.receive_with_addresses()[0]
    assert packet.verification_tag == 0x4242
    (abort,) = packet.chunks
    assert isinstance(abort, AbortChunk)
    assert abort.causes[0].code == ErrorCause.RESTART_WITH_NEW_ENCAPSULATION_PORT
    assert abort.causes[0].ports == (9899, 10000)
    assert association.state is State.ESTABLISHED
