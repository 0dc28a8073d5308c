"""The in-process backend over UDP encapsulation on 127.0.0.1: messages, outcomes, back-pressure."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sctpctl.outcomes import Outcome
from sctpctl.sockets.api import ConnectError, Message, SctpError
from sctpctl.sockets.inprocess import InProcessStack
from sctpctl.sockets.links import LinkError, UdpLink
from tests.sockets.helpers import free_udp_port, udp_pair


async def _echo(listener) -> None:
    association = await listener.accept()
    async for message in association:
        await association.send(
            message.data, stream=message.stream, ppid=message.ppid, unordered=message.unordered
        )


async def test_messages_keep_their_bytes_stream_ppid_and_order_flag_both_ways():
    async with udp_pair() as (server, client):
        listener = await server.listen(5000, streams=4)
        echo = asyncio.create_task(_echo(listener))
        association = await client.connect("127.0.0.1", 5000, streams=6)
        assert (association.outbound_streams, association.inbound_streams) == (6, 4)
        sent = [
            Message(bytes([i]) * size, stream=i % 4, ppid=1000 + i, unordered=i % 2 == 1)
            for i, size in enumerate([1, 2, 1452, 1453, 65536, 256 * 1024])
        ]
        for message in sent:
            await association.send(
                message.data, stream=message.stream, ppid=message.ppid, unordered=message.unordered
            )
            assert await association.receive() == message
        termination = await association.close()
        assert termination.graceful and termination.was_established
        await asyncio.wait_for(echo, 5)


async def test_a_port_nobody_listens_on_is_closed():
    async with udp_pair() as (_server, client):
        with pytest.raises(ConnectError) as caught:
            await client.connect("127.0.0.1", 5999)
        assert caught.value.outcome is Outcome.CLOSED


async def test_silence_leaves_the_caller_to_give_up_and_an_icmp_port_unreachable_is_rejected():
    # A UDP socket that never answers: nothing comes back; the attempt is aborted when the
    # caller's deadline cancels it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        client = InProcessStack.open(
            "udp", udp_port=0, udp_host="127.0.0.1", udp_peer_port=sink.getsockname()[1]
        )
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await client.connect("127.0.0.1", 5000)
            await asyncio.sleep(0)
            assert client.endpoint.associations == ()
        finally:
            await client.close()
    # Nothing on the UDP port: the kernel answers with ICMP port unreachable.
    client = InProcessStack.open(
        "udp", udp_port=0, udp_host="127.0.0.1", udp_peer_port=free_udp_port()
    )
    try:
        with pytest.raises(ConnectError) as caught:
            await client.connect("127.0.0.1", 5000)
        assert caught.value.outcome is Outcome.REJECTED
        assert "port-unreachable" in caught.value.message
    finally:
        await client.close()


async def test_a_reader_that_stops_reading_stops_the_sender_and_loses_nothing():
    async with udp_pair() as (server, client):
        server.receive_buffer = 64 * 1024
        client.send_buffer = 64 * 1024
        listener = await server.listen(5000)
        association = await client.connect("127.0.0.1", 5000)
        accepted = await listener.accept()
        sent = 0

        async def sender() -> None:
            nonlocal sent
            for i in range(4096):
                await association.send(i.to_bytes(4, "big") * 256)
                sent += 1

        task = asyncio.create_task(sender())
        await asyncio.sleep(1.0)
        # Bounded: the inbox (64 KiB), the core's window (1 MiB) and the send buffer (64 KiB).
        assert not task.done()
        assert 0 < sent * 1024 < 64 * 1024 + 1024 * 1024 + 64 * 1024 + 2048
        assert accepted.unread <= 64 * 1024 + 1024
        received = 0
        while received < 4096:
            message = await accepted.receive()
            assert message is not None
            assert message.data == received.to_bytes(4, "big") * 256
            received += 1
        await asyncio.wait_for(task, 10)
        await association.close()


async def test_the_peer_closing_ends_the_iteration_after_the_last_message():
    async with udp_pair() as (server, client):
        listener = await server.listen(5000)
        association = await client.connect("127.0.0.1", 5000)
        accepted = await listener.accept()
        for i in range(10):
            await association.send(b"m%d" % i)
        closing = asyncio.create_task(association.close())
        received = [m.data async for m in accepted]
        assert received == [b"m%d" % i for i in range(10)]
        assert (await closing).graceful
        assert accepted.termination is not None and accepted.termination.graceful
        with pytest.raises(SctpError):
            await accepted.send(b"late")


async def test_abort_ends_both_sides_at_once():
    async with udp_pair() as (server, client):
        listener = await server.listen(5000)
        association = await client.connect("127.0.0.1", 5000)
        accepted = await listener.accept()
        association.abort("enough")
        termination = await asyncio.wait_for(accepted.wait_closed(), 5)
        assert termination.reason == "peer-aborted"
        assert (await association.wait_closed()).reason == "local-abort"


async def test_bad_messages_and_a_second_listener_on_a_port_are_refused():
    async with udp_pair() as (server, client):
        await server.listen(5000)
        with pytest.raises(SctpError, match="in use"):
            await server.listen(5000)
        association = await client.connect("127.0.0.1", 5000, streams=2)
        with pytest.raises(ValueError):
            await association.send(b"")
        with pytest.raises(ValueError):
            await association.send(b"x", stream=2)
        await association.close()


async def test_the_encapsulation_port_in_use_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(LinkError, match="in use"):
            UdpLink(port=taken.getsockname()[1], host="127.0.0.1")
