"""Processes the lab starts: container processes inside namespaces, and the detached daemon.

A container process is started through :mod:`sctpctl.host.launcher` (its own small program, run
with a new session so the container is the leader of its own process group); see there for what
it sets up. Every process the lab starts is identified by its PID *and* its start time
(``/proc/PID/stat`` field 22, in clock ticks since boot), so after a crash the lab can end exactly
the processes it started and never a stranger that reused a PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sctpctl.host.netns import NETNS_DIR

LAUNCHER = Path(__file__).with_name("launcher.py")


@dataclass(frozen=True, slots=True)
class Mount:
    source: str
    "A path on this machine (a node's rootfs folder for a hostPath volume)."
    target: str
    "The mountPath inside the container."
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to start one process in a container's view of the world."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    netns: str | None
    "A named network namespace; ``None`` keeps the caller's (never used by the lab)."
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    hostname: str | None = None
    mounts: tuple[Mount, ...] = ()
    sys_module: str | None = None
    "A folder shown at ``/sys/module`` (the node's kernel modules)."
    reveal: tuple[str, ...] = field(default_factory=lambda: runtime_paths())
    "Paths an unprivileged process must be able to reach (the interpreter running sctpctl)."
    join: int | None = None
    """Run in the namespaces of this running container process instead (``kubectl exec``):
    ``netns``, ``hostname``, ``mounts`` and ``sys_module`` are then the container's."""

    def spec(self) -> str:
        return json.dumps(
            {
                "argv": list(self.argv),
                "env": dict(self.env),
                "netns": str(NETNS_DIR / self.netns) if self.netns else None,
                "cwd": self.cwd,
                "uid": self.uid,
                "gid": self.gid,
                "groups": list(self.groups),
                "hostname": self.hostname,
                "mounts": [
                    {"source": m.source, "target": m.target, "readonly": m.readonly}
                    for m in self.mounts
                ],
                "sys_module": self.sys_module,
                "reveal": list(self.reveal),
                "join": self.join,
            }
        )


def runtime_paths() -> tuple[str, ...]:
    """The folders a container needs to run this sctpctl: the interpreter and the environment."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return tuple(sorted(paths))


def tools_path() -> str:
    """The folder holding ``sctpctl`` and its interpreter (put first on containers' PATH)."""
    return str(Path(sys.executable).parent)


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """A process this lab started: PID plus start time, which together never repeat."""

    pid: int
    start_time: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "startTime": self.start_time}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProcessRecord:
        pid, start = data.get("pid"), data.get("startTime")
        if not isinstance(pid, int) or not isinstance(start, int):
            raise ValueError(f"not a process record: {dict(data)}")
        return cls(pid, start)


def start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat``; ``None`` when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[19])


def record_of(pid: int) -> ProcessRecord:
    started = start_time(pid)
    return ProcessRecord(pid, started if started is not None else -1)


def container_process(launcher: ProcessRecord) -> int | None:
    """The first process of a container (PID 1 in its PID namespace), the launcher's child;
    ``None`` when the container is not running."""
    if not alive(launcher):
        return None
    proc = Path(f"/proc/{launcher.pid}")
    try:
        children = (proc / "task" / str(launcher.pid) / "children").read_text().split()
        new_namespace = os.readlink(proc / "ns" / "pid_for_children")
    except OSError:
        return None
    for child in children:
        # The container's process is the one in the PID namespace the launcher made.
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{child}/ns/pid") == new_namespace:
                return int(child)
    return None


def alive(record: ProcessRecord) -> bool:
    """Whether the process still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        raw = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return False
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0] != "Z" and int(fields[19]) == record.start_time


def signal_group(record: ProcessRecord, signum: int) -> bool:
    """Send ``signum`` to the process group led by ``record`` if it is still that process.
    Returns whether it was sent."""
    if not alive(record):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signum)
        return True
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(record.pid, signum)
        return True
    return False


async def launch(spec: Launch, *, stdin: bool = False) -> asyncio.subprocess.Process:
    """Start a process as ``spec`` says, with pipes for its output (and input if ``stdin``)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-S",
        str(LAUNCHER),
        spec.spec(),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        env={},
    )


def sctpctl_command(*args: str) -> list[str]:
    """The command line that runs this sctpctl (this interpreter, ``-m sctpctl``) with ``args``."""
    return [sys.executable, "-m", "sctpctl", *args]


async def start_service(
    argv: Sequence[str], *, log_path: Path
) -> tuple[asyncio.subprocess.Process, ProcessRecord]:
    """Start a long-lived program that the caller supervises: in its own session (so its group
    can be signalled as one, and a terminal's Ctrl-C never reaches it), with its output appended
    to ``log_path``. Returns the process and its record."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(log)
    # Not reaped before we wait for it, so /proc/PID is still this process even if it exited.
    return process, record_of(process.pid)


async def stop_service(
    process: asyncio.subprocess.Process, record: ProcessRecord, *, grace: float
) -> int:
    """SIGTERM the group of a process started by :func:`start_service`, SIGKILL it if it has not
    exited after ``grace`` seconds; its exit code (negative: the signal that ended it)."""
    if process.returncode is None:
        signal_group(record, signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            signal_group(record, signal.SIGKILL)
    return await process.wait()


def spawn_detached(
    argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None
) -> ProcessRecord:
    """Start a long-lived program in its own session, detached from the terminal, with its
    output appended to ``log_path``; returns its record without waiting for it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            close_fds=True,
        )
    return record_of(process.pid)


def terminate(record: ProcessRecord, *, grace: float = 10.0) -> None:
    """SIGTERM the group of ``record``, then SIGKILL it if it is still there after ``grace``
    seconds (blocking; for command-line use)."""
    import time

    if not signal_group(record, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(record):
            return
        time.sleep(0.05)
    signal_group(record, signal.SIGKILL)
