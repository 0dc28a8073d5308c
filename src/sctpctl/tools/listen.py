"""``sctpctl listen``: the server half of ``nc --sctp``.

Accepts one association (or, with ``keep_open``, any number at once), writes every received
message out byte for byte, echoes it back on the same stream with the same PPID and order flag
when ``echo`` is set, and sends the input (stdin) to the associations as messages, one per read.
Without ``keep_open`` it ends when its association ends; ``count`` ends it after that many
messages in all. The input ending does not end anything: a server run without stdin keeps
serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sctpctl.sockets import SctpAssociation, SctpError, SctpListener, SctpStack

from .common import EventSink, Reader, Writer

__all__ = ["AssociationSummary", "ListenOptions", "ListenResult", "run_listen"]

READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class ListenOptions:
    port: int
    host: str | None = None
    echo: bool = False
    keep_open: bool = False
    count: int | None = None
    "Stop after this many received messages (all associations together)."
    streams: int = 10


@dataclass(slots=True)
class AssociationSummary:
    peer: str
    messages: int = 0
    bytes: int = 0
    echoed: int = 0
    termination: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "messages": self.messages,
            "bytes": self.bytes,
            "echoedMessages": self.echoed,
            "termination": self.termination,
            "detail": self.detail,
        }


@dataclass(slots=True)
class ListenResult:
    port: int
    backend: str
    associations: list[AssociationSummary] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def messages(self) -> int:
        return sum(a.messages for a in self.associations)

    def to_dict(self) -> dict[str, object]:
        return {
            "port": self.port,
            "backend": self.backend,
            "messages": self.messages,
            "bytes": sum(a.bytes for a in self.associations),
            "seconds": round(self.seconds, 6),
            "associations": [a.to_dict() for a in self.associations],
        }


class _Server:
    def __init__(
        self,
        listener: SctpListener,
        options: ListenOptions,
        result: ListenResult,
        write: Writer | None,
        events: EventSink | None,
    ) -> None:
        self.listener = listener
        self.options = options
        self.result = result
        self.write = write
        self.events = events
        self.live: set[SctpAssociation] = set()
        self.done = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    def note(self, text: str) -> None:
        if self.events is not None:
            self.events(text)

    async def accept_loop(self) -> None:
        while not self.done.is_set():
            try:
                association = await self.listener.accept()
            except SctpError:
                self.done.set()
                return
            task = asyncio.ensure_future(self.serve(association))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            if not self.options.keep_open:
                await self.listener.close()  # one association, as nc without -k
                return

    async def serve(self, association: SctpAssociation) -> None:
        summary = AssociationSummary(f"{association.peer_host}:{association.peer_port}")
        self.result.associations.append(summary)
        self.live.add(association)
        association.on_event = self.events
        self.note(f"association from {summary.peer} ({self.result.backend})")
        options = self.options
        try:
            async for message in association:
                summary.messages += 1
                summary.bytes += len(message.data)
                if self.write is not None:
                    self.write(message.data)
                if options.echo:
                    await association.send(
                        message.data,
                        stream=message.stream,
                        ppid=message.ppid,
                        unordered=message.unordered,
                    )
                    summary.echoed += 1
                if options.count is not None and self.result.messages >= options.count:
                    self.done.set()
                    break
        except SctpError as error:
            summary.detail = error.message
        finally:
            self.live.discard(association)
            termination = association.termination or await association.close()
            summary.termination = termination.reason
            summary.detail = summary.detail or termination.detail
            self.note(f"association from {summary.peer} ended ({termination.reason})")
            if not options.keep_open:
                self.done.set()

    async def send_input(self, read: Reader) -> None:
        """Input to every live association (nc -k sends it to all its clients)."""
        while chunk := await read(READ_SIZE):
            for association in list(self.live):
                with contextlib.suppress(SctpError):
                    await association.send(chunk)


async def run_listen(
    stack: SctpStack,
    options: ListenOptions,
    *,
    read: Reader | None,
    write: Writer | None,
    events: EventSink | None = None,
    on_listening: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> ListenResult:
    """Serve until the association ends (or ``count`` messages, or ``stop`` is set), then shut
    the open associations down gracefully. ``SctpError`` when the port is taken."""
    listener = await stack.listen(options.port, host=options.host, streams=options.streams)
    result = ListenResult(options.port, stack.name)
    started = time.monotonic()
    server = _Server(listener, options, result, write, events)
    if on_listening is not None:
        on_listening(options.port)
    accepting = asyncio.ensure_future(server.accept_loop())
    feeding = asyncio.ensure_future(server.send_input(read)) if read is not None else None
    waits = [asyncio.ensure_future(server.done.wait())]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        accepting.cancel()
        if feeding is not None:
            feeding.cancel()
        await listener.close()
        for association in list(server.live):
            with contextlib.suppress(SctpError):
                await association.close()
        if server.tasks:
            await asyncio.wait(list(server.tasks), timeout=5.0)
        await asyncio.gather(
            accepting, *([feeding] if feeding is not None else []), return_exceptions=True
        )
        result.seconds = time.monotonic() - started
    return result
