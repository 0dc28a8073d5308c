"""Interoperability with usrsctp's example programs over UDP encapsulation on 127.0.0.1.

The endpoint under test runs in a small blocking UDP loop (tests/sctp/udp_driver.py); the usrsctp
programs (Debian libusrsctp-examples, /usr/lib/usrsctp/) are the peers. Every packet goes to
loopback only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sctpctl.sctp.association import Association
from sctpctl.sctp.chunks import parse_packet
from sctpctl.sctp.config import Address, Configuration
from sctpctl.sctp.endpoint import Endpoint
from sctpctl.sctp.events import (
    AssociationClosed,
    AssociationEstablished,
    CloseReason,
    MessageReceived,
    StreamsAdded,
    StreamsReset,
)

from .udp_driver import UdpDriver, free_udp_port

USRSCTP = Path("/usr/lib/usrsctp")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not (USRSCTP / "echo_server").exists(),
        reason="needs usrsctp's example programs (apt-get install libusrsctp-examples)",
    ),
]

CONFIG = Configuration(use_peer_addresses=False)


class _Program:
    """A usrsctp example program; its output goes to a file (the programs print a line per
    message, and a full pipe would stall them)."""

    def __init__(self, *argv: str, stdin: int | None = subprocess.DEVNULL) -> None:
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stdin = self.process.stdin

    def wait(self, timeout: float) -> None:
        self.process.wait(timeout=timeout)

    def stop(self) -> str:
        process = self.process
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        self._output.seek(0)
        text = self._output.read().decode(errors="replace")
        self._output.close()
        return text


def _start(*argv: str, stdin: int | None = subprocess.DEVNULL) -> _Program:
    return _Program(*argv, stdin=stdin)


def _stop(program: _Program) -> str:
    if program._output.closed:
        return ""
    return program.stop()


@pytest.fixture
def echo_server() -> Iterator[int]:
    port = free_udp_port()
    process = _start(str(USRSCTP / "echo_server"), str(port))
    try:
        yield port
    finally:
        _stop(process)


def _connect(driver: UdpDriver, udp_port: int, sctp_port: int) -> Association:
    """Connect, retrying while the program is still starting: between opening its UDP socket
    and listening, usrsctp answers an INIT with ABORT (its port is still closed)."""
    for _ in range(50):
        association = driver.endpoint.connect(
            Address("127.0.0.1", udp_port), sctp_port, now=driver.now()
        )
        driver.run(lambda: association.state.value == "established" or association.closed)  # noqa: B023
        if not association.closed:
            return association
        time.sleep(0.1)
    raise AssertionError(f"usrsctp never accepted an association on UDP port {udp_port}")


def _all_checksums_valid(packets: list[bytes]) -> bool:
    return all(parse_packet(p) is not None for p in packets)


def test_echo_server_echoes_messages_on_several_streams_ordered_and_unordered(echo_server: int):
    driver = UdpDriver(Endpoint(CONFIG))
    try:
        association = _connect(driver, echo_server, 7)
        assert any(isinstance(e, AssociationEstablished) for _, e in driver.events)
        # echo_server reads into a 10240-byte buffer and echoes complete reads only, so larger
        # messages are checked against tsctp below.
        sizes = [1, 2, 100, 1452, 1453, 5000, 10240]
        for index, size in enumerate(sizes):
            stream = index % 3
            payload = bytes((index + i) & 0xFF for i in range(size))
            driver.events.clear()
            association.send(
                payload, stream=stream, ppid=index, unordered=index % 2 == 1, now=driver.now()
            )

            def echoed(stream: int = stream) -> bytes:
                return b"".join(
                    e.data
                    for _, e in driver.events
                    if isinstance(e, MessageReceived) and e.stream == stream
                )

            driver.run(lambda: len(echoed()) >= size, timeout=30)  # noqa: B023
            assert echoed() == payload
        association.shutdown(now=driver.now())
        driver.run(lambda: association.closed, timeout=10)
        closed = [
            e for a, e in driver.events if a is association and isinstance(e, AssociationClosed)
        ]
        assert closed and closed[0].reason is CloseReason.SHUTDOWN
        assert _all_checksums_valid(driver.received_packets)
    finally:
        driver.close()


def test_discard_server_takes_a_thousand_messages_and_shuts_down_cleanly():
    port = free_udp_port()
    process = _start(str(USRSCTP / "discard_server"), str(port))
    driver = UdpDriver(Endpoint(CONFIG))
    try:
        association = _connect(driver, port, 9)
        for i in range(1000):
            association.send(i.to_bytes(4, "big") * 256, stream=i % 4, now=driver.now())
        driver.run(lambda: association.buffered_amount == 0, timeout=30)
        association.shutdown(now=driver.now())
        driver.run(lambda: association.closed, timeout=10)
        closed = [
            e for a, e in driver.events if a is association and isinstance(e, AssociationClosed)
        ]
        assert closed[0].reason is CloseReason.SHUTDOWN
    finally:
        driver.close()
        _stop(process)


@pytest.mark.parametrize(
    ("size", "count", "unordered"),
    [(1024, 500, False), (256 * 1024, 8, False), (100 * 1024, 6, True)],
)
def test_tsctp_client_sends_to_an_sctpctl_listener_and_shuts_down(
    size: int, count: int, unordered: bool
):
    driver = UdpDriver(Endpoint(CONFIG))
    driver.endpoint.listen(5001)
    process = _start(
        str(USRSCTP / "tsctp"),
        *("-E", str(free_udp_port()), "-U", str(driver.port), "-p", "5001"),
        *("-l", str(size), "-n", str(count), *(["-u"] if unordered else []), "127.0.0.1"),
    )
    try:

        def closed() -> list[AssociationClosed]:
            return [e for _, e in driver.events if isinstance(e, AssociationClosed)]

        driver.run(lambda: bool(closed()), timeout=60)
        messages = [e for _, e in driver.events if isinstance(e, MessageReceived)]
        assert [len(m.data) for m in messages] == [size] * count
        assert all(m.unordered is unordered for m in messages)
        assert closed()[0].reason is CloseReason.SHUTDOWN
        process.wait(timeout=10)
        assert f"Sending of {count} messages of length {size}" in _stop(process)
    finally:
        driver.close()
        _stop(process)


@pytest.mark.parametrize(("size", "count"), [(1024, 2000), (256 * 1024, 12)])
def test_tsctp_server_receives_from_an_sctpctl_client(size: int, count: int):
    port = free_udp_port()
    # Line-buffered, so the per-association line is in the file before the server is stopped.
    process = _start("stdbuf", "-oL", str(USRSCTP / "tsctp"), "-E", str(port), "-p", "5002")
    driver = UdpDriver(Endpoint(CONFIG))
    try:
        association = _connect(driver, port, 5002)
        for i in range(count):
            association.send(bytes([i & 0xFF]) * size, now=driver.now())
        association.shutdown(now=driver.now())
        driver.run(lambda: association.closed, timeout=60)
        closed = [
            e for a, e in driver.events if a is association and isinstance(e, AssociationClosed)
        ]
        assert closed[0].reason is CloseReason.SHUTDOWN
        time.sleep(0.5)  # the server thread prints its summary after the shutdown
    finally:
        driver.close()
        output = _stop(process)
    # The server prints one CSV line per association: first read length, messages, reads,
    # bytes, seconds, throughput, notifications.
    line = next(line for line in output.splitlines() if line.count(",") == 6)
    fields = [f.strip() for f in line.split(",")]
    assert fields[3] == str(count * size)


def test_usrsctp_client_talks_to_an_sctpctl_echo_listener():
    driver = UdpDriver(Endpoint(CONFIG))
    driver.endpoint.listen(7007)

    def echo(association, event) -> None:
        if isinstance(event, MessageReceived):
            association.send(event.data, stream=event.stream, ppid=event.ppid, now=driver.now())

    driver.on_event = echo
    process = _start(
        str(USRSCTP / "client"),
        "127.0.0.1",
        "7007",
        "0",
        str(free_udp_port()),
        str(driver.port),
        stdin=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        driver.run(
            lambda: any(isinstance(e, AssociationEstablished) for _, e in driver.events), timeout=10
        )
        process.stdin.write(b"hello from usrsctp\n")
        process.stdin.flush()
        driver.run(
            lambda: any(isinstance(e, MessageReceived) for _, e in driver.events), timeout=10
        )
        for _ in range(20):
            driver.pump(0.02)  # let the echo be acknowledged
        process.stdin.close()
        driver.run(
            lambda: any(isinstance(e, AssociationClosed) for _, e in driver.events), timeout=20
        )
        messages = [e.data for _, e in driver.events if isinstance(e, MessageReceived)]
        assert messages[0].startswith(b"hello from usrsctp")
        closed = [e for _, e in driver.events if isinstance(e, AssociationClosed)]
        assert closed[0].reason is CloseReason.SHUTDOWN
    finally:
        driver.close()
        output = _stop(process)
    assert "hello from usrsctp" in output


def test_echo_server_answers_stream_reset_and_add_streams_requests(echo_server: int):
    # usrsctp negotiates RE-CONFIG but, unless the application enabled it
    # (SCTP_ENABLE_STREAM_RESET), answers requests with "denied": the exchange must complete
    # and the data must keep flowing either way.
    driver = UdpDriver(Endpoint(CONFIG))
    try:
        association = _connect(driver, echo_server, 7)
        assert association.peer_reconfig and association.peer_partial_reliability
        association.send(b"before", stream=1, now=driver.now())
        driver.run(lambda: any(isinstance(e, MessageReceived) for _, e in driver.events))
        association.reset_streams((1,), now=driver.now())
        driver.run(lambda: any(isinstance(e, StreamsReset) for _, e in driver.events))
        association.add_streams(2, now=driver.now())
        driver.run(lambda: any(isinstance(e, StreamsAdded) for _, e in driver.events))
        driver.events.clear()
        association.send(b"after", stream=1, now=driver.now())
        driver.run(lambda: any(isinstance(e, MessageReceived) for _, e in driver.events))
        assert [e.data for _, e in driver.events if isinstance(e, MessageReceived)] == [b"after"]
        assert association.state.value == "established"
    finally:
        driver.close()
