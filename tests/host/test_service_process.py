"""Long-lived programs a caller supervises (the lab's stack services): their own session, output
appended to a log file, and a stop that is SIGTERM first and SIGKILL, by PID, after the grace."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sctpctl.host.process import alive, sctpctl_command, start_service, stop_service


async def wait_until(check: Callable[[], bool], within: float = 10) -> None:
    for _ in range(int(within / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {within} s")


async def test_a_polite_program_ends_on_sigterm_and_its_output_is_appended(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "service.log"
    log.parent.mkdir()
    log.write_text("earlier run\n")
    process, record = await start_service(
        ["/bin/sh", "-c", "echo started; echo oops >&2; exec sleep 30"], log_path=log
    )
    assert record.pid == process.pid and alive(record)
    assert os.getsid(process.pid) == process.pid  # its own session: a terminal's ^C misses it
    await wait_until(lambda: log.read_text().count("\n") == 3)
    assert await stop_service(process, record, grace=5) == -signal.SIGTERM
    assert not alive(record)
    assert log.read_text().splitlines() == ["earlier run", "started", "oops"]


async def test_a_program_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    process, record = await start_service(
        ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"],
        log_path=tmp_path / "stubborn.log",
    )
    await wait_until(lambda: "ready" in (tmp_path / "stubborn.log").read_text())
    start = time.monotonic()
    assert await stop_service(process, record, grace=0.5) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - start < 3
    assert not alive(record)
    # Stopping one that has ended already only reports how it ended.
    assert await stop_service(process, record, grace=0.5) == -signal.SIGKILL


def test_sctpctl_command_runs_this_sctpctl() -> None:
    assert sctpctl_command("stack", "list") == [sys.executable, "-m", "sctpctl", "stack", "list"]
