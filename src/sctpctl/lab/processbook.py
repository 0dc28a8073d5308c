"""The lab's record of every process it started, so a crashed lab can end exactly those.

One small JSON file per running process under ``<state>/processes/`` (PID, start time and what
it is), written before the lab relies on the process and removed when it has ended. After a
``kill -9`` of the daemon, ``lab up`` and ``lab down`` read the folder and end each recorded
process whose PID still has the recorded start time, and only those.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from sctpctl.host.process import ProcessRecord, alive, signal_group
from sctpctl.lab.state import write_private


class ProcessBook:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, record: ProcessRecord) -> Path:
        return self.folder / f"{record.pid}-{record.start_time}.json"

    def add(self, record: ProcessRecord, what: str) -> None:
        data = {**record.to_json(), "what": what}
        write_private(self._file(record), json.dumps(data).encode())

    def remove(self, record: ProcessRecord) -> None:
        self._file(record).unlink(missing_ok=True)

    def records(self) -> list[tuple[ProcessRecord, str]]:
        found: list[tuple[ProcessRecord, str]] = []
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                found.append((ProcessRecord.from_json(data), str(data.get("what", ""))))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
        return found

    def end_all(self) -> int:
        """SIGKILL the process group of every recorded process that is still that process;
        forget them all. Returns how many were ended."""
        ended = 0
        for record, _what in self.records():
            if alive(record) and signal_group(record, signal.SIGKILL):
                ended += 1
            self.remove(record)
        return ended
