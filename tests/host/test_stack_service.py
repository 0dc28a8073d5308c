"""The host stack service in network namespaces: applications in different namespaces talk SCTP
through it, namespaces come and go through the control channel, crashed applications do not
take it down, and a namespace nobody serves answers INIT with ICMP protocol-unreachable."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sctpctl.host import netns
from sctpctl.host.stack.control import add_netns, list_netns, remove_netns
from sctpctl.host.stack.service import StackService
from sctpctl.outcomes import Outcome
from sctpctl.sockets import ConnectError, HostStack, NoSctpError, open_stack
from sctpctl.sockets.stackproto import ABSTRACT_NAME

pytestmark = [pytest.mark.netns, pytest.mark.timeout(120)]

T = TypeVar("T")


async def in_netns(name: str, scenario: Callable[[], Awaitable[T]]) -> T:
    """Run an asyncio scenario in a thread inside ``name`` (its own event loop), so the
    abstract socket it reaches is that namespace's."""
    return await asyncio.to_thread(netns.call_in_netns, name, lambda: asyncio.run(scenario()))


@pytest.fixture
def pair(netns_factory: Any) -> tuple[str, str]:
    a, b = netns_factory("sa"), netns_factory("sb")
    netns_factory.veth(a, "10.77.0.1/24", b, "10.77.0.2/24")
    return a, b


async def _echo_once(port: int, ready: asyncio.Event | None = None) -> list[bytes]:
    stack = await open_stack()
    assert isinstance(stack, HostStack)
    listener = await stack.listen(port, streams=5)
    if ready is not None:
        ready.set()
    association = await listener.accept()
    seen = []
    async for message in association:
        seen.append(message.data)
        await association.send(
            message.data, stream=message.stream, ppid=message.ppid, unordered=message.unordered
        )
    await listener.close()
    return seen


async def _wait_listening(name: str, port: int) -> None:
    async def check() -> bool:
        info = await HostStack().info()
        return port in info["listening"]

    for _ in range(100):
        if await in_netns(name, check):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} in {name}")


async def test_applications_in_two_namespaces_talk_through_one_service(pair):
    a, b = pair
    service = StackService()
    await service.add(a)
    await service.add(b)
    try:
        server = asyncio.ensure_future(in_netns(b, lambda: _echo_once(7000)))
        await _wait_listening(b, 7000)

        async def client() -> list[tuple[bytes, int, int, bool]]:
            stack = await open_stack()
            association = await stack.connect("10.77.0.2", 7000, streams=3)
            assert (association.outbound_streams, association.inbound_streams) == (3, 5)
            echoed = []
            for i, size in enumerate([1, 1452, 1453, 100_000, 256 * 1024]):
                data = bytes([i + 1]) * size
                await association.send(data, stream=i % 3, ppid=i, unordered=i % 2 == 1)
                message = await association.receive()
                assert message is not None
                echoed.append((message.data, message.stream, message.ppid, message.unordered))
            assert (await association.close()).graceful
            return echoed

        echoed = await in_netns(a, client)
        assert [(len(d), s, p, u) for d, s, p, u in echoed] == [
            (1, 0, 0, False),
            (1452, 1, 1, True),
            (1453, 2, 2, False),
            (100_000, 0, 3, True),
            (256 * 1024, 1, 4, False),
        ]
        assert len(await asyncio.wait_for(server, 10)) == 5
    finally:
        await service.shutdown()


async def test_outcomes_closed_from_a_served_namespace_and_no_sctp_from_an_unserved_one(
    pair, netns_factory
):
    a, b = pair
    service = StackService()
    await service.add(a)
    try:

        async def attempt() -> Outcome:
            stack = await open_stack()
            try:
                await stack.connect("10.77.0.2", 7000)
            except ConnectError as error:
                return error.outcome
            raise AssertionError("connected to nothing")

        # Nobody serves b: its kernel (without SCTP) answers with protocol-unreachable.
        assert await in_netns(a, attempt) is Outcome.NO_SCTP_ON_TARGET
        await service.add(b)
        assert await in_netns(a, attempt) is Outcome.CLOSED  # served, nothing listens

        async def no_backend() -> str:
            try:
                await open_stack()
            except NoSctpError as error:
                return error.message
            raise AssertionError("found a backend")

        lonely = netns_factory("lonely")
        assert "not available" in await in_netns(lonely, no_backend)
    finally:
        await service.shutdown()


async def test_a_crashed_application_ends_only_its_own_association(pair):
    a, b = pair
    service = StackService()
    await service.add(a)
    await service.add(b)
    try:
        received: asyncio.Queue[str] = asyncio.Queue()

        # The server scenario runs in its own thread: hand results over thread-safely.
        outer = asyncio.get_running_loop()

        def put(item: str) -> None:
            outer.call_soon_threadsafe(received.put_nowait, item)

        async def server_in_b() -> None:
            stack = await open_stack()
            listener = await stack.listen(7001)
            for _ in range(2):
                association = await listener.accept()
                async for message in association:
                    put(message.data.decode())
                termination = association.termination
                assert termination is not None
                put(f"ended {termination.reason}")
            await listener.close()

        serving = asyncio.ensure_future(in_netns(b, server_in_b))
        await _wait_listening(b, 7001)

        async def crash() -> None:
            # A raw client that starts an association, sends one message, then vanishes
            # without SHUTDOWN or ABORT, as a killed process would.
            stack = await open_stack()
            association = await stack.connect("10.77.0.2", 7001)
            await association.send(b"before the crash")
            await asyncio.sleep(0.2)
            association._writer.transport.abort()  # type: ignore[attr-defined]

        await in_netns(a, crash)
        assert await asyncio.wait_for(received.get(), 10) == "before the crash"
        assert await asyncio.wait_for(received.get(), 10) == "ended shutdown"

        async def polite() -> None:
            stack = await open_stack()
            association = await stack.connect("10.77.0.2", 7001)
            await association.send(b"after the crash")
            await association.close()

        await in_netns(a, polite)
        assert await asyncio.wait_for(received.get(), 10) == "after the crash"
        await asyncio.wait_for(serving, 10)
    finally:
        await service.shutdown()


async def test_the_control_channel_adds_lists_and_removes_namespaces(pair, tmp_path: Path):
    from sctpctl.host.stack.control import serve_control

    a, b = pair
    service = StackService()
    control = tmp_path / "stack.sock"
    server = await serve_control(service, control)
    try:
        assert await list_netns(control) == []
        assert await add_netns(control, a) == [a]
        assert await add_netns(control, b) == sorted([a, b])
        assert await add_netns(control, b) == sorted([a, b])  # again: nothing changes

        ready = asyncio.Event()
        outer = asyncio.get_running_loop()

        async def listen_in_b() -> str:
            stack = await open_stack()
            listener = await stack.listen(7002)
            outer.call_soon_threadsafe(ready.set)
            association = await listener.accept()
            await listener.close()
            async for _ in association:
                pass
            termination = association.termination
            assert termination is not None
            return termination.reason

        listening = asyncio.ensure_future(in_netns(b, listen_in_b))
        await asyncio.wait_for(ready.wait(), 10)

        async def hold_in_a() -> tuple[str, str]:
            stack = await open_stack()
            association = await stack.connect("10.77.0.2", 7002)
            outer.call_soon_threadsafe(connected.set)
            termination = await association.wait_closed()
            return termination.reason, termination.detail

        connected = asyncio.Event()
        holding = asyncio.ensure_future(in_netns(a, hold_in_a))
        await asyncio.wait_for(connected.wait(), 10)
        # Detaching a aborts its association: the peer in b hears ABORT at once.
        assert await remove_netns(control, a) is True
        assert await asyncio.wait_for(holding, 10) == (
            "local-abort",
            "the stack is closing",
        )
        assert await asyncio.wait_for(listening, 10) == "peer-aborted"
        assert await remove_netns(control, a) is False
        assert await list_netns(control) == [b]
        with pytest.raises(Exception, match="not a network namespace name"):
            await add_netns(control, "../etc")
        with pytest.raises(Exception, match="does not exist"):
            await add_netns(control, "sctpctl-no-such-namespace")
        # a no longer has a stack: nothing answers on its abstract socket.
        assert not await in_netns(a, _service_answers)
    finally:
        server.close()
        await service.shutdown()


async def _service_answers() -> bool:
    return await HostStack.find() is not None


def test_a_second_service_cannot_take_a_served_namespace(netns_factory):
    name = netns_factory("twice")

    async def scenario() -> str:
        first, second = StackService(), StackService()
        await first.add("")
        try:
            with pytest.raises(Exception, match="already serves") as caught:
                await second.add("")
            return str(caught.value)
        finally:
            await first.shutdown()

    assert "already serves" in netns.call_in_netns(name, lambda: asyncio.run(scenario()))


def test_the_abstract_socket_is_private_to_its_namespace(netns_factory):
    served, other = netns_factory("priv1"), netns_factory("priv2")

    async def scenario() -> None:
        service = StackService()
        await service.add(served)
        try:

            def probe() -> bool:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    try:
                        sock.connect(ABSTRACT_NAME)
                    except OSError:
                        return False
                    return True

            assert netns.call_in_netns(served, probe)
            assert not netns.call_in_netns(other, probe)
        finally:
            await service.shutdown()

    asyncio.run(scenario())


def test_garbage_from_an_application_ends_only_its_own_connection(netns_factory):
    name = netns_factory("junk")

    async def scenario() -> tuple[bytes, bytes, int]:
        service = StackService()
        await service.add("")
        try:
            answers = []
            for junk in (b"\x00\x00\x00\x05\x63{}{}", b"\xff\xff\xff\xff\x01"):
                reader, writer = await asyncio.open_unix_connection(ABSTRACT_NAME)
                writer.write(junk)
                answers.append(await asyncio.wait_for(reader.read(), 5))
                writer.close()
            stack = await open_stack()
            listener = await stack.listen(7300)
            association = await stack.connect("127.0.0.1", 7300)
            accepted = await listener.accept()
            await association.send(b"still serving")
            message = await accepted.receive()
            assert message is not None
            await association.close()
            await listener.close()
            return answers[0], answers[1], len(message.data)
        finally:
            await service.shutdown()

    unknown, too_long, received = netns.call_in_netns(name, lambda: asyncio.run(scenario()))
    assert b"unknown frame type 99" in unknown  # answered FAILED, then closed
    assert b"out of range" in too_long
    assert received == len(b"still serving")
