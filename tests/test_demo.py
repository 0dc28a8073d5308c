"""The README's first command: ``sctpctl demo`` tells the whole story on a lab of its own and
leaves nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sctpctl.host import netns

pytestmark = [
    pytest.mark.netns,
    pytest.mark.nft,
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not shutil.which("kubectl"), reason="needs kubectl"),
]

STORY = (
    "sctpctl lab up",
    "sctpctl status",
    "sctpctl enable --yes",
    "sctpctl status --pool worker",
    "sctpctl verify --perf",
    "sctpctl lab down",
)


def processes_naming(path: Path) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def test_the_demo_runs_every_step_as_expected_and_takes_its_lab_down(tmp_path: Path) -> None:
    state = tmp_path / "demo-lab"
    done = subprocess.run(
        [sys.executable, "-m", "sctpctl", "--color", "never", "demo", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # data on stdout, progress on stderr: one story
        text=True,
        timeout=280,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    story = done.stdout
    assert done.returncode == 0, story[-4000:]
    lab_id = re.search(r"^lab (\w+) on https://127\.0\.0\.1:\d+", story, re.M)
    assert lab_id, story[:2000]
    # Each step's output is there, in order, as a person reads it.
    positions = [story.index(marker) for marker in (
        "0 of 3 node(s) have SCTP",  # status before: blacklisted everywhere
        "SCTP enabled on pool worker: 2/2 nodes updated",
        "2 of 2 node(s) have SCTP",
        "perf: throughput:",
        "All 17 checks",
        "lab down: daemon stopped",
        "every step ended as expected",
    )]  # fmt: skip
    assert positions == sorted(positions)
    table = story[story.rindex("STEP  COMMAND") :]
    rows = [line.split() for line in table.splitlines()[1 : 1 + len(STORY)]]
    for row, command in zip(rows, STORY, strict=True):
        assert " ".join(row[1:]).startswith(command)
        exit_code, expected = row[-3], row[-2]
        assert exit_code == expected, row
    # Nothing of the lab is left: no namespace, no process, no state.
    assert [n for n in netns.names() if n.startswith(f"sctplab-{lab_id.group(1)}")] == []
    assert processes_naming(state) == []
    assert not (state / "lab.json").exists()
