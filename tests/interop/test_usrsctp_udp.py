"""sctpctl against usrsctp's programs over UDP encapsulation (RFC 6951) on 127.0.0.1: sctpctl as
client and as server, 1 byte to 256 KiB, several streams, ordered and unordered, shutdown from
either side; tshark finds no malformed packet and no bad checksum in what went over the wire."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from sctpctl.sockets import InProcessStack
from tests.interop.helpers import (
    capture,
    chat,
    check_capture,
    needs_tshark,
    needs_usrsctp,
    peer,
    usrsctp,
)
from tests.sockets.helpers import free_udp_port
from tests.tools.cli_helpers import background, in_netns, run, wait_for

pytestmark = [pytest.mark.interop, needs_usrsctp, needs_tshark, pytest.mark.timeout(180)]


async def _connect_retrying(stack: InProcessStack, port: int):
    """usrsctp answers INIT with ABORT while its program is still starting up."""
    for _ in range(50):
        try:
            return await stack.connect("127.0.0.1", port)
        except Exception:
            await asyncio.sleep(0.1)
    raise AssertionError("the usrsctp program never accepted an association")


def test_echo_server_returns_every_message_on_its_stream_ordered_and_unordered(tmp_path: Path):
    server_port, our_port = free_udp_port(), free_udp_port()
    pcap = tmp_path / "echo.pcap"
    sizes = [1, 2, 100, 1452, 1453, 5000, 10240]  # echo_server reads 10240 bytes at a time

    async def scenario() -> list[tuple[int, int, bool, bytes]]:
        stack = InProcessStack.open("udp", udp_port=our_port, udp_peer_port=server_port)
        try:
            association = await _connect_retrying(stack, 7)
            back = []
            for index, size in enumerate(sizes):
                data = bytes((index + i) & 0xFF for i in range(size))
                stream, unordered = index % 4, index % 2 == 1
                # PPIDs without a Wireshark dissector: 1, 2, 3... name IUA, M2UA, M3UA, whose
                # dissectors would call these bytes malformed.
                ppid = 0x10000 + index
                await association.send(data, stream=stream, ppid=ppid, unordered=unordered)
                message = await asyncio.wait_for(association.receive(), 10)
                assert message is not None
                back.append((message.stream, message.ppid, message.unordered, message.data))
                assert message.data == data
            assert (await association.close()).graceful
            return back
        finally:
            await stack.close()

    with (
        capture(pcap, capture_filter=f"udp port {server_port} or udp port {our_port}"),
        peer(usrsctp("echo_server", str(server_port))),
    ):
        back = asyncio.run(scenario())
    # usrsctp echoes on the stream it received on; its own PPID and order flag are its choice.
    assert [stream for stream, *_ in back] == [i % 4 for i in range(len(sizes))]
    counts = check_capture(pcap, udp_ports=(server_port, our_port))
    assert counts["DATA"] >= 2 * len(sizes)
    assert {"INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK", "SHUTDOWN_COMPLETE"} <= set(counts)


@pytest.mark.parametrize(("size", "count"), [(1, 50), (65536, 8), (256 * 1024, 4)])
def test_sctpctl_connect_sends_to_discard_server_and_shuts_down(size, count, tmp_path: Path):
    server_port = free_udp_port()
    pcap = tmp_path / "discard.pcap"
    payload = bytes(i & 0xFF for i in range(size * count))
    with (
        capture(pcap, capture_filter=f"udp port {server_port}"),
        peer(usrsctp("discard_server", str(server_port))),
    ):
        for _ in range(50):
            result = run(
                None,
                "connect",
                "127.0.0.1:9",
                "--size",
                str(size),
                "--userspace",
                "udp",
                "--udp-port",
                "0",
                "--udp-peer-port",
                str(server_port),
                "--wait",
                "0",
                "--unordered",
                "-o",
                "json",
                input=payload,
            )
            if result.returncode != 10:  # closed: still starting
                break
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
    assert report["sent"] == {"messages": count, "bytes": size * count}
    assert report["termination"] == "shutdown"
    check_capture(pcap, udp_ports=(server_port,))


def test_usrsctp_client_talks_to_sctpctl_listen_and_shuts_it_down(tmp_path: Path):
    our_port, client_port = free_udp_port(), free_udp_port()
    pcap = tmp_path / "client.pcap"
    lines = [b"hello sctpctl\n", b"x" * 78 + b"\n", b"last line\n"]
    with (
        capture(pcap, capture_filter=f"udp port {our_port}"),
        background(
            in_netns(
                None,
                "listen",
                "7007",
                "--echo",
                "--userspace",
                "udp",
                "--udp-port",
                str(our_port),
                "--udp-peer-port",
                str(client_port),
                "-o",
                "json",
            )
        ) as server,
    ):
        wait_for(lambda: _bound(our_port), what="the listener's UDP port")
        printed = chat(
            usrsctp("client", "127.0.0.1", "7007", "0", str(client_port), str(our_port)), lines
        )
        code, out, err = server.finish()
    assert code == 0, err
    report = json.loads(out)
    (association,) = report["associations"]
    assert association["messages"] == 3 and association["echoedMessages"] == 3
    assert association["termination"] == "shutdown"  # usrsctp's SHUT_WR after stdin ended
    assert b"".join(lines) in printed and b"SCTP_SHUTDOWN_COMP" in printed
    check_capture(pcap, udp_ports=(our_port, client_port))


def _bound(port: int) -> bool:
    result = subprocess.run(["ss", "-Hunl", f"sport = :{port}"], capture_output=True, text=True)
    return bool(result.stdout.strip())


@pytest.mark.parametrize(
    ("size", "count", "unordered"), [(1, 200, False), (1024, 2000, True), (256 * 1024, 10, False)]
)
def test_tsctp_client_sends_to_sctpctl_perf_server(size, count, unordered, tmp_path: Path):
    our_port = free_udp_port()
    pcap = tmp_path / "tsctp.pcap"
    with (
        capture(pcap, capture_filter=f"udp port {our_port}"),
        background(
            in_netns(
                None,
                "perf",
                "server",
                "--port",
                "5001",
                "--once",
                "--userspace",
                "udp",
                "--udp-port",
                str(our_port),
                "-o",
                "json",
            )
        ) as server,
    ):
        wait_for(lambda: _bound(our_port), what="the perf server's UDP port")
        with peer(
            usrsctp(
                "tsctp",
                "-E",
                str(free_udp_port()),
                "-U",
                str(our_port),
                "-p",
                "5001",
                "-l",
                str(size),
                "-n",
                str(count),
                *(["-u"] if unordered else []),
                "127.0.0.1",
            )
        ) as sender:
            code, out, err = server.finish(timeout=60)
            sender_code, sender_out, _ = sender.finish(timeout=30)
    assert code == 0, err
    (association,) = json.loads(out)["associations"]
    assert association["bytes"] == size * count and association["messages"] == count
    assert association["termination"] == "shutdown"
    assert sender_code == 0
    assert f"Sending of {count} messages of length {size}".encode() in sender_out
    check_capture(pcap, udp_ports=(our_port,))


def test_sctpctl_perf_client_sends_256_kib_messages_to_tsctp(tmp_path: Path):
    server_port = free_udp_port()
    pcap = tmp_path / "perf.pcap"
    with (
        capture(pcap, capture_filter=f"udp port {server_port}"),
        peer(usrsctp("tsctp", "-E", str(server_port), "-p", "5003")) as receiver,
    ):
        for _ in range(50):
            result = run(
                None,
                "perf",
                "client",
                "127.0.0.1:5003",
                "--size",
                str(256 * 1024),
                "--time",
                "1",
                "--streams",
                "1",
                "--userspace",
                "udp",
                "--udp-port",
                "0",
                "--udp-peer-port",
                str(server_port),
                "-o",
                "json",
            )
            if b"refused" not in result.stderr:
                break
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        wait_for(lambda: _csv_line(receiver) is not None, what="tsctp's result line")
        fields = _csv_line(receiver)
    assert report["termination"] == "shutdown" and report["receiver"] is None
    # tsctp counts the perf client's "start" message too: its first, as long as the others, so
    # tsctp's own figure (first length x messages / seconds) holds.
    size = 256 * 1024
    assert fields is not None and int(fields[0]) == size
    assert int(fields[1]) == report["sent"]["messages"] + 1
    assert int(fields[3]) == report["sent"]["bytes"] + size
    assert float(fields[5]) == pytest.approx(int(fields[3]) / float(fields[4]), rel=0.01)
    check_capture(pcap, udp_ports=(server_port,))


def _csv_line(receiver) -> list[str] | None:
    for line in receiver.output()[0].decode(errors="replace").splitlines():
        if line.count(",") == 6 and line.split(",")[0].strip().isdigit():
            return [field.strip() for field in line.split(",")]
    return None
