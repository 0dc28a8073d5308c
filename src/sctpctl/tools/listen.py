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

from sctpctl.sockets import SctpAssociation, SctpError, SctpStack

from .common import EventSink, Reader, Writer, serve_associations

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
        options: ListenOptions,
        result: ListenResult,
        write: Writer | None,
        events: EventSink | None,
        stop: asyncio.Event,
    ) -> None:
        self.options = options
        self.result = result
        self.write = write
        self.events = events
        self.stop = stop
        self.live: set[SctpAssociation] = set()

    def note(self, text: str) -> None:
        if self.events is not None:
            self.events(text)

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
                    self.stop.set()
                    break
        except SctpError as error:
            summary.detail = error.message
        finally:
            self.live.discard(association)
            termination = association.termination or await association.close()
            summary.termination = termination.reason
            summary.detail = summary.detail or termination.detail
            self.note(f"association from {summary.peer} ended ({termination.reason})")

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
    server = _Server(options, result, write, events, stop or asyncio.Event())
    if on_listening is not None:
        on_listening(options.port)
    feeding = asyncio.ensure_future(server.send_input(read)) if read is not None else None
    try:
        await serve_associations(
            listener, server.serve, one=not options.keep_open, stop=server.stop
        )
    finally:
        if feeding is not None:
            feeding.cancel()
            await asyncio.gather(feeding, return_exceptions=True)
        result.seconds = time.monotonic() - started
    return result
