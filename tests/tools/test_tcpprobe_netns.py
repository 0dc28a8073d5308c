"""`sctpctl probe --tcp`: the outcome words for TCP, between namespaces the test builds (a
listener on 7000, nothing on 7003, nftables drop on 7001 and reject on 7002), with no SCTP
anywhere."""

from __future__ import annotations

import json
import sys

import pytest

from sctpctl.host.commands import nft
from tests.tools.cli_helpers import background, run, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.nft, pytest.mark.timeout(60)]

FIREWALL = """
table inet sctpctl_tcp_test {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 7001 drop
        tcp dport 7002 reject with icmp type admin-prohibited
    }
}
"""

LISTENER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('10.83.0.2', 7000)); s.listen(8)\n"
    "while True: s.accept()[0].close()\n"
)


def test_tcp_probe_reports_open_closed_filtered_and_rejected(netns_factory) -> None:
    prober, target = netns_factory("tp"), netns_factory("tt")
    netns_factory.veth(prober, "10.83.0.1/24", target, "10.83.0.2/24")
    nft(FIREWALL, netns=target)
    with background(["ip", "netns", "exec", target, sys.executable, "-c", LISTENER]):
        wait_for(
            lambda: run(prober, "probe", "10.83.0.2", "-p", "7000", "--tcp").returncode == 0,
            what="the TCP listener",
        )
        result = run(prober, "probe", "10.83.0.2", "-p", "7000-7003", "--tcp", "--timeout", "1",
                     "-o", "json")  # fmt: skip
        found = {(r["host"], r["port"]): r["outcome"] for r in json.loads(result.stdout)}
    assert found == {
        ("10.83.0.2", 7000): "open",
        ("10.83.0.2", 7001): "filtered",
        ("10.83.0.2", 7002): "rejected",
        ("10.83.0.2", 7003): "closed",
    }
    assert result.returncode == 1  # the outcomes differ
    one = run(prober, "probe", "10.83.0.2", "-p", "7003", "--tcp", "--timeout", "1")
    assert one.returncode == 10  # closed, as for SCTP


def test_tcp_and_userspace_do_not_go_together() -> None:
    result = run(None, "probe", "127.0.0.1", "-p", "1", "--tcp", "--userspace", "udp")
    assert result.returncode == 2
    assert b"--tcp uses the kernel's TCP" in result.stderr
