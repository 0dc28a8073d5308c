"""Container log files in the CRI format, written by the kubelet and served by the logs API.

Each line of a container's output is stored as ``<RFC 3339 time with nanoseconds> <stream> <tag>
<text>`` (the format of CRI runtimes, ``/var/log/pods/.../0.log``): ``stream`` is ``stdout`` or
``stderr``, ``tag`` is ``F`` for a full line or ``P`` for a partial one (output that ended without a
newline). Keeping the time per line is what makes ``kubectl logs --timestamps`` and
``--since`` exact. One file per run of a container (``<restartCount>.log``), so ``--previous``
reads the run before the current one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def rfc3339_nano(seconds: float) -> str:
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def parse_time(stamp: str) -> float:
    main, _, fraction = stamp.rstrip("Z").partition(".")
    whole = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return whole + (int(fraction.ljust(9, "0")[:9]) / 1e9 if fraction else 0.0)


@dataclass(frozen=True, slots=True)
class LogLine:
    time: float
    stream: str
    partial: bool
    text: bytes
    "Without the trailing newline."

    def encode(self) -> bytes:
        tag = "P" if self.partial else "F"
        return f"{rfc3339_nano(self.time)} {self.stream} {tag} ".encode() + self.text + b"\n"

    def render(self, *, timestamps: bool) -> bytes:
        """As the logs API returns it: the text (with its newline unless partial)."""
        body = self.text if self.partial else self.text + b"\n"
        return (rfc3339_nano(self.time).encode() + b" " + body) if timestamps else body


def decode(raw: bytes) -> LogLine | None:
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    try:
        when = parse_time(parts[0].decode())
    except ValueError:
        return None
    return LogLine(when, parts[1].decode(), parts[2] == b"P", text)


class LogWriter:
    """Appends stamped lines of one container run; both streams share the file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.clock = clock
        self._file = open(path, "ab")  # noqa: SIM115 (kept open for the container's life)
        self.changed = asyncio.Event()

    def write(self, stream: str, data: bytes) -> None:
        partial = not data.endswith(b"\n")
        text = data[:-1] if not partial else data
        self._file.write(LogLine(self.clock(), stream, partial, text).encode())
        self._file.flush()
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def pump(self, stream: str, reader: asyncio.StreamReader) -> None:
        """Copy ``reader`` line by line until it ends (the process closed the stream)."""
        while True:
            try:
                data = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                if end.partial:
                    self.write(stream, end.partial)
                return
            except asyncio.LimitOverrunError as over:
                data = await reader.readexactly(over.consumed)
            self.write(stream, data)

    def close(self) -> None:
        self._file.close()
        self.changed.set()


def read_lines(path: Path) -> list[LogLine]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = []
    for chunk in raw.splitlines(keepends=True):
        line = decode(chunk)
        if line is not None:
            lines.append(line)
    return lines


def _read_from(path: Path, offset: int) -> bytes:
    """The bytes of ``path`` after ``offset`` (a small local file: reading it does not block
    the loop for long)."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read()
    except FileNotFoundError:
        return b""


async def follow(
    path: Path,
    *,
    tail_lines: int | None,
    since: float | None,
    timestamps: bool,
    running: Callable[[], LogWriter | None],
) -> AsyncIterator[bytes]:
    """The log of one run; with ``running`` returning the live writer, keep streaming new lines
    until the run ends (``running()`` becomes ``None`` or another writer)."""
    offset = 0
    first = True
    writer = running()
    while True:
        waiter = writer.changed if writer is not None else None
        raw = _read_from(path, offset)
        complete = raw[: raw.rfind(b"\n") + 1]
        offset += len(complete)
        lines = [line for c in complete.splitlines() if (line := decode(c)) is not None]
        if since is not None:
            lines = [line for line in lines if line.time >= since]
        if first and tail_lines is not None:
            lines = lines[len(lines) - tail_lines :] if tail_lines else []
        first = False
        for line in lines:
            yield line.render(timestamps=timestamps)
        if writer is None or running() is not writer:
            if writer is not None and running() is not writer:
                writer = None
                continue  # one last read after the run ended
            return
        assert waiter is not None
        await waiter.wait()
