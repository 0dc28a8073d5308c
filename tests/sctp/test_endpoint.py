"""The endpoint: demultiplexing, listeners, ICMP errors, probes, UDP encapsulation learning."""

from __future__ import annotations

import pytest

from sctpctl.sctp.association import IcmpError, State
from sctpctl.sctp.config import Address, Configuration
from sctpctl.sctp.endpoint import Endpoint
from sctpctl.sctp.errors import LocalProtocolError
from sctpctl.sctp.events import (
    AssociationClosed,
    AssociationEstablished,
    CloseReason,
    MessageReceived,
)
from sctpctl.sctp.probe import ProbeAnswer, abort_for, classify_reply, probe_init

from .harness import PEER, PEER_PORT, SERVER_PORT, Pair, ScriptedPeer, seeded
from .test_scenarios_setup import active_setup, only


def test_many_associations_are_demultiplexed_by_ports_and_address():
    server = Endpoint(Configuration(random_bytes=seeded(1)))
    server.listen(80)
    clients = [Endpoint(Configuration(random_bytes=seeded(10 + i))) for i in range(3)]
    addresses = [Address(f"192.0.2.{10 + i}") for i in range(3)]
    server_address = Address("192.0.2.1")
    associations = [c.connect(server_address, 80, now=0.0, local_port=4000) for c in clients]
    now = 0.0
    for _ in range(6):
        now += 0.001
        for client, address in zip(clients, addresses, strict=True):
            for data, _ in client.packets_to_send(now=now):
                server.receive_packet(data, source=address, now=now)
        for data, destination in server.packets_to_send(now=now):
            client = clients[addresses.index(Address(destination.host))]
            client.receive_packet(data, source=server_address, now=now)
    assert all(a.state is State.ESTABLISHED for a in associations)
    assert len(server.associations) == 3
    for i, association in enumerate(associations):
        association.send(f"from {i}".encode(), now=now)
        for data, _ in clients[i].packets_to_send(now=now):
            server.receive_packet(data, source=addresses[i], now=now)
    received = []
    while (item := server.next_event()) is not None:
        if isinstance(item[1], MessageReceived):
            received.append((item[0].primary_address.host, item[1].data))
    assert sorted(received) == [(addresses[i].host, f"from {i}".encode()) for i in range(3)]


def test_connect_rejects_a_bad_port_and_a_duplicate_association():
    endpoint = Endpoint(Configuration(random_bytes=seeded(1)))
    with pytest.raises(LocalProtocolError):
        endpoint.connect(PEER, 0, now=0.0)
    endpoint.connect(PEER, 80, now=0.0, local_port=1234)
    with pytest.raises(LocalProtocolError):
        endpoint.connect(PEER, 80, now=0.0, local_port=1234)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (IcmpError.PROTOCOL_UNREACHABLE, CloseReason.ICMP_PROTOCOL_UNREACHABLE),
        (IcmpError.PORT_UNREACHABLE, CloseReason.ICMP_PORT_UNREACHABLE),
        (IcmpError.ADMIN_PROHIBITED, CloseReason.ICMP_UNREACHABLE),
    ],
)
def test_an_icmp_error_fails_a_pending_connect_with_its_reason(kind, reason):
    peer = ScriptedPeer(listen=False)
    peer.endpoint.connect(PEER, PEER_PORT, now=0.0)
    init_packet = only(peer.receive()).serialize()
    wrong_tag = init_packet[:16] + b"\x99\x99\x99\x99" + init_packet[20:]
    peer.endpoint.handle_icmp_error(kind, destination=PEER, quoted=wrong_tag, now=0.1)
    assert peer.of(AssociationClosed) == []  # the quoted INIT is not ours
    peer.endpoint.handle_icmp_error(kind, destination=PEER, quoted=init_packet[:28], now=0.1)
    peer.receive()
    (closed,) = peer.of(AssociationClosed)
    assert closed.reason is reason and not closed.was_established


def test_icmp_frag_needed_lowers_the_path_mtu_and_fragments_follow():
    peer = ScriptedPeer()
    association = active_setup(peer)
    quoted = association.local_port.to_bytes(2, "big") + PEER_PORT.to_bytes(2, "big")
    quoted += association.peer_tag.to_bytes(4, "big")
    peer.endpoint.handle_icmp_error(
        IcmpError.FRAGMENTATION_NEEDED, destination=PEER, quoted=quoted, now=peer.now, mtu=1000
    )
    association.send(b"x" * 3000, now=peer.now)
    sizes = [len(p.serialize()) for p in peer.receive()]
    assert sizes and max(sizes) <= 1000 - 20


def test_udp_encapsulation_port_is_learned_per_path_and_the_mtu_shrinks_by_8():
    pair = Pair(
        client_address=Address("192.0.2.1", 50000), server_address=Address("192.0.2.2", 9899)
    )
    association = pair.connect()
    pair.run(lambda: association.state is State.ESTABLISHED)
    server_association = pair.server_events[0][0]
    assert server_association.primary_address == Address("192.0.2.1", 50000)  # from the cookie
    assert server_association._primary.max_packet == 1500 - 20 - 8
    # The client's NAT mapping changes: the next packet teaches the new port.
    pair.addresses[id(pair.client)] = Address("192.0.2.1", 50001)
    association.send(b"hello", now=pair.now)
    pair.run(lambda: bool(pair.events("s", MessageReceived)))
    assert server_association.primary_address == Address("192.0.2.1", 50001)


def test_a_probe_sees_open_and_closed_ports_without_completing_an_association():
    config = Configuration(random_bytes=seeded(4))
    target = Endpoint(Configuration(random_bytes=seeded(5)))
    target.listen(SERVER_PORT)
    scanner = PEER
    answers = {}
    for port, tag in ((SERVER_PORT, 0x1111), (SERVER_PORT + 1, 0x2222)):
        target.receive_packet(
            probe_init(config, source_port=40001, destination_port=port, initiate_tag=tag),
            source=scanner,
            now=0.0,
        )
        (reply_data,) = [d for d, _ in target.packets_to_send(now=0.0)]
        reply = classify_reply(reply_data, initiate_tag=tag)
        assert reply is not None
        answers[port] = reply
        assert classify_reply(reply_data, initiate_tag=tag ^ 1) is None
    assert answers[SERVER_PORT].answer is ProbeAnswer.INIT_ACK
    assert answers[SERVER_PORT + 1].answer is ProbeAnswer.ABORT
    # The ABORT after INIT-ACK meets no state: the target answers nothing and keeps nothing.
    target.receive_packet(abort_for(answers[SERVER_PORT]), source=scanner, now=0.1)
    assert target.packets_to_send(now=0.1) == []
    assert target.associations == ()


def test_an_association_survives_a_peer_that_never_reads_and_resumes_when_it_does():
    config = Configuration(random_bytes=seeded(3), receive_window=8 * 1024)
    pair = Pair(server=config, auto_drain=False)
    association = pair.connect()
    pair.run(lambda: association.state is State.ESTABLISHED)
    pair.drain()
    for i in range(40):
        association.send(bytes([i]) * 1000, now=pair.now)
    pair.run(max_time=30)
    server = pair.server
    first = []
    while (item := server.next_event()) is not None:
        if isinstance(item[1], MessageReceived):
            first.append(item[1])
    assert 0 < len(first) < 40  # the window stopped the sender
    pair.run(max_time=120)
    rest = []
    while (item := server.next_event()) is not None:
        if isinstance(item[1], MessageReceived):
            rest.append(item[1])
    pair.auto_drain = True
    pair.run(lambda: association.buffered_amount == 0, max_time=600)
    delivered = first + rest + [e for e in pair.events("s", MessageReceived)]
    assert [m.data[0] for m in delivered] == list(range(40))
    assert association.state is State.ESTABLISHED
    assert not [e for _, e in pair.client_events if isinstance(e, AssociationClosed)]


def test_ipv6_paths_carry_1432_bytes_of_user_data_per_chunk_at_mtu_1500():
    pair = Pair(client_address=Address("2001:db8::1"), server_address=Address("2001:db8::2"))
    pair.record = True
    association = pair.connect()
    pair.run(lambda: association.state is State.ESTABLISHED)
    association.send(b"v6" * 5000, now=pair.now)
    pair.run(lambda: bool(pair.events("s", MessageReceived)))
    (message,) = pair.events("s", MessageReceived)
    assert message.data == b"v6" * 5000
    data_sizes = [
        len(c.user_data)
        for side, p in pair.sent
        if side == "c"
        for c in p.chunks
        if type(c).__name__ == "DataChunk"
    ]
    assert max(data_sizes) == 1500 - 40 - 12 - 16


def test_a_standalone_association_talks_to_an_endpoint():
    from sctpctl.sctp.association import Association

    server = Endpoint(Configuration(random_bytes=seeded(1)))
    server.listen(9)
    client = Association(
        Configuration(random_bytes=seeded(2)),
        local_port=40000,
        peer_port=9,
        peer_address=Address("192.0.2.9"),
    )
    client.connect(now=0.0)
    now = 0.0
    for _ in range(4):
        now += 0.01
        for data, _ in client.packets_to_send(now=now):
            server.receive_packet(data, source=Address("192.0.2.8"), now=now)
        for data, _ in server.packets_to_send(now=now):
            client.receive_packet(data, source=Address("192.0.2.9"), now=now)
    assert client.state is State.ESTABLISHED
    assert isinstance(client.next_event(), AssociationEstablished)


def test_a_peer_can_come_back_while_its_aborted_association_awaits_its_last_event():
    pair = Pair()
    association = pair.connect()
    pair.run(lambda: association.state is State.ESTABLISHED)
    server_side = pair.server_events[0][0]
    pair.auto_drain = False  # the server application takes no event for now
    server_side.abort(now=pair.now)
    for _ in range(5):
        pair.step()
    assert association.closed  # the client got the ABORT
    again = pair.client.connect(
        pair.addresses[id(pair.server)],
        SERVER_PORT,
        now=pair.now,
        local_port=association.local_port,
    )
    for _ in range(20):
        pair.step()
    assert again.state is State.ESTABLISHED
    again.send(b"second life", now=pair.now)
    for _ in range(20):
        pair.step()
    pair.drain()
    assert any(e.data == b"second life" for e in pair.events("s", MessageReceived))
    assert again.state is State.ESTABLISHED


def test_pausing_one_association_holds_its_messages_in_its_window_while_others_flow():
    config = Configuration(random_bytes=seeded(5), receive_window=8 * 1024)
    pair = Pair(server=config, auto_drain=False)
    slow, fast = pair.connect(), pair.connect()
    pair.run(lambda: slow.state is State.ESTABLISHED and fast.state is State.ESTABLISHED)
    pair.drain()
    (slow_server,) = [a for a in pair.server.associations if a.peer_port == slow.local_port]
    pair.server.pause_events(slow_server)
    for i in range(40):
        slow.send(bytes([i]) * 1000, now=pair.now)
        fast.send(bytes([i]) * 1000, now=pair.now)
    delivered: dict[int, list[int]] = {slow.local_port: [], fast.local_port: []}

    def take() -> None:
        while (item := pair.server.next_event()) is not None:
            if isinstance(item[1], MessageReceived):
                delivered[item[0].peer_port].append(item[1].data[0])
        pair.flush()

    for _ in range(200):
        pair.step()
        take()
    assert delivered[fast.local_port] == list(range(40))
    assert delivered[slow.local_port] == []
    assert 0 < slow.buffered_amount < 40 * 1000  # the window let some in, then closed
    assert slow_server.receive_window < 1000

    pair.server.resume_events(slow_server)
    pair.run(
        lambda: (take(), slow.buffered_amount == 0 and len(delivered[slow.local_port]) == 40)[1],
        max_time=300,
    )
    assert delivered[slow.local_port] == list(range(40))
    assert slow.state is State.ESTABLISHED


def test_streams_can_be_chosen_per_listener_and_per_connect():
    pair = Pair()
    pair.server.listen(SERVER_PORT, outbound_streams=3)
    association = pair.client.connect(
        pair.addresses[id(pair.server)], SERVER_PORT, now=pair.now, outbound_streams=5
    )
    pair.run(lambda: association.state is State.ESTABLISHED)
    pair.run(lambda: bool(pair.events("s", AssociationEstablished)))
    pair.drain()
    (client_side,) = pair.events("c", AssociationEstablished)
    (server_side,) = pair.events("s", AssociationEstablished)
    assert (client_side.outbound_streams, client_side.inbound_streams) == (5, 3)
    assert (server_side.outbound_streams, server_side.inbound_streams) == (3, 5)
    with pytest.raises(LocalProtocolError):
        pair.server.listen(SERVER_PORT, outbound_streams=0)


def test_a_listener_bound_to_one_address_answers_inits_to_others_as_a_closed_port():
    config = Configuration(random_bytes=seeded(4))
    target = Endpoint(Configuration(random_bytes=seeded(5)))
    target.listen(SERVER_PORT, address="192.0.2.2")
    answers = []
    for tag, destination in ((0x1111, "192.0.2.2"), (0x2222, "192.0.2.3"), (0x3333, None)):
        target.receive_packet(
            probe_init(config, source_port=40001, destination_port=SERVER_PORT, initiate_tag=tag),
            source=PEER,
            destination=None if destination is None else Address(destination),
            now=0.0,
        )
        (reply_data,) = [d for d, _ in target.packets_to_send(now=0.0)]
        reply = classify_reply(reply_data, initiate_tag=tag)
        assert reply is not None
        answers.append(reply.answer)
    # An unknown destination (an I/O layer that cannot tell) is accepted.
    assert answers == [ProbeAnswer.INIT_ACK, ProbeAnswer.ABORT, ProbeAnswer.INIT_ACK]
