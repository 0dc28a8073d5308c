"""Conformance scenarios 16-26 of the reference (data transfer, acknowledgements, retransmission,
congestion control), named after their ETSI/nplab test purposes."""

from __future__ import annotations

from sctpctl.sctp.association import State
from sctpctl.sctp.chunks import (
    AbortChunk,
    DataChunk,
    ErrorChunk,
    SackChunk,
)
from sctpctl.sctp.config import Address, Configuration
from sctpctl.sctp.constants import ErrorCause
from sctpctl.sctp.events import AssociationClosed, CloseReason, MessageReceived

from .harness import ScriptedPeer, seeded
from .test_scenarios_setup import active_setup, only, passive_setup

B, E, U, I_BIT = 0x02, 0x01, 0x04, 0x08


def sacks(packets: list) -> list[SackChunk]:
    return [c for p in packets for c in p.chunks if isinstance(c, SackChunk)]


def datas(packets: list) -> list[DataChunk]:
    return [c for p in packets for c in p.chunks if isinstance(c, DataChunk)]


# --- 16, 17, 18 ------------------------------------------------------------------------------


def test_a_v_9_1_first_data_is_acked_at_once_then_every_second_packet_or_after_200_ms():
    peer = ScriptedPeer()
    passive_setup(peer)
    peer.receive()
    peer.send(DataChunk(1000, 0, 0, 0, b"a"))
    assert [s.cumulative_tsn_ack for s in sacks(peer.receive())] == [1000]  # the first at once
    peer.send(DataChunk(1001, 0, 1, 0, b"b"))
    assert sacks(peer.receive()) == []  # delayed
    peer.send(DataChunk(1002, 0, 2, 0, b"c"))
    assert [s.cumulative_tsn_ack for s in sacks(peer.receive())] == [1002]  # second packet
    peer.send(DataChunk(1003, 0, 3, 0, b"d"))
    assert sacks(peer.receive()) == []
    peer.advance(0.199)
    assert sacks(peer.receive()) == []
    peer.advance(0.001)
    assert [s.cumulative_tsn_ack for s in sacks(peer.receive())] == [1003]  # SACK.Delay
    peer.send(DataChunk(1004, 0, 4, 0, b"e", flags=B | E | I_BIT))
    assert [s.cumulative_tsn_ack for s in sacks(peer.receive())] == [1004]  # the I bit


def test_a_delayed_sack_rides_on_the_next_data_so_a_request_never_waits_for_sack_delay():
    # Request/response against a peer that holds small messages back until its last one is
    # acknowledged (Nagle, usrsctp's default): the acknowledgement of its answer must go out
    # with the next request, not 200 ms later.
    peer = ScriptedPeer()
    passive_setup(peer, DataChunk(1000, 0, 0, 0, b"first"))
    peer.receive()
    peer.send(DataChunk(1001, 0, 1, 0, b"answer"))
    assert sacks(peer.receive()) == []  # a second packet is not there yet: the SACK waits
    association = peer.association
    assert association is not None
    association.send(b"next request", now=peer.now)
    (packet,) = peer.receive()
    assert [type(c).__name__ for c in packet.chunks] == ["SackChunk", "DataChunk"]
    assert only_sack(packet).cumulative_tsn_ack == 1001
    peer.advance(0.3)
    assert sacks(peer.receive()) == []  # the delayed SACK went out already


def only_sack(packet) -> SackChunk:
    (sack,) = sacks([packet])
    return sack


def test_a_o_9_3_out_of_order_data_is_acked_at_once_with_a_gap_block():
    peer = ScriptedPeer()
    passive_setup(peer, DataChunk(1000, 0, 0, 0, b"first"))
    peer.receive()
    peer.send(DataChunk(1002, 0, 2, 0, b"third"))
    (sack,) = sacks(peer.receive())
    assert sack.cumulative_tsn_ack == 1000 and sack.gap_blocks == ((2, 2),)
    peer.send(DataChunk(1001, 0, 1, 0, b"second"))
    (sack,) = sacks(peer.receive())
    assert sack.cumulative_tsn_ack == 1002 and sack.gap_blocks == ()
    assert [e.data for e in peer.of(MessageReceived)] == [b"first", b"second", b"third"]


def test_d_o_8_6_duplicate_data_is_reported_at_once_and_delivered_once():
    peer = ScriptedPeer()
    passive_setup(peer, DataChunk(1000, 0, 0, 0, b"once"))
    peer.receive()
    peer.send(DataChunk(1000, 0, 0, 0, b"once"))
    (sack,) = sacks(peer.receive())
    assert sack.duplicate_tsns == (1000,)
    assert [e.data for e in peer.of(MessageReceived)] == [b"once"]


# --- 19, 20, 21 ------------------------------------------------------------------------------


def test_d_v_8_3_fragments_reassemble_out_of_order_across_streams_and_unordered_overtakes():
    peer = ScriptedPeer()
    passive_setup(peer)
    peer.receive()
    # Stream 1: message SSN 0 in three fragments (TSN 1000-1002); stream 2: SSN 0 whole (1003);
    # stream 1 SSN 1 whole (1004); an unordered message on stream 1 (1005).
    chunks = [
        DataChunk(1002, 1, 0, 9, b"-end", flags=E),
        DataChunk(1004, 1, 1, 9, b"next", flags=B | E),
        DataChunk(1005, 1, 0, 9, b"urgent", flags=B | E | U),
        DataChunk(1003, 2, 0, 9, b"other", flags=B | E),
        DataChunk(1000, 1, 0, 9, b"begin", flags=B),
    ]
    for chunk in chunks:
        peer.send(chunk)
    received = [(e.stream, e.data, e.unordered) for e in peer.of(MessageReceived)]
    # Stream 1 is blocked behind its incomplete SSN 0, the unordered message is not.
    assert received == [(1, b"urgent", True), (2, b"other", False)]
    peer.send(DataChunk(1001, 1, 0, 9, b"-middle", flags=0))
    received = [(e.stream, e.data) for e in peer.of(MessageReceived)]
    assert received[2:] == [(1, b"begin-middle-end"), (1, b"next")]


def test_d_i_8_11_data_chunk_without_user_data_is_aborted_with_no_user_data():
    peer = ScriptedPeer()
    association = passive_setup(peer)
    peer.receive()
    peer.send(DataChunk(1000, 0, 0, 0, b""))
    (abort,) = only(peer.receive()).chunks
    assert isinstance(abort, AbortChunk)
    assert abort.causes[0].code == ErrorCause.NO_USER_DATA and abort.causes[0].tsn == 1000
    assert association.state is State.CLOSED
    assert peer.of(AssociationClosed)[0].reason is CloseReason.PROTOCOL_VIOLATION


def test_e_i_6_3_data_on_an_invalid_stream_is_acked_and_reported_in_an_error_bundled_with_sack():
    peer = ScriptedPeer()
    passive_setup(peer)
    peer.receive()
    peer.send(DataChunk(1000, 99, 0, 0, b"nowhere"))
    packet = only(peer.receive())
    sack, error = packet.chunks
    assert isinstance(sack, SackChunk) and sack.cumulative_tsn_ack == 1000
    assert isinstance(error, ErrorChunk)
    assert error.causes[0].code == ErrorCause.INVALID_STREAM_IDENTIFIER
    assert error.causes[0].stream_id == 99
    assert peer.of(MessageReceived) == []


# --- 22, 23, 24 ------------------------------------------------------------------------------


def test_d_o_8_7_zero_window_gets_one_probe_retransmitted_with_backoff_until_it_opens():
    peer = ScriptedPeer()
    association = active_setup(peer)
    association.send(b"x" * 100, now=peer.now)
    (first,) = datas(peer.receive())
    peer.send(SackChunk(first.tsn, 0))  # acked, but the window is closed now
    association.send(b"y" * 100, now=peer.now)
    association.send(b"z" * 100, now=peer.now)
    (probe,) = datas(peer.receive())  # nothing in flight: exactly one probe
    assert probe.user_data == b"y" * 100
    t0 = peer.now
    peer.advance_to_next_timer()
    (again,) = datas(peer.receive())
    assert again.tsn == probe.tsn
    first_rto = peer.now - t0
    t1 = peer.now
    peer.advance_to_next_timer()
    assert datas(peer.receive())[0].tsn == probe.tsn
    assert round(peer.now - t1, 6) == round(2 * first_rto, 6)  # backed off
    peer.send(SackChunk(probe.tsn, 65536))  # the window opens
    assert [d.user_data for d in datas(peer.receive())] == [b"z" * 100]


def test_rt_i_11_1_t3_expiry_retransmits_the_earliest_chunk_doubles_rto_and_cuts_cwnd():
    peer = ScriptedPeer()
    association = active_setup(peer)
    for i in range(3):
        association.send(bytes([i]) * 1000, now=peer.now)
    sent = datas(peer.receive())
    assert len(sent) == 3
    path = association._primary
    rto = path.rto
    peer.advance_to_next_timer()
    assert round(peer.now, 6) == round(rto, 6)
    resent = datas(peer.receive())
    assert [d.tsn for d in resent] == [sent[0].tsn]  # one MTU's worth: cwnd is 1 MTU now
    assert path.cwnd == path.max_packet
    assert path.rto == 2 * rto
    metrics = association.metrics()
    assert (metrics.t3_expirations, metrics.retransmissions, metrics.cwnd) == (1, 1, path.cwnd)
    # D-I-8-5 / FH-I-5-1-2: a SACK resets the error counter and the rest follows.
    peer.send(SackChunk(sent[0].tsn, 65536))
    assert association._error_count == 0
    assert [d.tsn for d in datas(peer.receive())] == [sent[1].tsn, sent[2].tsn]


def test_fast_retransmit_after_three_miss_indications_happens_once_per_tsn():
    config = Configuration(random_bytes=seeded(5), initial_cwnd=20000, heartbeats=False)
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    for i in range(4):  # Max.Burst packets
        association.send(bytes([i]) * 1000, now=peer.now)
    sent = datas(peer.receive())
    tsns = [d.tsn for d in sent]
    assert len(tsns) == 4
    lost = tsns[0]
    base = (lost - 1) & 0xFFFFFFFF
    for n in (1, 2):
        peer.send(SackChunk(base, 65536, gap_blocks=((2, 1 + n),)))
        assert datas(peer.receive()) == []
    cwnd_before = association._primary.cwnd
    peer.send(SackChunk(base, 65536, gap_blocks=((2, 4),)))
    assert [d.tsn for d in datas(peer.receive())] == [lost]  # third miss: fast retransmit
    assert association.metrics().fast_retransmits == 1
    assert association._primary.cwnd < cwnd_before  # fast recovery entered
    association.send(b"new", now=peer.now)
    peer.send(SackChunk(base, 65536, gap_blocks=((2, 4),)))
    later = [d.tsn for d in datas(peer.receive())]
    assert lost not in later  # never fast-retransmitted twice
    peer.send(SackChunk(later[-1], 65536))
    assert association.buffered_amount == 0


def test_a_lost_fast_retransmission_is_sent_again_once_later_data_is_acked_around_it():
    config = Configuration(random_bytes=seeded(5), initial_cwnd=20000, heartbeats=False)
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    for i in range(4):
        association.send(bytes([i]) * 1000, now=peer.now)
    tsns = [d.tsn for d in datas(peer.receive())]
    lost = tsns[0]
    base = (lost - 1) & 0xFFFFFFFF
    for n in (1, 2, 3):
        peer.send(SackChunk(base, 65536, gap_blocks=((2, 1 + n),)))
    assert [d.tsn for d in datas(peer.receive())] == [lost]  # fast retransmit; it is lost too
    # Data sent after the retransmission arrives and is acked while ``lost`` is still missing:
    # three such miss indications send it again, long before T3-rtx would.
    gap_end = 4
    for i in range(3):
        association.send(b"after" + bytes([i]), now=peer.now)
        (new,) = datas(peer.receive())
        gap_end += 1
        assert new.tsn == (base + gap_end) & 0xFFFFFFFF
        peer.send(SackChunk(base, 65536, gap_blocks=((2, gap_end),)))
    assert [d.tsn for d in datas(peer.receive())] == [lost]
    assert association.metrics().fast_retransmits == 2
    assert association.metrics().t3_expirations == 0
    peer.send(SackChunk((base + gap_end) & 0xFFFFFFFF, 65536))
    assert association.buffered_amount == 0


# --- 25, 26 ----------------------------------------------------------------------------------


def test_d_o_8_12_outdated_sack_is_ignored_and_d_v_8_10_sack_from_alternate_address_is_accepted():
    from sctpctl.sctp.chunks import CookieEchoChunk
    from sctpctl.sctp.params import Ipv4Address, StateCookie

    from .test_scenarios_setup import init_chunk

    peer = ScriptedPeer()
    alternate = Address("198.51.100.8")
    peer.send(init_chunk(peer, params=(Ipv4Address(alternate.host),)), tag=0)
    ack = only(peer.receive()).chunks[0]
    peer.peer_tag = ack.initiate_tag  # type: ignore[attr-defined]
    cookie = next(p for p in ack.params if isinstance(p, StateCookie)).cookie  # type: ignore[attr-defined]
    peer.send(CookieEchoChunk(cookie))
    association = peer.association
    assert association is not None
    peer.receive()
    for i in range(2):
        association.send(bytes([i]) * 10, now=peer.now)
    sent = datas(peer.receive())
    peer.send(SackChunk(sent[1].tsn, 65536), source=alternate)
    assert association.buffered_amount == 0
    association.send(b"more", now=peer.now)
    (more,) = datas(peer.receive())
    peer.send(SackChunk(sent[0].tsn, 65536))  # older than the last cumulative ack
    assert association._cum_ack == sent[1].tsn
    peer.send(SackChunk(more.tsn, 65536))
    assert association.buffered_amount == 0


def test_fh_i_5_1_1_excessive_retransmissions_abort_the_association():
    config = Configuration(random_bytes=seeded(6), association_max_retrans=3, heartbeats=False)
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    association.send(b"into the void", now=peer.now)
    peer.receive()
    while association.state is not State.CLOSED:
        peer.advance_to_next_timer()
        peer.receive()
    (closed,) = peer.of(AssociationClosed)
    assert closed.reason is CloseReason.RETRANSMISSION_LIMIT and closed.was_established


def test_d_o_8_8_zero_window_probing_goes_on_while_the_peer_answers():
    config = Configuration(random_bytes=seeded(8), association_max_retrans=3, heartbeats=False)
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    association.send(b"x" * 100, now=peer.now)
    (first,) = datas(peer.receive())
    peer.send(SackChunk(first.tsn, 0))
    association.send(b"probe", now=peer.now)
    (probe,) = datas(peer.receive())
    for _ in range(8):  # far more than Association.Max.Retrans
        peer.advance_to_next_timer()
        assert [d.tsn for d in datas(peer.receive())] == [probe.tsn]
        peer.send(SackChunk(first.tsn, 0))  # alive, window still closed
    assert association.state is State.ESTABLISHED
    peer.send(SackChunk(probe.tsn, 65536))
    assert association.buffered_amount == 0


def test_an_idle_path_halves_its_congestion_window_per_rto_down_to_4_mtu():
    config = Configuration(random_bytes=seeded(12), initial_cwnd=40_000, heartbeats=False)
    peer = ScriptedPeer(config)
    association = active_setup(peer)
    association.send(b"x", now=peer.now)
    (data,) = datas(peer.receive())
    peer.send(SackChunk(data.tsn, 65536))
    path = association._primary
    assert path.cwnd == 40_000
    peer.advance(2.5)  # two and a half RTOs of silence
    association.send(b"y", now=peer.now)
    (data,) = datas(peer.receive())
    assert path.cwnd == 10_000
    peer.send(SackChunk(data.tsn, 65536))
    peer.advance(60.0)
    association.send(b"z", now=peer.now)
    peer.receive()
    assert path.cwnd == 4 * path.max_packet


def test_sacks_arriving_together_all_grow_a_window_that_was_full_when_they_arrived():
    # RFC 9260 section 7.2.1: growth depends on the window being used "before the arrival of
    # the SACK". Two SACKs read in one batch arrived together: the first freeing half the
    # window does not make the window look unused to the second.
    peer = ScriptedPeer()
    association = active_setup(peer)
    for i in range(8):
        association.send(bytes([i]) * 1000, now=peer.now)
    tsns = [d.tsn for d in datas(peer.receive())]
    path = association._primary
    assert path.flight + path.max_packet >= path.cwnd  # cwnd-limited
    assert path.cwnd <= path.ssthresh  # slow start
    before = path.cwnd
    half = len(tsns) // 2
    peer.send(SackChunk(tsns[half - 1], 65536))
    peer.send(SackChunk(tsns[-1], 65536))  # no packets_to_send in between: one batch
    assert path.cwnd == before + 2 * min(half * 1000, path.max_packet)
