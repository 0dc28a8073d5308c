"""The host stack service: SCTP for network namespaces that have no kernel SCTP.

One process, many namespaces. In each namespace it serves it owns one raw socket per address
family (IP protocol 132), runs one core ``Endpoint`` (answering INITs to closed ports with ABORT,
like a kernel), and listens on the abstract Unix socket ``@sctpctl-stack`` of that namespace for
applications (the protocol of ``sockets/stackproto.py``, described in docs/host-stack.md). The
sockets are made by a thread that entered the namespace (``host/netns.py``); they stay in it
while the service's one asyncio loop uses them.

Namespaces come and go while it runs (:meth:`StackService.add` / :meth:`StackService.remove`,
driven by the control channel of ``host/stack/control.py``). Removing one aborts its
associations and closes its sockets, so the namespace can be deleted. Applications that crash
only end their own associations: a connection that ends without SHUTDOWN or ABORT is shut down
gracefully (ABORTed when it left received messages unread, as a kernel does on close). On
:meth:`StackService.shutdown` every association gets SHUTDOWN, a bounded wait, then ABORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sctpctl.host.commands import HostError
from sctpctl.host.netns import call_in_netns
from sctpctl.sockets.api import ConnectError, SctpError
from sctpctl.sockets.inprocess import (
    InProcessAssociation,
    InProcessListener,
    InProcessStack,
    stack_configuration,
)
from sctpctl.sockets.links import LinkError, RawLink
from sctpctl.sockets.stackproto import (
    ABSTRACT_NAME,
    PROTOCOL_VERSION,
    Frame,
    FrameType,
    ProtocolError,
    data_frame,
    json_frame,
    parse_data,
    read_frame,
)

__all__ = ["ACCEPT_WITHIN", "CURRENT", "NamespaceService", "StackService"]

log = logging.getLogger(__name__)

CURRENT = ""
"The name under which the service's own network namespace is served (no ``--netns``)."
ACCEPT_WITHIN = 30.0
"Seconds an announced association waits for its ACCEPT before it is aborted."
MAX_PROBES_IN_FLIGHT = 1024
"Probes one connection may have running at once."


class _BadRequest(Exception):
    pass


def _field(request: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    value = request.get(name, default)
    if value is ...:
        raise _BadRequest(f"the request has no {name!r}")
    if value is None and default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _BadRequest(f"{name!r} must be a {kind.__name__}")
    return value


def _port(request: dict[str, Any]) -> int:
    port = _field(request, "port", int)
    if not 0 < port < 65536:
        raise _BadRequest(f"port {port} is not in 1-65535")
    return int(port)


def _streams(request: dict[str, Any]) -> int:
    streams = _field(request, "streams", int, 10)
    if not 0 < streams < 65536:
        raise _BadRequest(f"{streams} streams is not in 1-65535")
    return int(streams)


@dataclass(eq=False)
class _Pending:
    """An association a listener announced (INCOMING) that no ACCEPT has taken yet."""

    handle: InProcessAssociation
    token: str
    listener: int
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def send(self, frame: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame)


class NamespaceService:
    """Everything the service does in one network namespace."""

    def __init__(
        self, name: str, stack: InProcessStack, server_socket: socket.socket, *, grace: float
    ) -> None:
        self.name = name
        self.stack = stack
        self.grace = grace
        self._server_socket = server_socket
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._background: set[asyncio.Task[Any]] = set()
        self._pumps: set[asyncio.Future[None]] = set()

    @property
    def label(self) -> str:
        return self.name or "(own namespace)"

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(
            self._on_client, sock=self._server_socket, limit=1 << 20
        )

    def info(self) -> dict[str, Any]:
        endpoint = self.stack.endpoint
        return {
            "version": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "netns": self.name,
            "associations": len(endpoint.associations),
            "listening": sorted(endpoint.listening),
        }

    # --- connections from applications ----------------------------------------------------------

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        connection = _Connection(reader, writer)
        try:
            await self._serve(connection)
        except (ProtocolError, _BadRequest) as error:
            log.info("netns %s: an application broke the protocol: %s", self.label, error)
            connection.send(json_frame(FrameType.FAILED, {"message": str(error), "outcome": None}))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the application went away
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("netns %s: serving an application failed", self.label)
        finally:
            for child in connection.tasks:
                child.cancel()
            with contextlib.suppress(Exception):
                writer.close()
            self._clients.discard(task)

    async def _serve(self, connection: _Connection) -> None:
        frame = await read_frame(connection.reader)
        if frame is None:
            return
        handlers: dict[FrameType, Callable[[_Connection, dict[str, Any]], Awaitable[None]]] = {
            FrameType.CONNECT: self._serve_connect,
            FrameType.LISTEN: self._serve_listen,
            FrameType.ACCEPT: self._serve_accept,
            FrameType.PROBE: self._serve_probes,
            FrameType.INFO: self._serve_info,
        }
        handler = handlers.get(frame.type)
        if handler is None:
            raise ProtocolError(f"a connection cannot start with {frame.type.name}")
        request = frame.json()
        if request.get("version") != PROTOCOL_VERSION:
            raise _BadRequest(
                f"protocol version {request.get('version')!r} is not {PROTOCOL_VERSION}"
            )
        await handler(connection, request)

    async def _serve_info(self, connection: _Connection, request: dict[str, Any]) -> None:
        connection.send(json_frame(FrameType.INFO, self.info()))
        await connection.writer.drain()

    async def _serve_connect(self, connection: _Connection, request: dict[str, Any]) -> None:
        host = _field(request, "host", str)
        port = _port(request)
        streams = _streams(request)
        connect = asyncio.ensure_future(self.stack.connect(host, port, streams=streams))
        # Nothing comes from the application before ESTABLISHED; its end cancels the attempt.
        gone = asyncio.ensure_future(connection.reader.read(1))
        try:
            done, _ = await asyncio.wait((connect, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await gone  # the reader must be free before the association reads frames
            if not connect.done():
                connect.cancel()  # aborts the association being set up
        if connect not in done:
            with contextlib.suppress(asyncio.CancelledError, SctpError, ValueError):
                await connect
            return  # the application left while connecting
        try:
            handle = connect.result()
        except ConnectError as error:
            connection.send(
                json_frame(
                    FrameType.FAILED, {"message": error.message, "outcome": error.outcome.value}
                )
            )
            await connection.writer.drain()
            return
        except (SctpError, ValueError) as error:
            connection.send(json_frame(FrameType.FAILED, {"message": str(error), "outcome": None}))
            await connection.writer.drain()
            return
        await self._serve_association(connection, handle)

    async def _serve_listen(self, connection: _Connection, request: dict[str, Any]) -> None:
        port = _port(request)
        host = _field(request, "host", str, None)
        streams = _streams(request)
        try:
            listener = await self.stack.listen(port, host=host, streams=streams)
        except (SctpError, ValueError) as error:
            connection.send(json_frame(FrameType.FAILED, {"message": str(error), "outcome": None}))
            await connection.writer.drain()
            return
        listener_id = next(self._ids)
        connection.send(json_frame(FrameType.LISTENING, {"port": port}))
        announcer = asyncio.ensure_future(self._announce(connection, listener, listener_id))
        connection.tasks.add(announcer)
        try:
            if await connection.reader.read(1):
                raise ProtocolError("a listening connection sends nothing after LISTEN")
        finally:
            announcer.cancel()
            await listener.close()
            for key, pending in list(self._pending.items()):
                if pending.listener == listener_id:
                    self._drop_pending(key, "the listening application went away")

    async def _announce(
        self, connection: _Connection, listener: InProcessListener, listener_id: int
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                handle = await listener.accept()
            except SctpError:
                return  # the listener closed
            assert isinstance(handle, InProcessAssociation)
            key = next(self._ids)
            token = secrets.token_hex(16)
            pending = _Pending(handle, token, listener_id)
            pending.timer = loop.call_later(
                ACCEPT_WITHIN, self._drop_pending, key, "nobody accepted it"
            )
            self._pending[key] = pending
            connection.send(
                json_frame(
                    FrameType.INCOMING,
                    {
                        "id": key,
                        "token": token,
                        "peer_host": handle.peer_host,
                        "peer_port": handle.peer_port,
                    },
                )
            )
            try:
                await connection.writer.drain()
            except ConnectionError:
                return  # the listening application went away: its pending ones are dropped

    def _drop_pending(self, key: int, why: str) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            if pending.timer is not None:
                pending.timer.cancel()
            pending.handle.abort(why)

    async def _serve_accept(self, connection: _Connection, request: dict[str, Any]) -> None:
        key = _field(request, "id", int)
        token = _field(request, "token", str)
        pending = self._pending.get(key)
        if pending is None or not secrets.compare_digest(pending.token, token):
            raise _BadRequest(f"no association {key} waits to be accepted with that token")
        del self._pending[key]
        if pending.timer is not None:
            pending.timer.cancel()
        await self._serve_association(connection, pending.handle)

    async def _serve_association(
        self, connection: _Connection, handle: InProcessAssociation
    ) -> None:
        connection.send(
            json_frame(
                FrameType.ESTABLISHED,
                {
                    "peer_host": handle.peer_host,
                    "peer_port": handle.peer_port,
                    "local_port": handle.local_port,
                    "outbound_streams": handle.outbound_streams,
                    "inbound_streams": handle.inbound_streams,
                },
            )
        )
        handle.on_event = lambda text: connection.send(json_frame(FrameType.EVENT, {"text": text}))
        pump = asyncio.ensure_future(self._pump(connection, handle))
        connection.tasks.add(pump)
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        try:
            while (frame := await read_frame(connection.reader)) is not None:
                await self._on_association_frame(connection, handle, frame)
        finally:
            handle.on_event = None
            if handle.termination is None:
                # The application went away without SHUTDOWN or ABORT (it ended or crashed).
                if handle.unread:
                    handle.abort("the application went away with unread data")
                else:
                    self._in_background(handle.close(self.grace))

    async def _on_association_frame(
        self, connection: _Connection, handle: InProcessAssociation, frame: Frame
    ) -> None:
        if frame.type is FrameType.SEND:
            message = parse_data(frame)
            try:
                await handle.send(
                    message.data,
                    stream=message.stream,
                    ppid=message.ppid,
                    unordered=message.unordered,
                )
            except (ValueError, SctpError) as error:
                # SEND has no answer: the application hears of a message that could not be
                # taken (after the peer's SHUTDOWN, say) as an event; CLOSED follows if it ended.
                connection.send(json_frame(FrameType.EVENT, {"text": f"not sent: {error}"}))
        elif frame.type is FrameType.SHUTDOWN:
            self._in_background(handle.close(self.grace))
        elif frame.type is FrameType.ABORT:
            reason = frame.json().get("reason", "")
            handle.abort(reason if isinstance(reason, str) else "")
        else:
            raise ProtocolError(f"{frame.type.name} is not allowed on an association")

    async def _pump(self, connection: _Connection, handle: InProcessAssociation) -> None:
        """Received messages to the application, as fast as it reads; CLOSED at the end."""
        writer = connection.writer
        try:
            while (message := await handle.receive()) is not None:
                writer.write(data_frame(FrameType.MESSAGE, message))
                await writer.drain()
            termination = handle.termination
            assert termination is not None
            connection.send(
                json_frame(
                    FrameType.CLOSED,
                    {
                        "reason": termination.reason,
                        "was_established": termination.was_established,
                        "detail": termination.detail,
                    },
                )
            )
            await writer.drain()
        except ConnectionError:
            return  # the application went away; its read loop ends the association
        writer.close()

    async def _serve_probes(self, connection: _Connection, first: dict[str, Any]) -> None:
        semaphore = asyncio.Semaphore(MAX_PROBES_IN_FLIGHT)

        async def probe(key: int, host: str, port: int, wait: float) -> None:
            async with semaphore:
                try:
                    result = await self.stack.probe_one(host, port, wait=wait)
                except ValueError as error:
                    connection.send(
                        json_frame(
                            FrameType.PROBED,
                            {"id": key, "outcome": None, "detail": str(error)},
                        )
                    )
                    return
            connection.send(
                json_frame(
                    FrameType.PROBED,
                    {"id": key, "outcome": result.outcome.value, "detail": result.detail},
                )
            )

        def start(request: dict[str, Any]) -> None:
            # A bad request ends the connection (FAILED) before anything runs for it.
            key = _field(request, "id", int)
            host = _field(request, "host", str)
            port = _port(request)
            wait = _field(request, "wait", float, 3.0)
            if not 0 < wait <= 600:
                raise _BadRequest(f"wait {wait} is not in (0, 600] seconds")
            task = asyncio.ensure_future(probe(key, host, port, wait))
            connection.tasks.add(task)
            task.add_done_callback(connection.tasks.discard)

        start(first)
        while (frame := await read_frame(connection.reader)) is not None:
            if frame.type is not FrameType.PROBE:
                raise ProtocolError(f"{frame.type.name} is not allowed among probes")
            start(frame.json())
        # The application closed its side: finish what runs, then end.
        running = list(connection.tasks)
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await connection.writer.drain()

    # --- the end --------------------------------------------------------------------------------

    def _in_background(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop(self, *, graceful: bool) -> None:
        """Stop serving: SHUTDOWN (bounded by ``grace``) or ABORT every association, close the
        listening socket, the raw sockets and every application connection."""
        if self._server is not None:
            self._server.close()
        for key in list(self._pending):
            self._drop_pending(key, "the stack service stops")
        handles = list(self.stack.associations)
        if graceful and handles:
            await asyncio.gather(
                *(handle.close(self.grace) for handle in handles), return_exceptions=True
            )
        await self.stack.close()  # ABORTs what is left, closes the raw sockets
        if self._pumps:  # let applications read their last messages and CLOSED
            await asyncio.wait(list(self._pumps), timeout=1.0)
        for task in list(self._clients) + list(self._background):
            task.cancel()
        await asyncio.gather(*self._clients, *self._background, return_exceptions=True)
        self._server_socket.close()


def _open_sockets() -> tuple[RawLink, socket.socket]:
    """The raw sockets and the listening ``@sctpctl-stack`` socket of the calling thread's
    network namespace."""
    link = RawLink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(ABSTRACT_NAME)
    except OSError as error:
        server.close()
        link.close()
        if error.errno == 98:  # EADDRINUSE
            raise HostError(
                "another SCTP stack service already serves this network namespace"
                " (@sctpctl-stack is taken)"
            ) from error
        raise
    server.listen(128)
    server.setblocking(False)
    return link, server


class StackService:
    """The host stack service: a changing set of served network namespaces."""

    def __init__(self, *, grace: float = 5.0) -> None:
        self.grace = grace
        self._namespaces: dict[str, NamespaceService] = {}
        self._lock = asyncio.Lock()

    def names(self) -> list[str]:
        return sorted(self._namespaces)

    def namespace(self, name: str) -> NamespaceService | None:
        return self._namespaces.get(name)

    async def add(self, name: str) -> None:
        """Serve the named network namespace (``CURRENT`` for the service's own); serving one
        already served is fine."""
        async with self._lock:
            if name in self._namespaces:
                return
            try:
                if name == CURRENT:
                    link, server = _open_sockets()
                else:
                    link, server = await asyncio.to_thread(call_in_netns, name, _open_sockets)
            except LinkError as error:
                raise HostError(str(error)) from error
            stack = InProcessStack(link, config=stack_configuration())
            namespace = NamespaceService(name, stack, server, grace=self.grace)
            await namespace.start()
            self._namespaces[name] = namespace
            log.info("serving SCTP in %s", namespace.label)

    async def remove(self, name: str) -> bool:
        """Stop serving ``name``: its associations are aborted and its sockets closed, so the
        namespace can be deleted. False when it was not served."""
        async with self._lock:
            namespace = self._namespaces.pop(name, None)
            if namespace is None:
                return False
            await namespace.stop(graceful=False)
            log.info("stopped serving SCTP in %s", namespace.label)
            return True

    async def shutdown(self) -> None:
        """SHUTDOWN every association (at most ``grace`` seconds), ABORT the rest, close all."""
        async with self._lock:
            namespaces = list(self._namespaces.values())
            self._namespaces.clear()
            await asyncio.gather(
                *(namespace.stop(graceful=True) for namespace in namespaces),
                return_exceptions=True,
            )
