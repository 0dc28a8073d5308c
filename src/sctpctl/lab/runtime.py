"""What the API server needs from a node's kubelet: ``exec`` into a container and its logs.

The API server checks the pod and container and speaks the wire protocols (WebSocket channels for
exec, chunked text for logs); the kubelet of the pod's node runs the command or reads the log
through this interface. The lab daemon gives the server one :class:`PodRuntime` that dispatches to
the kubelet of ``spec.nodeName``; tests give it a fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ExecRequest:
    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]
    stdin: bool
    "The caller sends standard input (``kubectl exec -i``)."
    tty: bool
    "A terminal was asked for (``-t``): stderr is merged into stdout."
    node: str
    "The node the pod runs on (``spec.nodeName``)."


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


class ExecStreams(Protocol):
    """The caller's side of one exec session."""

    async def read_stdin(self) -> bytes:
        """The next chunk of standard input; ``b""`` once the caller closed it."""
        ...

    async def write_stdout(self, data: bytes) -> None: ...

    async def write_stderr(self, data: bytes) -> None: ...

    async def next_resize(self) -> TerminalSize | None:
        """The next terminal size change; ``None`` once the session ends."""
        ...


@dataclass(frozen=True)
class LogRequest:
    namespace: str
    pod: str
    container: str
    node: str
    follow: bool = False
    "Keep streaming new lines until the container stops or the caller leaves."
    tail_lines: int | None = None
    "Only the last N lines (of what exists when the request arrives)."
    timestamps: bool = False
    "Prefix each line with its RFC 3339 time (nanoseconds) and a space."
    previous: bool = False
    "The log of the previous run of a restarted container."
    since_seconds: int | None = None


class ContainerNotAvailable(Exception):
    """The container cannot serve the request (not started yet, gone, no previous run): the
    message is shown to the caller with a 400, as the real kubelet's errors are."""


class PodRuntime(Protocol):
    """A kubelet, seen from the API server."""

    async def exec(self, request: ExecRequest, streams: ExecStreams) -> int:
        """Run ``request.command`` in the container until it exits; return its exit code.
        Raises :class:`ContainerNotAvailable` when the container is not running."""
        ...

    def logs(self, request: LogRequest) -> AsyncIterator[bytes]:
        """The container's log; raises :class:`ContainerNotAvailable` on first iteration when
        there is none."""
        ...
