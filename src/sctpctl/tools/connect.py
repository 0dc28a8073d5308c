"""``sctpctl connect``: the client half of ``nc --sctp``, with streams, PPID and unordered.

Input becomes messages: each read of stdin is one message, or with ``size`` fixed blocks of that
many bytes (the last one shorter). Received messages are written out byte for byte. After the
input ends the association stays open ``wait`` seconds for what comes back, then shuts down
gracefully. With ``expect_echo`` the bytes that come back must be the bytes sent (compared as
one stream, since an echo server may return a long message in pieces); it returns as soon as
they all came back, and reports *mismatch* otherwise.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sctpctl.outcomes import Outcome
from sctpctl.sockets import ConnectError, Message, SctpAssociation, SctpError, SctpStack

from .common import EventSink, Reader, Writer, connect_within

__all__ = ["ConnectOptions", "ConnectResult", "run_connect"]

READ_SIZE = 64 * 1024
"What one read of the input takes at most (one message without ``size``)."


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    host: str
    port: int
    stream: int = 0
    ppid: int = 0
    unordered: bool = False
    size: int | None = None
    "Fixed message size; None: one message per read of the input."
    wait: float = 2.0
    "Seconds to keep reading after the input ended."
    timeout: float = 10.0
    "Seconds the handshake may take before the target counts as filtered."
    streams: int = 10
    "Outbound streams to ask for."
    expect_echo: bool = False


@dataclass(slots=True)
class ConnectResult:
    host: str
    port: int
    backend: str
    outcome: Outcome
    detail: str = ""
    local_port: int | None = None
    outbound_streams: int = 0
    inbound_streams: int = 0
    sent_messages: int = 0
    sent_bytes: int = 0
    received_messages: int = 0
    received_bytes: int = 0
    termination: str | None = None
    "How the association ended (shutdown, peer-aborted, ...), once it came up."
    seconds: float = 0.0
    received: list[Message] = field(default_factory=list)
    "The messages that came back (kept only when asked for)."

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "backend": self.backend,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "localPort": self.local_port,
            "streams": {"outbound": self.outbound_streams, "inbound": self.inbound_streams},
            "sent": {"messages": self.sent_messages, "bytes": self.sent_bytes},
            "received": {"messages": self.received_messages, "bytes": self.received_bytes},
            "termination": self.termination,
            "seconds": round(self.seconds, 6),
            "messages": [_message_dict(m) for m in self.received],
        }


def _message_dict(message: Message) -> dict[str, object]:
    out: dict[str, object] = {
        "stream": message.stream,
        "ppid": message.ppid,
        "unordered": message.unordered,
        "bytes": len(message.data),
    }
    try:
        out["text"] = message.data.decode()
    except UnicodeDecodeError:
        out["hex"] = message.data.hex()
    return out


class _Echo:
    """The bytes sent and those that came back, compared as one stream."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.matched = 0
        self.diverged = False

    def back(self, data: bytes) -> None:
        end = self.matched + len(data)
        if self.diverged or end > len(self.sent) or self.sent[self.matched : end] != data:
            self.diverged = True
        self.matched = end

    @property
    def complete(self) -> bool:
        return not self.diverged and self.matched == len(self.sent)


async def _send_input(
    association: SctpAssociation,
    options: ConnectOptions,
    read: Reader,
    result: ConnectResult,
    echo: _Echo | None,
) -> None:
    pending = bytearray()

    async def send(data: bytes) -> None:
        if echo is not None:
            echo.sent += data
        await association.send(
            data, stream=options.stream, ppid=options.ppid, unordered=options.unordered
        )
        result.sent_messages += 1
        result.sent_bytes += len(data)

    while chunk := await read(READ_SIZE):
        if options.size is None:
            await send(chunk)
            continue
        pending += chunk
        while len(pending) >= options.size:
            await send(bytes(pending[: options.size]))
            del pending[: options.size]
    if pending:
        await send(bytes(pending))


async def run_connect(
    stack: SctpStack,
    options: ConnectOptions,
    *,
    read: Reader,
    write: Writer | None,
    events: EventSink | None = None,
    keep_messages: bool = False,
    stop: asyncio.Event | None = None,
) -> ConnectResult:
    """Connect, exchange, close; the result says how it went (never raises ConnectError).
    ``write`` None keeps received data out of any output (``-o json``)."""
    result = ConnectResult(options.host, options.port, stack.name, Outcome.OPEN)
    started = time.monotonic()
    try:
        association = await connect_within(
            stack, options.host, options.port, streams=options.streams, seconds=options.timeout
        )
    except ConnectError as error:
        result.outcome, result.detail = error.outcome, error.message
        result.seconds = time.monotonic() - started
        return result
    if events is not None:
        association.on_event = events
        events(
            f"connected to {association.peer_host}:{association.peer_port} from port"
            f" {association.local_port} ({stack.name})"
        )
    result.local_port = association.local_port
    result.outbound_streams = association.outbound_streams
    result.inbound_streams = association.inbound_streams
    if not 0 <= options.stream < association.outbound_streams:
        association.abort("bad stream")
        raise ValueError(
            f"--stream {options.stream} is not below the {association.outbound_streams}"
            " outbound streams the association has"
        )
    echo = _Echo() if options.expect_echo else None
    echoed = asyncio.Event()
    input_done = asyncio.Event()

    async def receive() -> None:
        async for message in association:
            result.received_messages += 1
            result.received_bytes += len(message.data)
            if keep_messages:
                result.received.append(message)
            if write is not None:
                write(message.data)
            if echo is not None:
                echo.back(message.data)
                if echo.diverged or (input_done.is_set() and echo.complete):
                    echoed.set()

    receiver = asyncio.ensure_future(receive())
    sender = asyncio.ensure_future(_send_input(association, options, read, result, echo))
    stopped = asyncio.ensure_future((stop or asyncio.Event()).wait())
    try:
        await asyncio.wait((sender, receiver, stopped), return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not stopped.done():
            sender.result()  # a bad message raises here
            input_done.set()
            if echo is not None and echo.complete:
                echoed.set()
            waiting = [receiver, stopped, asyncio.ensure_future(echoed.wait())]
            try:
                await asyncio.wait(
                    waiting,
                    timeout=options.wait,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiting[2].cancel()
        termination = await association.close()
        await asyncio.wait((receiver,), timeout=1.0)
    except SctpError as error:
        result.detail = error.message
        termination = await association.close()
    finally:
        for task in (sender, receiver, stopped):
            task.cancel()
        await asyncio.gather(sender, receiver, stopped, return_exceptions=True)
    result.termination = termination.reason
    if termination.detail and not result.detail:
        result.detail = termination.detail
    if echo is not None and not echo.complete:
        result.outcome = Outcome.MISMATCH
        result.detail = f"sent {len(echo.sent)} bytes, {echo.matched} came back" + (
            " and they differ" if echo.diverged else ""
        )
    result.seconds = time.monotonic() - started
    return result
