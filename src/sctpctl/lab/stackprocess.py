"""A host stack service the lab runs: one ``sctpctl stack serve`` process for a machine.

A node that has SCTP, and the ``external`` host, each get one :class:`StackProcess`: the service
of docs/host-stack.md, serving the machine's own network namespace and, for a node, the
namespace of every pod the kubelet runs there. It is what the ``sctp`` module is on a real
machine, so its life follows the machine's:

- :meth:`~StackProcess.start` (a node's boot, the lab's start): ``sctpctl stack serve --control
  PATH --netns NAME...`` for every wanted namespace that exists, in its own session, its output
  appended to a log file next to the control socket, recorded in the process book (PID and start
  time) before anything relies on it. It is ready when its control socket answers with its PID,
  which the service does only once every ``--netns`` is served.
- :meth:`~StackProcess.serve` and :meth:`~StackProcess.release` (a pod namespace created and
  about to be deleted): ``add-netns`` / ``remove-netns`` through the control channel. The wanted
  set is kept while the process is down, so the next start serves what exists then.
- If the process dies while it should run, it is started again (1 s, doubling up to 30 s) for
  the same namespaces: applications lose their associations, as they would if a kernel stack
  were reset, but the machine does not silently lose SCTP.
- :meth:`~StackProcess.stop` (shutdown, reboot, the lab's end): SIGTERM, which makes the service
  SHUTDOWN its associations within ``--grace``; SIGKILL by PID if it is still there after a
  bounded wait; then its record and control socket go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from sctpctl.host import netns
from sctpctl.host.commands import HostError
from sctpctl.host.process import ProcessRecord, sctpctl_command, start_service, stop_service
from sctpctl.host.stack.control import (
    StackControlError,
    add_netns,
    control_request,
    remove_netns,
    remove_socket_file,
)
from sctpctl.lab.processbook import ProcessBook

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 1.0
"``--grace``: seconds the service spends on SHUTDOWN handshakes when it is stopped."
STOP_WITHIN = 3.0
"Seconds a stopped service gets to exit after SIGTERM before it is killed."
READY_WITHIN = 30.0
"Seconds a starting service gets to answer on its control socket."
RESTART_FIRST, RESTART_MAX = 1.0, 30.0
"The restart back-off of a service that died: first delay and ceiling (it doubles)."
STABLE_AFTER = 60.0
"A service that ran this long before dying restarts after the first delay again."
MAX_SOCKET_PATH = 107
"The longest path a Unix socket may be bound to (``sun_path`` holds 108 bytes with the NUL)."


class StackStartError(HostError):
    """The stack service did not start (the message carries the end of its log)."""


class StackProcess:
    def __init__(
        self,
        *,
        control: Path,
        book: ProcessBook,
        what: str,
        namespaces: Iterable[str] = (),
    ) -> None:
        if len(bytes(control)) > MAX_SOCKET_PATH:
            raise HostError(
                f"the control socket path {control} is longer than a Unix socket allows "
                f"({MAX_SOCKET_PATH} bytes): use a shorter state folder"
            )
        self.control = control
        self.log_path = control.with_suffix(".log")
        self.book = book
        self.what = what
        self._wanted: set[str] = set(namespaces)
        self._process: asyncio.subprocess.Process | None = None
        self._record: ProcessRecord | None = None
        self._started = 0.0
        self._should_run = False
        self._lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """The running service's PID (``None`` while there is none)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def wanted(self) -> list[str]:
        return sorted(self._wanted)

    # --- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the service (a running one is left alone); raises :class:`StackStartError`."""
        async with self._lock:
            if self._should_run:
                return
            await self._spawn()
            self._should_run = True
            self._supervisor = asyncio.create_task(self._supervise(), name=f"supervise {self.what}")

    async def stop(self) -> None:
        """Stop the service and forget its process (the wanted namespaces are kept)."""
        async with self._lock:  # a start or restart in progress finishes first
            self._should_run = False
            supervisor, self._supervisor = self._supervisor, None
            if supervisor is not None:
                supervisor.cancel()
            process, record = self._process, self._record
            if process is not None and record is not None:
                code = await stop_service(process, record, grace=STOP_WITHIN)
                if code == -signal.SIGKILL:
                    log.warning("%s did not stop within %.0f s: killed", self.what, STOP_WITHIN)
                self._forget()
                remove_socket_file(self.control)  # the service removes it unless it was killed
        if supervisor is not None:
            with contextlib.suppress(BaseException):
                await supervisor

    async def serve(self, name: str) -> None:
        """Serve network namespace ``name`` now (if running) and from every later start."""
        async with self._lock:
            self._wanted.add(name)
            if self._process is not None:
                await add_netns(self.control, name)

    async def release(self, name: str) -> None:
        """Stop serving ``name``, so it can be deleted (its associations are aborted)."""
        async with self._lock:
            self._wanted.discard(name)
            if self._process is not None and self._process.returncode is None:
                await remove_netns(self.control, name)

    async def served(self) -> list[str]:
        """What the running service says it serves."""
        return list((await control_request(self.control, {"op": "list"}))["netns"])

    # --- inside -------------------------------------------------------------------------------

    def _forget(self) -> None:
        if self._record is not None:
            self.book.remove(self._record)
        self._process = self._record = None

    async def _spawn(self) -> None:
        existing = set(netns.names())
        gone = self._wanted - existing
        if gone:  # deleted without a release (a crash): nothing to serve there any more
            log.warning("%s: %s no longer exist", self.what, ", ".join(sorted(gone)))
            self._wanted -= gone
        argv = sctpctl_command(
            "-v", "stack", "serve", "--control", str(self.control),
            "--grace", str(SHUTDOWN_GRACE),
            *(arg for name in sorted(self._wanted) for arg in ("--netns", name)),
        )  # fmt: skip
        try:
            process, record = await start_service(argv, log_path=self.log_path)
        except OSError as error:
            raise StackStartError(f"{self.what} could not be started: {error}") from error
        self.book.add(record, self.what)
        try:
            await self._wait_ready(process)
        except BaseException:
            await stop_service(process, record, grace=0.5)
            self.book.remove(record)
            raise
        self._process, self._record = process, record
        self._started = time.monotonic()
        log.info("%s: pid %d serves %s", self.what, process.pid, ", ".join(self.wanted))

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        """Until the control socket answers with this process's PID (an earlier service's stale
        socket file, or a stranger's live one, never counts)."""
        deadline = time.monotonic() + READY_WITHIN
        while process.returncode is None:
            with contextlib.suppress(StackControlError):
                answer = await control_request(self.control, {"op": "list"})
                if answer.get("pid") == process.pid:
                    return
            if time.monotonic() > deadline:
                raise StackStartError(
                    f"{self.what} did not answer on {self.control} within {READY_WITHIN:.0f} s"
                    f"{self._log_tail()}"
                )
            await asyncio.sleep(0.05)
        raise StackStartError(
            f"{self.what} exited with {process.returncode} while starting{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        return ":\n" + "\n".join(tail) if tail else ""

    async def _supervise(self) -> None:
        delay = RESTART_FIRST
        while self._should_run:
            process = self._process
            if process is not None:
                code = await process.wait()
                async with self._lock:
                    if not self._should_run or self._process is not process:
                        continue
                    if time.monotonic() - self._started > STABLE_AFTER:
                        delay = RESTART_FIRST
                    log.warning(
                        "%s (pid %d) exited with %d; starting it again in %.0f s%s",
                        self.what, process.pid, code, delay, self._log_tail(),
                    )  # fmt: skip
                    self._forget()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)
            async with self._lock:
                if not self._should_run or self._process is not None:
                    continue
                try:
                    await self._spawn()
                except HostError as error:
                    log.error("%s: %s", self.what, error)
                except Exception:  # whatever it was, the next attempt comes
                    log.exception("%s: starting it again failed", self.what)
