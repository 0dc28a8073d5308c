"""What listen, connect, probe and perf share: the choice of stack, the connect deadline, and the
byte streams they read and write (stdin and stdout in the command line, buffers in tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sctpctl.outcomes import Outcome
from sctpctl.sockets import (
    DEFAULT_UDP_PORT,
    ConnectError,
    SctpAssociation,
    SctpError,
    SctpListener,
    SctpStack,
    Userspace,
    open_stack,
)

__all__ = [
    "EventSink",
    "Reader",
    "StackChoice",
    "Writer",
    "connect_within",
    "open_chosen_stack",
    "serve_associations",
]

Reader = Callable[[int], Awaitable[bytes]]
"Reads up to n bytes; b'' at the end."
Writer = Callable[[bytes], None]
"Writes bytes (and flushes them)."
EventSink = Callable[[str], None]
"Receives one line per association event (``-v``)."


@dataclass(frozen=True, slots=True)
class StackChoice:
    """``--userspace raw|udp``, ``--udp-port``, ``--udp-peer-port``."""

    userspace: Userspace | None = None
    udp_port: int = DEFAULT_UDP_PORT
    "Local encapsulation port (0: any free port)."
    udp_peer_port: int = DEFAULT_UDP_PORT
    "The peer's encapsulation port."


async def open_chosen_stack(choice: StackChoice) -> SctpStack:
    """The stack ``choice`` asks for (``NoSctpError`` or ``LinkError`` when there is none)."""
    return await open_stack(
        choice.userspace, udp_port=choice.udp_port, udp_peer_port=choice.udp_peer_port
    )


async def connect_within(
    stack: SctpStack, host: str, port: int, *, streams: int, seconds: float
) -> SctpAssociation:
    """Connect, calling silence for ``seconds`` *filtered* (the attempt is aborted)."""
    try:
        async with asyncio.timeout(seconds):
            return await stack.connect(host, port, streams=streams)
    except TimeoutError:
        raise ConnectError(
            f"no answer from {host}:{port} within {seconds:g} s", Outcome.FILTERED
        ) from None


async def serve_associations(
    listener: SctpListener,
    handle: Callable[[SctpAssociation], Awaitable[None]],
    *,
    one: bool,
    stop: asyncio.Event,
) -> None:
    """Accept associations and run ``handle`` for each, concurrently, until ``stop`` is set (by
    the caller, a handler, or a listener that failed) or, with ``one``, the first handler
    returned (nothing more is accepted after the first). Then the listener closes, the
    associations still open are shut down gracefully, and the handlers get a few seconds to
    finish. Handlers end by closing their association."""
    live: set[SctpAssociation] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def run(association: SctpAssociation) -> None:
        live.add(association)
        try:
            await handle(association)
        finally:
            live.discard(association)
            if one:
                stop.set()

    async def accept() -> None:
        while True:
            try:
                association = await listener.accept()
            except SctpError:
                stop.set()
                return
            task = asyncio.ensure_future(run(association))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if one:
                await listener.close()
                return

    accepting = asyncio.ensure_future(accept())
    try:
        await stop.wait()
    finally:
        accepting.cancel()
        await listener.close()
        for association in list(live):
            with contextlib.suppress(SctpError):
                await association.close()
        if tasks:
            await asyncio.wait(list(tasks), timeout=5.0)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(accepting, *tasks, return_exceptions=True)
