"""The one asyncio API applications use, whatever provides SCTP (DESIGN.md section 3).

A :class:`SctpStack` is where SCTP comes from: the kernel, the host stack service of this network
namespace, or an in-process stack over raw IP or UDP. It makes associations (``connect``),
listeners (``listen``) and INIT probes (``probe``). An :class:`SctpAssociation` sends messages
with a stream, a PPID and the unordered flag, and yields the messages it receives, in order, with
the same three attributes; ``close`` is the graceful SHUTDOWN, ``abort`` the ABORT.

Back-pressure both ways: ``send`` waits while the association's send buffer is full (the peer's
window and the congestion window decide how fast it drains), and an application that does not
read leaves the messages in the association's receive window, which closes, so the peer stops.

Failures to connect are :class:`ConnectError` with the outcome word of DESIGN.md section 4
(``closed``, ``filtered``, ``rejected``, ``no-sctp-on-target``), and the absence of any SCTP is
:class:`NoSctpError` (``no-sctp-local``).
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from sctpctl.outcomes import Outcome

__all__ = [
    "DEFAULT_SEND_BUFFER",
    "ConnectError",
    "Inbox",
    "Message",
    "NoSctpError",
    "ProbeResult",
    "SctpAssociation",
    "SctpError",
    "SctpListener",
    "SctpStack",
    "Termination",
    "check_message",
]

DEFAULT_SEND_BUFFER = 1024 * 1024
"Bytes ``send`` lets wait in an association before it blocks the caller."


@dataclass(frozen=True, slots=True)
class Message:
    """One SCTP user message."""

    data: bytes
    stream: int = 0
    ppid: int = 0
    "Payload Protocol Identifier."
    unordered: bool = False


@dataclass(frozen=True, slots=True)
class Termination:
    """How an association ended."""

    reason: str
    "A ``CloseReason`` value of the core (``shutdown``, ``peer-aborted``, ...) or ``timeout``."
    was_established: bool
    detail: str = ""

    @property
    def graceful(self) -> bool:
        return self.reason == "shutdown"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What an INIT probe of one ``host:port`` found."""

    host: str
    port: int
    outcome: Outcome
    detail: str = ""


class SctpError(Exception):
    """An SCTP operation failed; ``outcome`` says how, in the words of DESIGN.md section 4, when
    it was a connection attempt (None for other failures: a port in use, a closed association)."""

    def __init__(self, message: str, outcome: Outcome | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome


class ConnectError(SctpError):
    """The association did not come up."""

    outcome: Outcome

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message, outcome)


class NoSctpError(SctpError):
    """No SCTP here: no kernel SCTP, no host stack service, no in-process stack asked for."""

    def __init__(self, message: str = "SCTP is not available in this network namespace") -> None:
        super().__init__(message, Outcome.NO_SCTP_LOCAL)


EventListener = Callable[[str], None]
"Receives a one-line description of each association event (for ``-v``)."


def check_message(data: bytes, stream: int, ppid: int, outbound_streams: int) -> None:
    """``ValueError`` for a message no association can take (before it goes anywhere)."""
    if not data:
        raise ValueError("an SCTP message carries at least one byte")
    if outbound_streams and not 0 <= stream < outbound_streams:
        raise ValueError(f"stream {stream} is not below the {outbound_streams} outbound streams")
    if not 0 <= ppid < 1 << 32:
        raise ValueError(f"PPID {ppid} is not a 32-bit number")


class Inbox:
    """Received messages the application has not read; ``get`` waits for the next one, or
    returns None once the association ended and nothing is left."""

    def __init__(self) -> None:
        self._messages: deque[Message] = deque()
        self.unread = 0
        "Bytes held."
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False

    def put(self, message: Message) -> None:
        self._messages.append(message)
        self.unread += len(message.data)
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Message | None:
        messages = self._messages
        while not messages:
            if self._ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        message = messages.popleft()
        self.unread -= len(message.data)
        return message


class SctpAssociation(abc.ABC):
    """One association, as an application sees it. Backends call ``_end`` exactly when it
    ended; ``termination`` and ``wait_closed`` come from there."""

    peer_host: str
    peer_port: int
    local_port: int
    outbound_streams: int
    inbound_streams: int
    on_event: EventListener | None = None

    def __init__(self) -> None:
        self._termination: Termination | None = None
        self._ended = asyncio.Event()

    @property
    def termination(self) -> Termination | None:
        """How the association ended, once it has."""
        return self._termination

    def _end(self, termination: Termination) -> bool:
        """Record the end (the first one counts); False when it had ended already."""
        if self._termination is not None:
            return False
        self._termination = termination
        self._ended.set()
        return True

    async def wait_closed(self) -> Termination:
        """Wait until the association has ended (either side)."""
        await self._ended.wait()
        assert self._termination is not None
        return self._termination

    @abc.abstractmethod
    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        """Queue one message; waits while the send buffer is full. Raises ``SctpError`` once
        the association is closed and ``ValueError`` for a message it can never take (empty,
        a stream beyond the negotiated count)."""

    @abc.abstractmethod
    async def receive(self) -> Message | None:
        """The next message, or None once the association has ended and every message it
        received has been read."""

    @abc.abstractmethod
    async def close(self, grace: float = 5.0) -> Termination:
        """Graceful shutdown (everything sent is delivered first); ABORT after ``grace``
        seconds."""

    @abc.abstractmethod
    def abort(self, reason: str = "") -> None:
        """ABORT at once; queued messages are dropped."""

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while (message := await self.receive()) is not None:
            yield message


class SctpListener(abc.ABC):
    """Accepts associations on one port."""

    port: int

    @abc.abstractmethod
    async def accept(self) -> SctpAssociation:
        """The next association that came up; raises ``SctpError`` once the listener closed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop accepting; associations already accepted go on."""

    def __aiter__(self) -> AsyncIterator[SctpAssociation]:
        return self._associations()

    async def _associations(self) -> AsyncIterator[SctpAssociation]:
        while True:
            try:
                yield await self.accept()
            except SctpError:
                return


class SctpStack(abc.ABC):
    """A source of SCTP: connect, listen and probe."""

    name: str
    "kernel, host-stack, raw or udp: what ``-v`` and JSON output report."

    @abc.abstractmethod
    async def connect(
        self,
        host: str,
        port: int,
        *,
        streams: int = 10,
    ) -> SctpAssociation:
        """An established association to ``host:port`` with ``streams`` outbound streams;
        ``ConnectError`` with the outcome otherwise. The core gives up after its INIT
        retransmissions (minutes); callers bound the wait with ``asyncio.timeout`` (the
        attempt is aborted when cancelled) and call that *filtered*."""

    @abc.abstractmethod
    async def listen(
        self, port: int, *, host: str | None = None, streams: int = 10
    ) -> SctpListener:
        """Accept associations on ``port`` (of ``host`` only, when given)."""

    @abc.abstractmethod
    def probe(
        self,
        targets: Iterable[tuple[str, int]],
        *,
        wait: float = 3.0,
        concurrency: int = 256,
    ) -> AsyncIterator[ProbeResult]:
        """INIT-probe every target, ``concurrency`` at a time, each waiting ``wait`` seconds
        for an answer; results as they come."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the stack (associations still open are aborted)."""

    async def __aenter__(self) -> SctpStack:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
