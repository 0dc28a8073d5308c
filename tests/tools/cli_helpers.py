"""Running sctpctl's commands as processes, inside network namespaces, as the lab's pods do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

SCTPCTL = str(Path(sys.executable).with_name("sctpctl"))


def in_netns(netns: str | None, *argv: str) -> list[str]:
    return (["ip", "netns", "exec", netns] if netns else []) + [SCTPCTL, *argv]


def run(netns: str | None, *argv: str, input: bytes = b"", timeout: float = 60):
    return subprocess.run(
        in_netns(netns, *argv), input=input, capture_output=True, timeout=timeout, check=False
    )


class Background:
    """A process this test started; stopped by its PID (never by name)."""

    def __init__(self, argv: list[str], *, stdin: int | None = subprocess.DEVNULL) -> None:
        # Output goes to files: a pipe nobody reads would stall the program.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            argv, stdin=stdin, stdout=self._out, stderr=self._err, start_new_session=True
        )

    def output(self) -> tuple[bytes, bytes]:
        """What it printed so far (stdout, stderr)."""
        return _read(self._out), _read(self._err)

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def finish(self, timeout: float = 20) -> tuple[int, bytes, bytes]:
        self.process.wait(timeout=timeout)
        return self.process.returncode, *self.output()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()
        self._out.close()
        self._err.close()


def _read(file: IO[bytes]) -> bytes:
    file.seek(0)
    return file.read()


@contextmanager
def background(argv: list[str], **kwargs: object) -> Iterator[Background]:
    process = Background(argv, **kwargs)  # type: ignore[arg-type]
    try:
        yield process
    finally:
        process.stop()


def wait_for(predicate, *, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)


def listening(netns: str, port: int) -> bool:
    """Whether the stack service of ``netns`` has a listener on ``port``."""
    result = run(netns, "stack", "status", "-o", "json", timeout=10)
    if result.returncode != 0:
        return False
    import json

    return port in json.loads(result.stdout)["listening"]
