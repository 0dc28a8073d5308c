"""The in-process backend: the core's Endpoint in this process, over raw IP or UDP.

It is also what the host stack service runs per network namespace, so everything an application
sees through the service behaves exactly as here.

Back-pressure, as :mod:`sctpctl.sockets.api` promises it:

- sending: ``send`` waits while more than ``send_buffer`` bytes are queued or unacknowledged in
  the association; the driver wakes it after the turn in which SACKs took the amount below;
- receiving: received messages wait in the association's inbox; past ``receive_buffer`` unread
  bytes the driver stops taking the association's events (``Endpoint.pause_events``), so further
  messages stay in the core's receive window, which closes, and the peer stops sending. Reading
  below half of it resumes the flow.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Literal

from sctpctl.sctp import (
    Address,
    Association,
    AssociationClosed,
    AssociationEstablished,
    AssociationEvent,
    AssociationRestarted,
    CloseReason,
    Configuration,
    Endpoint,
    LocalProtocolError,
    MessageReceived,
    StreamsAdded,
)

from .addresses import resolve
from .api import (
    DEFAULT_SEND_BUFFER,
    ConnectError,
    Inbox,
    Message,
    ProbeResult,
    SctpAssociation,
    SctpError,
    SctpListener,
    SctpStack,
    Termination,
    check_message,
)
from .driver import EndpointDriver
from .events import connect_outcome, describe, termination_of
from .links import DEFAULT_UDP_PORT, Link, RawLink, UdpLink
from .probe import Prober

__all__ = [
    "DEFAULT_RECEIVE_BUFFER",
    "InProcessAssociation",
    "InProcessListener",
    "InProcessStack",
    "stack_configuration",
]

DEFAULT_RECEIVE_BUFFER = 256 * 1024
"Unread bytes an association's inbox holds before its events are paused."
BACKLOG = 128
"Associations a listener holds that the application has not accepted yet."


def stack_configuration(**overrides: object) -> Configuration:
    """The configuration of sctpctl's own stacks (in-process and the host stack service).

    Single-homed: addresses a peer lists in its INIT are not used, because behind a Service's
    NAT or a pod's masquerade they are not the addresses the packets came from (sending there
    bypasses the translation and gets ABORTed by whoever owns them, sctp-protocol.md section 8).
    """
    values: dict[str, object] = {"use_peer_addresses": False}
    values.update(overrides)
    return Configuration(**values)  # type: ignore[arg-type]


class InProcessAssociation(SctpAssociation):
    """An association of an in-process endpoint; the driver feeds it events."""

    def __init__(
        self,
        driver: EndpointDriver,
        association: Association,
        *,
        send_buffer: int = DEFAULT_SEND_BUFFER,
        receive_buffer: int = DEFAULT_RECEIVE_BUFFER,
    ) -> None:
        super().__init__()
        self._driver = driver
        self._core = association
        self.local_port = association.local_port
        self.peer_port = association.peer_port
        self.peer_host = association.primary_address.host
        self.outbound_streams = 0
        self.inbound_streams = 0
        self._send_buffer = send_buffer
        self._receive_buffer = receive_buffer
        self._inbox = Inbox()
        self._paused = False
        self._writer: asyncio.Future[None] | None = None
        self._abort_reason = ""
        self.established: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def core(self) -> Association:
        """The core association (metrics, stream resets)."""
        return self._core

    @property
    def unread(self) -> int:
        """Bytes received and not yet read by the application."""
        return self._inbox.unread

    # --- events from the driver -----------------------------------------------------------------

    def handle_event(self, event: AssociationEvent) -> None:
        kind = type(event)
        if kind is MessageReceived:
            assert isinstance(event, MessageReceived)
            inbox = self._inbox
            inbox.put(Message(event.data, event.stream, event.ppid, event.unordered))
            if inbox.unread >= self._receive_buffer and not self._paused:
                self._paused = True
                self._driver.endpoint.pause_events(self._core)
            return
        if self.on_event is not None:
            self.on_event(describe(event))
        if kind is AssociationEstablished:
            assert isinstance(event, AssociationEstablished)
            self.outbound_streams = event.outbound_streams
            self.inbound_streams = event.inbound_streams
            if not self.established.done():
                self.established.set_result(None)
        elif kind is AssociationRestarted or kind is StreamsAdded:
            assert isinstance(event, AssociationRestarted | StreamsAdded)
            self.outbound_streams = event.outbound_streams
            self.inbound_streams = event.inbound_streams
        elif kind is AssociationClosed:
            assert isinstance(event, AssociationClosed)
            termination = termination_of(event)
            if event.reason is CloseReason.LOCAL_ABORT:
                termination = replace(termination, detail=self._abort_reason)
            self._finish(termination)

    def _finish(self, termination: Termination) -> None:
        if not self._end(termination):
            return
        if not self.established.done():
            self.established.set_exception(
                ConnectError(
                    termination.detail or termination.reason, connect_outcome(termination.reason)
                )
            )
            self.established.exception()  # retrieved: a connect may have given up already
        self._inbox.end()
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)
        self._driver.watch_turns(self._check_writable, on=False)

    def _check_writable(self) -> None:
        writer = self._writer
        if writer is None or writer.done():
            self._driver.watch_turns(self._check_writable, on=False)
            return
        if self._core.buffered_amount < self._send_buffer:
            writer.set_result(None)
            self._driver.watch_turns(self._check_writable, on=False)

    # --- the application's side -----------------------------------------------------------------

    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        check_message(data, stream, ppid, self.outbound_streams)
        core = self._core
        while self._termination is None and core.buffered_amount >= self._send_buffer:
            self._writer = asyncio.get_running_loop().create_future()
            self._driver.watch_turns(self._check_writable)
            await self._writer
        self.send_nowait(data, stream=stream, ppid=ppid, unordered=unordered)

    def send_nowait(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> int:
        """Queue a message without waiting for buffer space; returns the bytes now buffered.
        For senders that do their own pacing."""
        if self._termination is not None:
            raise SctpError(f"the association has ended ({self._termination.reason})")
        core = self._core
        idle = core.buffered_amount == 0
        try:
            core.send(data, stream=stream, ppid=ppid, unordered=unordered, now=self._driver.now())
        except LocalProtocolError as error:
            raise SctpError(str(error)) from error
        if idle:
            self._driver.turn_now()  # a request: out at once
        else:
            self._driver.kick()  # more of a burst: bundled in one flush
        return core.buffered_amount

    async def receive(self) -> Message | None:
        message = await self._inbox.get()
        if self._paused and self._inbox.unread <= self._receive_buffer // 2:
            self._resume()
        return message

    def _resume(self) -> None:
        self._paused = False
        self._driver.endpoint.resume_events(self._core)
        self._driver.kick()

    async def close(self, grace: float = 5.0) -> Termination:
        if self._termination is None:
            if self._paused:
                self._resume()  # the last events (and the close) must come through
            self._core.shutdown(now=self._driver.now())
            self._driver.kick()
            try:
                await asyncio.wait_for(self._ended.wait(), grace)
            except TimeoutError:
                self.abort("shutdown timed out")
        return await self.wait_closed()

    def abort(self, reason: str = "") -> None:
        if self._termination is not None:
            return
        if self._paused:
            self._resume()
        self._abort_reason = reason
        self._core.abort(reason.encode(), now=self._driver.now())
        self._driver.kick()


class InProcessListener(SctpListener):
    def __init__(self, stack: InProcessStack, port: int) -> None:
        self._stack = stack
        self.port = port
        self._backlog: deque[InProcessAssociation] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def _accept(self, association: Association) -> InProcessAssociation | None:
        if self._closed or len(self._backlog) >= BACKLOG:
            return None
        handle = self._stack._handle(association)
        self._backlog.append(handle)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return handle

    async def accept(self) -> SctpAssociation:
        while not self._backlog:
            if self._closed:
                raise SctpError(f"the listener on port {self.port} is closed")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._backlog.popleft()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stack._unlisten(self.port)
        while self._backlog:
            self._backlog.popleft().abort("the listener closed")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class InProcessStack(SctpStack):
    """The core over a link of this process (``--userspace raw|udp``)."""

    def __init__(
        self,
        link: Link,
        *,
        config: Configuration | None = None,
        udp_peer_port: int = DEFAULT_UDP_PORT,
        send_buffer: int = DEFAULT_SEND_BUFFER,
        receive_buffer: int = DEFAULT_RECEIVE_BUFFER,
    ) -> None:
        self.name = link.kind
        self.endpoint = Endpoint(config if config is not None else stack_configuration())
        self.driver = EndpointDriver(self.endpoint, link)
        self.udp_peer_port = udp_peer_port if link.encapsulated else 0
        self.send_buffer = send_buffer
        self.receive_buffer = receive_buffer
        self._listeners: dict[int, InProcessListener] = {}
        self._handles: set[InProcessAssociation] = set()
        self._prober: Prober | None = None

    @classmethod
    def open(
        cls,
        kind: Literal["raw", "udp"],
        *,
        udp_port: int = DEFAULT_UDP_PORT,
        udp_peer_port: int = DEFAULT_UDP_PORT,
        udp_host: str | None = None,
        config: Configuration | None = None,
    ) -> InProcessStack:
        """A stack over raw IP (needs CAP_NET_RAW) or UDP from ``udp_port`` (0: any free port);
        raises ``LinkError`` when the sockets cannot be opened. Call it in a running loop."""
        link: Link = RawLink() if kind == "raw" else UdpLink(port=udp_port, host=udp_host)
        return cls(link, config=config, udp_peer_port=udp_peer_port)

    @property
    def udp_port(self) -> int | None:
        """The local encapsulation port of a UDP stack (the one chosen, for port 0)."""
        link = self.driver.link
        return link.port if isinstance(link, UdpLink) else None

    def _handle(self, association: Association) -> InProcessAssociation:
        handle = InProcessAssociation(
            self.driver,
            association,
            send_buffer=self.send_buffer,
            receive_buffer=self.receive_buffer,
        )
        self._handles.add(handle)
        asyncio.get_running_loop().create_task(self._forget_when_closed(handle))
        return handle

    async def _forget_when_closed(self, handle: InProcessAssociation) -> None:
        await handle.wait_closed()
        self._handles.discard(handle)

    async def connect(
        self,
        host: str,
        port: int,
        *,
        streams: int = 10,
    ) -> InProcessAssociation:
        if self.driver.closed:
            raise SctpError("the stack is closed")
        address = await resolve(host)
        try:
            association = self.endpoint.connect(
                Address(address, self.udp_peer_port),
                port,
                now=self.driver.now(),
                outbound_streams=streams,
            )
        except LocalProtocolError as error:
            raise ValueError(str(error)) from error
        handle = self._handle(association)
        self.driver.attach(association, handle)
        self.driver.kick()
        try:
            await asyncio.shield(handle.established)
        except asyncio.CancelledError:
            handle.abort("connect cancelled")
            raise
        return handle

    async def listen(
        self, port: int, *, host: str | None = None, streams: int = 10
    ) -> InProcessListener:
        if port in self._listeners:
            raise SctpError(f"port {port} is in use")
        address = await resolve(host) if host else None
        try:
            self.endpoint.listen(port, outbound_streams=streams, address=address)
        except LocalProtocolError as error:
            raise ValueError(str(error)) from error
        listener = InProcessListener(self, port)
        self._listeners[port] = listener
        self.driver.add_acceptor(port, listener._accept)
        return listener

    def _unlisten(self, port: int) -> None:
        self._listeners.pop(port, None)
        self.endpoint.close_listener(port)
        self.driver.remove_acceptor(port)

    @property
    def associations(self) -> tuple[InProcessAssociation, ...]:
        """The associations of this stack that have not ended."""
        return tuple(self._handles)

    async def probe_one(self, host: str, port: int, *, wait: float = 3.0) -> ProbeResult:
        """One INIT probe (``probe`` runs many)."""
        if self._prober is None:
            self._prober = Prober(self.driver, udp_peer_port=self.udp_peer_port)
        result = await self._prober.probe(await resolve(host), port, wait=wait)
        return replace(result, host=host)

    async def probe(
        self,
        targets: Iterable[tuple[str, int]],
        *,
        wait: float = 3.0,
        concurrency: int = 256,
    ) -> AsyncIterator[ProbeResult]:
        if self._prober is None:
            self._prober = Prober(self.driver, udp_peer_port=self.udp_peer_port)
        names: dict[str, str] = {}
        resolved = []
        for host, port in targets:
            address = await resolve(host)
            names.setdefault(address, host)
            resolved.append((address, port))
        async for result in self._prober.probe_many(resolved, wait=wait, concurrency=concurrency):
            yield replace(result, host=names.get(result.host, result.host))

    async def close(self) -> None:
        """Abort what is still open, send those ABORTs, and close the sockets."""
        if self.driver.closed:
            return
        for listener in list(self._listeners.values()):
            await listener.close()
        for handle in list(self._handles):
            handle.abort("the stack is closing")
        self.driver.turn()
        self.driver.close()
