"""listen and connect as functions: stdin to messages, messages to stdout, echo checks, outcomes."""

from __future__ import annotations

import asyncio

from sctpctl.outcomes import Outcome
from sctpctl.tools.connect import ConnectOptions, run_connect
from sctpctl.tools.listen import ListenOptions, run_listen
from tests.sockets.helpers import udp_pair


def reader_of(*chunks: bytes):
    queue = list(chunks)

    async def read(n: int) -> bytes:
        await asyncio.sleep(0)
        return queue.pop(0) if queue else b""

    return read


async def test_each_read_is_a_message_and_echoes_come_back_byte_exact():
    async with udp_pair() as (server, client):
        served: list[bytes] = []
        listening = asyncio.Event()
        listen = asyncio.create_task(
            run_listen(
                server,
                ListenOptions(5000, echo=True),
                read=None,
                write=served.append,
                on_listening=lambda _port: listening.set(),
            )
        )
        await listening.wait()
        out: list[bytes] = []
        chunks = [b"first", bytes(range(256)) * 300, b"x"]
        result = await run_connect(
            client,
            ConnectOptions("127.0.0.1", 5000, stream=3, ppid=46, expect_echo=True),
            read=reader_of(*chunks),
            write=out.append,
            keep_messages=True,
        )
        assert result.outcome is Outcome.OPEN
        assert b"".join(out) == b"".join(chunks)
        assert result.sent_messages == 3
        assert [(m.stream, m.ppid) for m in result.received] == [(3, 46)] * 3
        assert result.termination == "shutdown"
        summary = await asyncio.wait_for(listen, 5)
        assert served == chunks
        assert summary.associations[0].messages == 3
        assert summary.associations[0].termination == "shutdown"


async def test_size_cuts_the_input_into_fixed_blocks():
    async with udp_pair() as (server, client):
        served: list[bytes] = []
        listening = asyncio.Event()
        listen = asyncio.create_task(
            run_listen(
                server,
                ListenOptions(5000),
                read=None,
                write=served.append,
                on_listening=lambda _port: listening.set(),
            )
        )
        await listening.wait()
        result = await run_connect(
            client,
            ConnectOptions("127.0.0.1", 5000, size=1000, wait=0.1),
            read=reader_of(b"a" * 700, b"b" * 700, b"c" * 700),
            write=None,
        )
        assert result.sent_messages == 3
        await asyncio.wait_for(listen, 5)
        assert [len(m) for m in served] == [1000, 1000, 100]
        assert b"".join(served) == b"a" * 700 + b"b" * 700 + b"c" * 700


async def test_an_echo_that_differs_is_a_mismatch():
    async with udp_pair() as (server, client):
        listener = await server.listen(5000)

        async def liar() -> None:
            association = await listener.accept()
            async for message in association:
                await association.send(message.data.upper())

        task = asyncio.create_task(liar())
        result = await run_connect(
            client,
            ConnectOptions("127.0.0.1", 5000, expect_echo=True, wait=2),
            read=reader_of(b"hello"),
            write=None,
        )
        assert result.outcome is Outcome.MISMATCH
        assert "differ" in result.detail
        task.cancel()


async def test_connect_reports_closed_and_listen_count_stops_a_keep_open_server():
    async with udp_pair() as (server, client):
        result = await run_connect(
            client, ConnectOptions("127.0.0.1", 5999), read=reader_of(), write=None
        )
        assert result.outcome is Outcome.CLOSED
        assert result.local_port is None
        listening = asyncio.Event()
        listen = asyncio.create_task(
            run_listen(
                server,
                ListenOptions(5000, keep_open=True, count=4),
                read=None,
                write=None,
                on_listening=lambda _port: listening.set(),
            )
        )
        await listening.wait()
        for _ in range(2):
            association = await client.connect("127.0.0.1", 5000)
            await association.send(b"1")
            await association.send(b"2")
        summary = await asyncio.wait_for(listen, 5)
        assert summary.messages == 4 and len(summary.associations) == 2
