"""sctpctl against usrsctp's programs over raw IP (protocol 132) between network namespaces the
test creates: usrsctp alone in one namespace (its raw sockets, no UDP), sctpctl in another,
through the host stack service or in-process (``--userspace raw``). tshark, capturing inside
sctpctl's namespace, finds no malformed packet and no bad checksum."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from sctpctl.host import netns
from sctpctl.sockets import ConnectError, open_stack
from tests.interop.helpers import (
    capture,
    chat,
    check_capture,
    needs_tshark,
    needs_usrsctp,
    peer,
    usrsctp,
)
from tests.tools.cli_helpers import background, in_netns, listening, run, wait_for

pytestmark = [
    pytest.mark.interop,
    pytest.mark.netns,
    needs_usrsctp,
    needs_tshark,
    pytest.mark.timeout(240),
]

USR, OURS, INPROC = "10.83.0.1", "10.83.0.2", "10.84.0.2"


@pytest.fixture
def lab(netns_factory, tmp_path: Path):
    """usrsctp's namespace and sctpctl's, served by a stack service.

    usrsctp's namespace has one interface, as a pod has: on a host with several, usrsctp over
    raw IP answers from whichever address it picks first, and sctpctl's single-homed
    associations only accept packets from the address they were started with.
    """
    u, s = netns_factory("ru"), netns_factory("rs")
    _, s_link = netns_factory.veth(u, f"{USR}/24", s, f"{OURS}/24")
    control = tmp_path / "stack.sock"
    with background(in_netns(None, "stack", "serve", "--netns", s, "--control", str(control))):
        wait_for(control.exists, what="the stack service")
        yield {"u": u, "s": s, "s_link": s_link, "tmp": tmp_path}


def _retrying(netns: str | None, *argv: str, input: bytes = b"") -> subprocess.CompletedProcess:
    """Run sctpctl, again while the usrsctp program is still starting (closed, exit 10)."""
    for _ in range(50):
        result = run(netns, *argv, input=input)
        if result.returncode != 10:
            return result
    return result


def test_echo_server_over_raw_ip_through_the_stack_service(lab):
    pcap = lab["tmp"] / "echo.pcap"
    sizes = [1, 2, 100, 1452, 1453, 5000, 10240]

    async def scenario() -> list[int]:
        stack = await open_stack()
        for _ in range(50):  # until usrsctp listens
            try:
                async with asyncio.timeout(5):
                    association = await stack.connect(USR, 7, streams=4)
                break
            except (ConnectError, TimeoutError):
                await asyncio.sleep(0.1)
        streams = []
        for index, size in enumerate(sizes):
            data = bytes((3 * index + i) & 0xFF for i in range(size))
            await association.send(
                data, stream=index % 4, ppid=0x20000 + index, unordered=index % 2 == 0
            )
            message = await asyncio.wait_for(association.receive(), 10)
            assert message is not None and message.data == data
            streams.append(message.stream)
        assert (await association.close()).graceful
        return streams

    with (
        capture(pcap, interface=lab["s_link"], capture_filter="sctp", netns=lab["s"]),
        peer(usrsctp("echo_server", "0", netns=lab["u"])),
    ):
        streams = netns.call_in_netns(lab["s"], lambda: asyncio.run(scenario()))
    assert streams == [i % 4 for i in range(len(sizes))]
    counts = check_capture(pcap)
    assert counts["DATA"] >= 2 * len(sizes) and "SHUTDOWN_COMPLETE" in counts


def test_connect_sends_256_kib_messages_to_discard_server_in_process_over_raw_ip(
    netns_factory, tmp_path: Path
):
    u, r = netns_factory("du"), netns_factory("dr")
    _, r_link = netns_factory.veth(u, "10.84.0.1/24", r, f"{INPROC}/24")
    pcap = tmp_path / "discard.pcap"
    payload = bytes(i & 0xFF for i in range(4 * 256 * 1024))
    with (
        capture(pcap, interface=r_link, capture_filter="sctp", netns=r),
        peer(usrsctp("discard_server", "0", netns=u)),
    ):
        result = _retrying(
            r,
            "connect",
            "10.84.0.1:9",
            "--userspace",
            "raw",
            "--size",
            "262144",
            "--stream",
            "1",
            "--wait",
            "0",
            "-o",
            "json",
            input=payload,
        )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == {"messages": 4, "bytes": len(payload)}
    assert report["termination"] == "shutdown"
    check_capture(pcap)


def test_usrsctp_client_over_raw_ip_to_sctpctl_listen(lab):
    pcap = lab["tmp"] / "client.pcap"
    lines = [b"over raw ip\n", b"y" * 78 + b"\n"]
    with (
        capture(pcap, interface=lab["s_link"], capture_filter="sctp", netns=lab["s"]),
        background(in_netns(lab["s"], "listen", "7007", "--echo", "-o", "json")) as server,
    ):
        wait_for(lambda: listening(lab["s"], 7007), what="the listener")
        printed = chat(usrsctp("client", OURS, "7007", "0", "0", netns=lab["u"]), lines)
        code, out, err = server.finish()
    assert code == 0, err
    (association,) = json.loads(out)["associations"]
    assert association["echoedMessages"] == 2 and association["termination"] == "shutdown"
    assert b"".join(lines) in printed and b"SCTP_SHUTDOWN_COMP" in printed
    check_capture(pcap)


@pytest.mark.parametrize(("size", "count", "unordered"), [(1024, 500, True), (262144, 8, False)])
def test_tsctp_over_raw_ip_both_ways(lab, size, count, unordered):
    pcap = lab["tmp"] / "tsctp.pcap"
    with capture(pcap, interface=lab["s_link"], capture_filter="sctp", netns=lab["s"]):
        # tsctp sends to sctpctl's perf server and shuts down.
        with background(
            in_netns(lab["s"], "perf", "server", "--port", "5001", "--once", "-o", "json")
        ) as server:
            wait_for(lambda: listening(lab["s"], 5001), what="the perf server")
            with peer(
                usrsctp(
                    "tsctp",
                    "-E",
                    "0",
                    "-p",
                    "5001",
                    "-l",
                    str(size),
                    "-n",
                    str(count),
                    *(["-u"] if unordered else []),
                    OURS,
                    netns=lab["u"],
                )
            ) as sender:
                code, out, err = server.finish(timeout=60)
                sender.finish(timeout=30)
        assert code == 0, err
        (association,) = json.loads(out)["associations"]
        assert (association["bytes"], association["messages"]) == (size * count, count)
        assert association["termination"] == "shutdown"
        # sctpctl's perf client sends to a tsctp server and shuts down.
        with peer(usrsctp("tsctp", "-E", "0", "-p", "5002", netns=lab["u"])) as receiver:
            result = _retrying(
                lab["s"],
                "perf",
                "client",
                f"{USR}:5002",
                "--size",
                str(size),
                "--time",
                "1",
                *(["--unordered"] if unordered else []),
                "-o",
                "json",
            )
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            wait_for(lambda: b", 0\n" in receiver.output()[0], what="tsctp's result line")
            line = next(
                row
                for row in receiver.output()[0].decode(errors="replace").splitlines()
                if row.count(",") == 6
            )
    received = int(line.split(",")[3])
    assert received == report["sent"]["bytes"] + size  # and the padded "start" message
    assert report["termination"] == "shutdown"
    check_capture(pcap)
