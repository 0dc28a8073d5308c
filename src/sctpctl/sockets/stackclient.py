"""The host-stack backend: applications talk to the stack service of their network namespace.

The service listens on ``@sctpctl-stack`` (an abstract Unix socket, private to the namespace);
the protocol is in ``sockets/stackproto.py`` and docs/host-stack.md. Each association, listener
and probe batch is a connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sctpctl.outcomes import Outcome

from .api import (
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
from .inprocess import DEFAULT_RECEIVE_BUFFER
from .stackproto import (
    ABSTRACT_NAME,
    MAX_FRAME,
    PROTOCOL_VERSION,
    FrameType,
    ProtocolError,
    data_frame,
    json_frame,
    parse_data,
    read_frame,
)

__all__ = ["SERVICE_GONE", "HostStack", "HostStackAssociation", "HostStackListener"]

SERVICE_GONE = "service-gone"
"The termination reason when the stack service went away under an association."
_LIMIT = MAX_FRAME + 16


async def _request(
    address: str, frame_type: FrameType, body: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await asyncio.open_unix_connection(address, limit=_LIMIT)
    except OSError as error:
        raise SctpError(f"the host stack service is not reachable: {error}") from error
    writer.write(json_frame(frame_type, {"version": PROTOCOL_VERSION, **body}))
    return reader, writer


def _failure(body: dict[str, Any]) -> SctpError:
    message = str(body.get("message", "the stack service refused the request"))
    outcome = body.get("outcome")
    if outcome is not None:
        try:
            return ConnectError(message, Outcome(outcome))
        except ValueError:
            pass
    return SctpError(message)


class HostStackAssociation(SctpAssociation):
    """An association the stack service runs for this process."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        established: dict[str, Any],
    ) -> None:
        super().__init__()
        self._reader = reader
        self._writer = writer
        self.peer_host = str(established.get("peer_host", ""))
        self.peer_port = int(established.get("peer_port", 0))
        self.local_port = int(established.get("local_port", 0))
        self.outbound_streams = int(established.get("outbound_streams", 0))
        self.inbound_streams = int(established.get("inbound_streams", 0))
        self._inbox = Inbox()
        self._limit: float = DEFAULT_RECEIVE_BUFFER
        "Unread bytes past which the connection is not read (the service then waits)."
        self._space = asyncio.Event()
        self._space.set()
        self._task = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while (frame := await read_frame(self._reader)) is not None:
                kind = frame.type
                if kind is FrameType.MESSAGE:
                    self._inbox.put(parse_data(frame))
                    if self._inbox.unread >= self._limit:
                        self._space.clear()
                        await self._space.wait()
                elif kind is FrameType.EVENT:
                    if self.on_event is not None:
                        self.on_event(str(frame.json().get("text", "")))
                elif kind is FrameType.CLOSED:
                    body = frame.json()
                    self._finish(
                        Termination(
                            str(body.get("reason", "")),
                            bool(body.get("was_established", True)),
                            str(body.get("detail", "")),
                        )
                    )
                    return
                elif kind is FrameType.FAILED:
                    detail = str(frame.json().get("message", ""))
                    self._finish(Termination(SERVICE_GONE, True, detail))
                    return
                else:
                    raise ProtocolError(f"unexpected {kind.name} on an association")
        except (ProtocolError, ConnectionError) as error:
            self._finish(Termination(SERVICE_GONE, True, str(error)))
        finally:
            self._finish(
                Termination(SERVICE_GONE, True, "the host stack service closed the connection")
            )
            self._writer.close()

    def _finish(self, termination: Termination) -> None:
        if self._end(termination):
            self._inbox.end()

    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        check_message(data, stream, ppid, self.outbound_streams)
        if len(data) > MAX_FRAME - 64:
            raise ValueError(f"a message of {len(data)} bytes is larger than the 16 MiB limit")
        if self._termination is not None:
            raise SctpError(f"the association has ended ({self._termination.reason})")
        try:
            self._writer.write(data_frame(FrameType.SEND, Message(data, stream, ppid, unordered)))
            await self._writer.drain()
        except ConnectionError as error:
            raise SctpError(f"the host stack service went away: {error}") from error

    async def receive(self) -> Message | None:
        message = await self._inbox.get()
        if self._inbox.unread < self._limit / 2:
            self._space.set()
        return message

    def _unlimit(self) -> None:
        # The last frames (CLOSED among them) must come through whatever the inbox holds.
        self._limit = float("inf")
        self._space.set()

    async def close(self, grace: float = 5.0) -> Termination:
        if self._termination is None:
            self._unlimit()
            with contextlib.suppress(ConnectionError):
                self._writer.write(json_frame(FrameType.SHUTDOWN))
            try:
                await asyncio.wait_for(self._ended.wait(), grace + 1.0)
            except TimeoutError:
                self.abort("shutdown timed out")
                try:
                    await asyncio.wait_for(self._ended.wait(), 2.0)
                except TimeoutError:
                    self._finish(Termination(SERVICE_GONE, True, "no answer to ABORT"))
        return await self.wait_closed()

    def abort(self, reason: str = "") -> None:
        if self._termination is not None:
            return
        self._unlimit()
        with contextlib.suppress(ConnectionError):
            self._writer.write(json_frame(FrameType.ABORT, {"reason": reason}))


async def _established(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> HostStackAssociation:
    try:
        frame = await read_frame(reader)
    except (ProtocolError, ConnectionError) as error:
        writer.close()
        raise SctpError(f"the host stack service went away: {error}") from error
    except BaseException:
        writer.close()  # cancelled: closing the connection aborts the attempt
        raise
    if frame is None:
        writer.close()
        raise SctpError("the host stack service closed the connection")
    if frame.type is FrameType.FAILED:
        writer.close()
        raise _failure(frame.json())
    if frame.type is not FrameType.ESTABLISHED:
        writer.close()
        raise SctpError(f"the host stack service answered {frame.type.name}")
    return HostStackAssociation(reader, writer, frame.json())


class HostStackListener(SctpListener):
    def __init__(
        self, address: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._address = address
        self.port = port
        self._reader = reader
        self._writer = writer
        self._closed = False

    async def accept(self) -> SctpAssociation:
        while True:
            if self._closed:
                raise SctpError(f"the listener on port {self.port} is closed")
            try:
                frame = await read_frame(self._reader)
            except (ProtocolError, ConnectionError) as error:
                raise SctpError(f"the host stack service went away: {error}") from error
            if frame is None:
                raise SctpError("the host stack service closed the listener")
            if frame.type is not FrameType.INCOMING:
                raise SctpError(f"the host stack service sent {frame.type.name} to a listener")
            body = frame.json()
            reader, writer = await _request(
                self._address, FrameType.ACCEPT, {"id": body.get("id"), "token": body.get("token")}
            )
            try:
                return await _established(reader, writer)
            except SctpError:
                continue  # it went away before it was taken: the next one

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


class HostStack(SctpStack):
    """SCTP through the stack service of this network namespace."""

    name = "host-stack"

    def __init__(self, address: str = ABSTRACT_NAME) -> None:
        self.address = address

    @classmethod
    async def find(cls, address: str = ABSTRACT_NAME) -> HostStack | None:
        """The service of this namespace, when one answers."""
        stack = cls(address)
        try:
            await stack.info()
        except SctpError:
            return None
        return stack

    async def info(self) -> dict[str, Any]:
        """What the service says about this namespace (pid, associations, listening ports)."""
        reader, writer = await _request(self.address, FrameType.INFO, {})
        try:
            frame = await read_frame(reader)
        except (ProtocolError, ConnectionError) as error:
            raise SctpError(f"the host stack service is not usable: {error}") from error
        finally:
            writer.close()
        if frame is None or frame.type is not FrameType.INFO:
            raise SctpError("the host stack service did not answer INFO")
        return frame.json()

    async def connect(self, host: str, port: int, *, streams: int = 10) -> HostStackAssociation:
        reader, writer = await _request(
            self.address, FrameType.CONNECT, {"host": host, "port": port, "streams": streams}
        )
        return await _established(reader, writer)

    async def listen(
        self, port: int, *, host: str | None = None, streams: int = 10
    ) -> HostStackListener:
        reader, writer = await _request(
            self.address, FrameType.LISTEN, {"port": port, "host": host, "streams": streams}
        )
        try:
            frame = await read_frame(reader)
        except (ProtocolError, ConnectionError) as error:
            writer.close()
            raise SctpError(f"the host stack service went away: {error}") from error
        if frame is None or frame.type is not FrameType.LISTENING:
            writer.close()
            if frame is not None and frame.type is FrameType.FAILED:
                raise _failure(frame.json())
            raise SctpError("the host stack service did not confirm the listener")
        return HostStackListener(self.address, port, reader, writer)

    async def probe(
        self,
        targets: Iterable[tuple[str, int]],
        *,
        wait: float = 3.0,
        concurrency: int = 256,
    ) -> AsyncIterator[ProbeResult]:
        queue = list(targets)
        if not queue:
            return
        try:
            reader, writer = await asyncio.open_unix_connection(self.address, limit=_LIMIT)
        except OSError as error:
            raise SctpError(f"the host stack service is not reachable: {error}") from error
        in_flight: dict[int, tuple[str, int]] = {}
        next_id = 0

        def send_more() -> None:
            nonlocal next_id
            while queue and len(in_flight) < max(1, concurrency):
                host, port = queue.pop(0)
                next_id += 1
                in_flight[next_id] = (host, port)
                writer.write(
                    json_frame(
                        FrameType.PROBE,
                        {
                            "version": PROTOCOL_VERSION,
                            "id": next_id,
                            "host": host,
                            "port": port,
                            "wait": wait,
                        },
                    )
                )

        try:
            send_more()
            while in_flight:
                frame = await read_frame(reader)
                if frame is None:
                    raise SctpError("the host stack service closed the probe connection")
                if frame.type is FrameType.FAILED:
                    raise _failure(frame.json())
                if frame.type is not FrameType.PROBED:
                    raise SctpError(f"the host stack service sent {frame.type.name} to a probe")
                body = frame.json()
                target = in_flight.pop(int(body.get("id", 0)), None)
                if target is None:
                    continue
                outcome = body.get("outcome")
                if outcome is None:
                    raise ValueError(str(body.get("detail", "bad probe target")))
                yield ProbeResult(target[0], target[1], Outcome(outcome), str(body.get("detail")))
                send_more()
        except (ProtocolError, ConnectionError) as error:
            raise SctpError(f"the host stack service went away: {error}") from error
        finally:
            writer.close()

    async def close(self) -> None:
        return None
