"""What the SCTP tools (listen, connect, probe, perf) share on the command line: the backend
options, stdin and stdout as byte streams, signals, and the mapping of failures to exit codes."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.output import make_console, settings
from sctpctl.outcomes import ExitCode, Outcome
from sctpctl.sockets import DEFAULT_UDP_PORT, LinkError, NoSctpError, SctpError
from sctpctl.sockets.addresses import parse_endpoint
from sctpctl.tools.common import StackChoice

__all__ = [
    "StdinReader",
    "event_printer",
    "run_tool",
    "stack_choice",
    "stack_options",
    "target_argument",
    "timeout_option",
    "write_stdout",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def stack_options(func: F) -> F:
    """``--userspace raw|udp``, ``--udp-port N``, ``--udp-peer-port N``."""
    func = click.option(
        "--udp-peer-port",
        type=click.IntRange(1, 65535),
        default=DEFAULT_UDP_PORT,
        show_default=True,
        help="The peer's UDP encapsulation port (with --userspace udp).",
    )(func)
    func = click.option(
        "--udp-port",
        type=click.IntRange(0, 65535),
        default=DEFAULT_UDP_PORT,
        show_default=True,
        help="Local UDP encapsulation port (with --userspace udp; 0 picks a free one).",
    )(func)
    return click.option(
        "--userspace",
        type=click.Choice(["raw", "udp"]),
        default=None,
        help="Run SCTP in this process over raw IP (root) or UDP encapsulation (RFC 6951) "
        "instead of the kernel or the host stack service. Never together with a stack "
        "service in the same network namespace.",
    )(func)


def _target(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, int]:
    try:
        host, port = parse_endpoint(value, host_required=True)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    assert host is not None
    return host, port


target_argument = click.argument("target", metavar="HOST:PORT", callback=_target)
"``HOST:PORT`` (``[V6]:PORT``) into ``(host, port)``."

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.01, 3600),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the handshake may take (then: filtered).",
)


def event_printer() -> Callable[[str], None] | None:
    """Prints association events on stderr with ``-v``; None without."""
    if not settings().verbose:
        return None
    console = make_console(stderr=True)
    return lambda text: console.print(f"[dim]{text}[/]", highlight=False)


def stack_choice(userspace: str | None, udp_port: int, udp_peer_port: int) -> StackChoice:
    return StackChoice(
        "raw" if userspace == "raw" else "udp" if userspace == "udp" else None,
        udp_port,
        udp_peer_port,
    )


def run_tool(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run a tool's coroutine; SIGTERM and Ctrl-C set the event it is given (it stops cleanly
    and returns its result). Failures become messages and exit codes."""

    async def wrapper() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await main(stop)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    # Everything loaded so far lives as long as the process: out of the collector's sight,
    # full collections stay short and do not show up as latency spikes.
    gc.freeze()
    try:
        return asyncio.run(wrapper())
    except NoSctpError as error:
        raise CommandError(
            Outcome.NO_SCTP_LOCAL.explanation,
            Outcome.NO_SCTP_LOCAL.exit_code,
            hint="no kernel SCTP and no stack service here: start `sctpctl stack serve`, or run "
            "with --userspace raw|udp",
        ) from error
    except LinkError as error:
        raise EnvironmentProblem(str(error)) from error
    except SctpError as error:
        raise CommandError(error.message, ExitCode.FAILED) from error
    except ValueError as error:
        raise CommandError(str(error), ExitCode.USAGE) from error


class StdinReader:
    """stdin as an async byte source. Pipes, terminals and sockets are read from the event loop
    when they are readable; regular files and /dev/null (which cannot be polled) by a daemon
    thread that reads ahead at most two chunks (a blocked read never keeps the process from
    exiting)."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdin.fileno() if fd is None and sys.stdin is not None else fd
        self._pollable: bool | None = None
        self._queue: asyncio.Queue[bytes] | None = None
        self._credit = threading.Semaphore(2)

    async def __call__(self, n: int) -> bytes:
        if self._fd is None:
            return b""
        loop = asyncio.get_running_loop()
        if self._pollable is None:
            self._pollable = self._try_poll(loop)
        if self._pollable:
            return await self._read_when_ready(loop, self._fd, n)
        return await self._read_from_thread(loop, n)

    def _try_poll(self, loop: asyncio.AbstractEventLoop) -> bool:
        assert self._fd is not None
        try:
            loop.add_reader(self._fd, lambda: None)
        except (PermissionError, OSError, ValueError):
            return False
        loop.remove_reader(self._fd)
        return True

    @staticmethod
    async def _read_when_ready(loop: asyncio.AbstractEventLoop, fd: int, n: int) -> bytes:
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            return os.read(fd, n)  # readable: returns what is there without blocking
        except OSError:
            return b""

    def _run(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes], n: int) -> None:
        while True:
            self._credit.acquire()
            try:
                chunk = os.read(self._fd, n) if self._fd is not None else b""
            except OSError:
                chunk = b""
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:
                return  # the loop is gone
            if not chunk:
                return

    async def _read_from_thread(self, loop: asyncio.AbstractEventLoop, n: int) -> bytes:
        if self._queue is None:
            self._queue = asyncio.Queue()
            threading.Thread(
                target=self._run, args=(loop, self._queue, n), name="stdin", daemon=True
            ).start()
        chunk = await self._queue.get()
        if chunk:
            self._credit.release()
        else:
            self._queue.put_nowait(b"")  # stays at the end
        return chunk


def write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
