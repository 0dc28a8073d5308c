"""usrsctp's example programs as peers, and tshark captures that must hold no malformed packet
and no bad checksum. Every process is started here and stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.tools.cli_helpers import Background, wait_for

USRSCTP = Path("/usr/lib/usrsctp")

needs_usrsctp = pytest.mark.skipif(
    not (USRSCTP / "echo_server").exists(),
    reason="needs usrsctp's example programs (apt-get install libusrsctp-examples)",
)
needs_tshark = pytest.mark.skipif(
    not Path("/usr/bin/tshark").exists(), reason="needs tshark (apt-get install tshark)"
)


def usrsctp(program: str, *args: str, netns: str | None = None) -> list[str]:
    argv = [str(USRSCTP / program), *args]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


@contextmanager
def peer(argv: list[str], *, stdin: int | None = subprocess.DEVNULL) -> Iterator[Background]:
    """A usrsctp program running for the test (its output, a line per packet for tsctp, goes to
    a file, never a pipe)."""
    process = Background(["stdbuf", "-oL", *argv], stdin=stdin)
    try:
        yield process
    finally:
        process.stop()


class Capture:
    """tshark writing every packet of an interface to a pcap file."""

    def __init__(self, pcap: Path, interface: str, capture_filter: str, netns: str | None):
        self.pcap = pcap
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [*prefix, "tshark", "-n", "-i", interface, "-f", capture_filter, "-w", str(pcap)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )
        wait_for(self._capturing, timeout=20, what="tshark capturing")

    def _capturing(self) -> bool:
        self._log.seek(0)
        return b"Capturing on" in self._log.read()

    def stop(self) -> None:
        time.sleep(0.3)  # the last packets reach the file
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@contextmanager
def capture(
    pcap: Path, *, interface: str = "lo", capture_filter: str, netns: str | None = None
) -> Iterator[Capture]:
    running = Capture(pcap, interface, capture_filter, netns)
    try:
        yield running
    finally:
        running.stop()


def check_capture(pcap: Path, *, udp_ports: tuple[int, ...] = ()) -> dict[str, int]:
    """Dissect ``pcap`` (UDP ``udp_ports`` decoded as SCTP): every SCTP packet well formed, with
    a good CRC32c. Returns how many packets carried each chunk type (names as tshark's)."""
    decode = [arg for port in udp_ports for arg in ("-d", f"udp.port=={port},sctp")]
    result = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(pcap),
            "-o",
            "sctp.checksum:CRC-32C",
            *decode,
            "-Y",
            "sctp",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "sctp.checksum.status",
            "-e",
            "_ws.malformed",
            "-e",
            "sctp.chunk_type",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [line.split("|") for line in result.stdout.splitlines() if line]
    assert rows, "the capture holds no SCTP packet"
    bad = [row for row in rows if row[1] != "1" or row[2]]  # checksum status 1 is "good"
    assert bad == [], f"malformed packets or bad checksums: {bad[:5]}"
    counts: dict[str, int] = {}
    names = {
        "0": "DATA",
        "1": "INIT",
        "2": "INIT_ACK",
        "3": "SACK",
        "6": "ABORT",
        "7": "SHUTDOWN",
        "8": "SHUTDOWN_ACK",
        "10": "COOKIE_ECHO",
        "11": "COOKIE_ACK",
        "14": "SHUTDOWN_COMPLETE",
        "4": "HEARTBEAT",
        "5": "HEARTBEAT_ACK",
    }
    for row in rows:
        for kind in set(row[3].split(",")):
            name = names.get(kind, kind)
            counts[name] = counts.get(name, 0) + 1
    return counts


def chat(argv: list[str], lines: list[bytes], *, timeout: float = 30) -> bytes:
    """Run usrsctp's ``client``: one line at a time, each only after the echo of the previous
    one came back, then end its input (it shuts the association down) and wait for it to exit.
    SCTP has no half-close: the peer takes no new data after SHUTDOWN, so echoes must come
    back before the client's input ends. Returns what the client printed."""
    with peer(argv, stdin=subprocess.PIPE) as client:
        stdin = client.process.stdin
        assert stdin is not None
        expected = b""
        for line in lines:
            stdin.write(line)
            stdin.flush()
            expected += line
            wait_for(
                lambda: client.output()[0].count(expected) >= 1,  # noqa: B023
                timeout=timeout,
                what=f"the echo of {line!r}",
            )
        stdin.close()
        client.process.wait(timeout=timeout)
        return client.output()[0]
