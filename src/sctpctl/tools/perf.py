"""``sctpctl perf``: throughput and round-trip latency over one SCTP association, iperf3-style,
with nothing but SCTP on the wire (one Service port and one NetworkPolicy rule suffice).

The perf protocol is a few control messages on stream 0 with their own PPID
(:data:`CONTROL_PPID`), JSON inside; everything else is plain data, so any SCTP sink or echo
server is a valid peer:

- a throughput client starts with ``start``; a perf server answers ``hello``. A client that heard
  it sends ``end`` after its last data message and gets a ``result`` (what the receiver counted,
  from the first data message to ``end``) before it shuts down. Against another receiver (tsctp,
  a discard server: ``start``, padded to the data messages' size, is one message more to them)
  the client never sends ``end``:
  its figure is the bytes sent over the time until the graceful shutdown completed, which is
  when the peer had acknowledged every byte. The server never speaks first: a peer that closes
  with unread data ABORTs (usrsctp and Linux do), and tsctp never reads;
- latency mode sends one message at a time with :data:`ECHO_PPID` and waits for it to come
  back; the perf server echoes such messages, and so does any echo server.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sctpctl.sockets import Message, SctpAssociation, SctpError, SctpStack

from .common import EventSink, connect_within, serve_associations

__all__ = [
    "CONTROL_PPID",
    "DEFAULT_PORT",
    "ECHO_PPID",
    "LatencyReport",
    "PerfClientOptions",
    "PerfClientResult",
    "PerfServerOptions",
    "Progress",
    "ReceiverReport",
    "control_message",
    "parse_control",
    "percentile",
    "run_perf_client",
    "run_perf_server",
]

DEFAULT_PORT = 5201
"iperf3's port number, for SCTP only."
CONTROL_PPID = 0x50455246  # "PERF"
ECHO_PPID = 0x50494E47  # "PING"
_VERSION = 1
_RESULT_WAIT = 5.0


def control_message(kind: str, **fields: object) -> bytes:
    return json.dumps({"perf": _VERSION, "type": kind, **fields}).encode()


def parse_control(message: Message) -> dict[str, object] | None:
    """The control message in ``message``, or None for data."""
    if message.ppid != CONTROL_PPID or message.stream != 0:
        return None
    try:
        body = json.loads(message.data)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("perf") != _VERSION:
        return None
    return body


def _number(body: dict[str, object], key: str) -> float:
    value = body.get(key, 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """What the perf server counted."""

    bytes: int
    messages: int
    seconds: float

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "bytes": self.bytes,
            "messages": self.messages,
            "seconds": round(self.seconds, 6),
            "bytesPerSecond": round(self.bytes_per_second, 1),
        }


@dataclass(frozen=True, slots=True)
class LatencyReport:
    """Round-trip times in seconds."""

    samples: int
    minimum: float
    p50: float
    p90: float
    p99: float
    maximum: float
    mean: float

    @classmethod
    def of(cls, rtts: Sequence[float]) -> LatencyReport:
        ordered = sorted(rtts)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            len(ordered),
            ordered[0],
            percentile(ordered, 0.50),
            percentile(ordered, 0.90),
            percentile(ordered, 0.99),
            ordered[-1],
            sum(ordered) / len(ordered),
        )

    def to_dict(self) -> dict[str, object]:
        def ms(value: float) -> float | None:
            return None if math.isnan(value) else round(value * 1000, 4)

        return {
            "samples": self.samples,
            "minMs": ms(self.minimum),
            "p50Ms": ms(self.p50),
            "p90Ms": ms(self.p90),
            "p99Ms": ms(self.p99),
            "maxMs": ms(self.maximum),
            "meanMs": ms(self.mean),
        }


@dataclass(frozen=True, slots=True)
class PerfClientOptions:
    host: str
    port: int = DEFAULT_PORT
    size: int = 1024
    seconds: float = 10.0
    streams: int = 1
    "Data goes round robin over this many streams."
    unordered: bool = False
    latency: bool = False
    timeout: float = 10.0
    "Seconds the handshake may take."


@dataclass(slots=True)
class PerfClientResult:
    host: str
    port: int
    backend: str
    mode: str
    size: int
    streams: int
    unordered: bool
    seconds: float = 0.0
    "From the first message to the last acknowledgement (throughput) or the last echo."
    sent_bytes: int = 0
    sent_messages: int = 0
    receiver: ReceiverReport | None = None
    latency: LatencyReport | None = None
    termination: str | None = None

    @property
    def bytes_per_second(self) -> float:
        return self.sent_bytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def messages_per_second(self) -> float:
        return self.sent_messages / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "backend": self.backend,
            "mode": self.mode,
            "size": self.size,
            "streams": self.streams,
            "unordered": self.unordered,
            "seconds": round(self.seconds, 6),
            "sent": {"bytes": self.sent_bytes, "messages": self.sent_messages},
            "bytesPerSecond": round(self.bytes_per_second, 1),
            "messagesPerSecond": round(self.messages_per_second, 1),
            "receiver": None if self.receiver is None else self.receiver.to_dict(),
            "latency": None if self.latency is None else self.latency.to_dict(),
            "termination": self.termination,
        }


@dataclass(slots=True)
class Progress:
    """Live figures of a running client, for a progress line."""

    started: float = field(default_factory=time.monotonic)
    bytes: int = 0
    messages: int = 0
    round_trips: int = 0

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.bytes / elapsed if elapsed > 0 else 0.0


class _Peer:
    """What comes back on a throughput client's association: the perf server's control
    messages (anything else is read and dropped)."""

    def __init__(self, association: SctpAssociation) -> None:
        self.association = association
        self.hello = asyncio.Event()
        self.result: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()

    async def run(self) -> None:
        async for message in self.association:
            control = parse_control(message)
            if control is None:
                continue
            if control.get("type") == "hello":
                self.hello.set()
            elif control.get("type") == "result" and not self.result.done():
                self.result.set_result(control)


async def run_perf_client(
    stack: SctpStack,
    options: PerfClientOptions,
    *,
    progress: Progress | None = None,
    events: EventSink | None = None,
) -> PerfClientResult:
    """Run one test; ``ConnectError`` when the association does not come up."""
    association = await connect_within(
        stack,
        options.host,
        options.port,
        streams=max(options.streams, 1),
        seconds=options.timeout,
    )
    association.on_event = events
    streams = min(options.streams, association.outbound_streams)
    result = PerfClientResult(
        options.host,
        options.port,
        stack.name,
        "latency" if options.latency else "throughput",
        options.size,
        streams,
        options.unordered,
    )
    progress = progress if progress is not None else Progress()
    try:
        if options.latency:
            await _latency(association, options, streams, result, progress)
        else:
            peer = _Peer(association)
            reading = asyncio.ensure_future(peer.run())
            try:
                await _throughput(association, peer, options, streams, result, progress)
            finally:
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)
    finally:
        termination = await association.close()
        result.termination = termination.reason
    if not options.latency and result.receiver is None:
        # No perf server: the graceful shutdown completed once every byte was acknowledged.
        result.seconds = time.monotonic() - progress.started
    return result


async def _throughput(
    association: SctpAssociation,
    peer: _Peer,
    options: PerfClientOptions,
    streams: int,
    result: PerfClientResult,
    progress: Progress,
) -> None:
    payload = bytes(options.size)
    send = association.send
    unordered = options.unordered
    # As long as a data message: a receiver that derives its figure from the first message's
    # length times the count (tsctp does) stays right.
    await send(control_message("start").ljust(options.size), stream=0, ppid=CONTROL_PPID)
    progress.started = time.monotonic()
    deadline = progress.started + options.seconds
    stream = 0
    sent = 0
    while True:
        await send(payload, stream=stream, unordered=unordered)
        sent += 1
        if streams > 1:
            stream = (stream + 1) % streams
        if not sent & 15:
            progress.messages = sent
            progress.bytes = sent * options.size
            if time.monotonic() >= deadline:
                break
    result.sent_messages = progress.messages = sent
    result.sent_bytes = progress.bytes = sent * options.size
    if peer.hello.is_set():
        await send(
            control_message("end", bytes=result.sent_bytes, messages=sent),
            stream=0,
            ppid=CONTROL_PPID,
        )
        try:
            body = await asyncio.wait_for(asyncio.shield(peer.result), _RESULT_WAIT)
        except TimeoutError:
            return
        result.seconds = time.monotonic() - progress.started
        result.receiver = ReceiverReport(
            int(_number(body, "bytes")), int(_number(body, "messages")), _number(body, "seconds")
        )


async def _latency(
    association: SctpAssociation,
    options: PerfClientOptions,
    streams: int,
    result: PerfClientResult,
    progress: Progress,
) -> None:
    """One message at a time, timed until all of its bytes came back (an echo server may
    return a long message in pieces). The association is read directly, without a reader task
    in between, so each round trip costs the fewest event loop turns."""
    payload = bytes(options.size)
    rtts: list[float] = []
    progress.started = time.monotonic()
    deadline = progress.started + options.seconds
    stream = 0
    clock = time.perf_counter
    try:
        async with asyncio.timeout(options.seconds + 5.0):
            while time.monotonic() < deadline:
                start = clock()
                await association.send(
                    payload, stream=stream, ppid=ECHO_PPID, unordered=options.unordered
                )
                echoed = 0
                while echoed < options.size:
                    message = await association.receive()
                    if message is None:
                        raise SctpError("the association ended while waiting for an echo")
                    if parse_control(message) is None:
                        echoed += len(message.data)
                rtts.append(clock() - start)
                result.sent_messages += 1
                if streams > 1:
                    stream = (stream + 1) % streams
                progress.round_trips = progress.messages = result.sent_messages
    except TimeoutError:
        raise SctpError("the peer does not echo (no answer within 5 s)") from None
    result.sent_bytes = progress.bytes = result.sent_messages * options.size
    result.seconds = time.monotonic() - progress.started
    result.latency = LatencyReport.of(rtts)


# --- the server --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerfServerOptions:
    port: int = DEFAULT_PORT
    host: str | None = None
    once: bool = False
    "Serve one association, then stop."
    streams: int = 10


@dataclass(slots=True)
class PerfServerReport:
    peer: str
    bytes: int = 0
    messages: int = 0
    echoed: int = 0
    seconds: float = 0.0
    termination: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "bytes": self.bytes,
            "messages": self.messages,
            "echoedMessages": self.echoed,
            "seconds": round(self.seconds, 6),
            "bytesPerSecond": round(self.bytes / self.seconds, 1) if self.seconds > 0 else 0.0,
            "termination": self.termination,
        }


async def _serve_perf(association: SctpAssociation, report: PerfServerReport) -> None:
    first: float | None = None
    while (message := await association.receive()) is not None:
        if message.ppid == ECHO_PPID:
            await association.send(
                message.data, stream=message.stream, ppid=ECHO_PPID, unordered=message.unordered
            )
            report.echoed += 1
            continue
        control = parse_control(message)
        if control is None:
            if first is None:
                first = time.monotonic()
            report.bytes += len(message.data)
            report.messages += 1
        elif control.get("type") == "start":
            await association.send(control_message("hello"), stream=0, ppid=CONTROL_PPID)
        elif control.get("type") == "end":
            report.seconds = time.monotonic() - first if first is not None else 0.0
            await association.send(
                control_message(
                    "result", bytes=report.bytes, messages=report.messages, seconds=report.seconds
                ),
                stream=0,
                ppid=CONTROL_PPID,
            )
    if report.seconds == 0.0 and first is not None:
        report.seconds = time.monotonic() - first


async def run_perf_server(
    stack: SctpStack,
    options: PerfServerOptions,
    *,
    stop: asyncio.Event,
    on_listening: Callable[[int], None] | None = None,
    on_report: Callable[[PerfServerReport], None] | None = None,
) -> list[PerfServerReport]:
    """Serve perf clients until ``stop`` (or, with ``once``, the first one is done)."""
    listener = await stack.listen(options.port, host=options.host, streams=options.streams)
    if on_listening is not None:
        on_listening(options.port)
    reports: list[PerfServerReport] = []

    async def serve(association: SctpAssociation) -> None:
        report = PerfServerReport(f"{association.peer_host}:{association.peer_port}")
        reports.append(report)
        try:
            await _serve_perf(association, report)
        except SctpError:
            pass
        finally:
            termination = association.termination or await association.close()
            report.termination = termination.reason
            if on_report is not None:
                on_report(report)

    await serve_associations(listener, serve, one=options.once, stop=stop)
    return reports
