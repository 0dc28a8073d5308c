"""Every outcome, in namespaces the test builds: open, closed, filtered (nftables drop), rejected
(nftables reject with ICMP admin-prohibited) and no-sctp-on-target (a namespace no stack
serves), for `sctpctl probe` (through the stack service and in-process over raw IP) and for
`sctpctl connect`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sctpctl.host.commands import nft
from tests.tools.cli_helpers import background, in_netns, listening, run, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.nft, pytest.mark.timeout(180)]

FIREWALL = """
table inet sctpctl_test {
    chain input {
        type filter hook input priority 0; policy accept;
        sctp dport 7001 drop
        sctp dport 7002 reject with icmp type admin-prohibited
    }
}
"""

EXPECTED = {
    ("10.81.0.2", 7000): "open",
    ("10.81.0.2", 7001): "filtered",
    ("10.81.0.2", 7002): "rejected",
    ("10.81.0.2", 7003): "closed",
    ("10.82.0.3", 7000): "no-sctp-on-target",
}


@pytest.fixture
def world(netns_factory, tmp_path: Path):
    prober, target, bare = netns_factory("pp"), netns_factory("pt"), netns_factory("pn")
    netns_factory.veth(prober, "10.81.0.1/24", target, "10.81.0.2/24")
    netns_factory.veth(prober, "10.82.0.1/24", bare, "10.82.0.3/24")
    nft(FIREWALL, netns=target)
    control = tmp_path / "stack.sock"
    with background(in_netns(None, "stack", "serve", "--netns", target, "--control", str(control))):
        wait_for(control.exists, what="the stack service")
        with background(in_netns(target, "listen", "7000", "--keep-open")):
            wait_for(lambda: listening(target, 7000), what="the listener")
            yield prober, control


def _probe(prober: str, *extra: str) -> dict[tuple[str, int], str]:
    result = run(
        prober,
        "probe",
        "10.81.0.2,10.82.0.3",
        "-p",
        "7000-7003",
        "--timeout",
        "1",
        "-o",
        "json",
        *extra,
    )
    assert result.returncode == 1, result.stderr  # mixed outcomes
    rows = json.loads(result.stdout)
    assert all(set(row) == {"host", "port", "outcome"} for row in rows)
    return {(row["host"], row["port"]): row["outcome"] for row in rows}


def test_probe_in_process_over_raw_ip_tells_every_outcome_apart(world):
    prober, _control = world
    outcomes = _probe(prober, "--userspace", "raw")
    assert {k: v for k, v in outcomes.items() if k in EXPECTED} == EXPECTED
    # The unserved namespace answers every port alike.
    assert {v for (host, _), v in outcomes.items() if host == "10.82.0.3"} == {"no-sctp-on-target"}


def test_probe_through_the_stack_service_and_the_exit_code_of_one_target(world):
    prober, control = world
    assert run(None, "stack", "add-netns", prober, "--control", str(control)).returncode == 0
    outcomes = _probe(prober)
    assert {k: v for k, v in outcomes.items() if k in EXPECTED} == EXPECTED
    codes = {
        "7000": 0,
        "7003": 10,
        "7001": 11,
        "7002": 12,
    }
    for port, code in codes.items():
        single = run(prober, "probe", "10.81.0.2", "-p", port, "--timeout", "1")
        assert single.returncode == code, (port, single.stdout, single.stderr)
    assert run(prober, "probe", "10.82.0.3", "-p", "9", "--timeout", "1").returncode == 13


def test_connect_reports_filtered_and_rejected(world):
    prober, _control = world
    filtered = run(
        prober, "connect", "10.81.0.2:7001", "--userspace", "raw", "--timeout", "1", "-o", "json"
    )
    assert filtered.returncode == 11
    assert json.loads(filtered.stdout)["outcome"] == "filtered"
    rejected = run(prober, "connect", "10.81.0.2:7002", "--userspace", "raw", "-o", "json")
    assert rejected.returncode == 12
    assert "admin-prohibited" in json.loads(rejected.stdout)["detail"]
    opened = run(prober, "connect", "10.81.0.2:7000", "--userspace", "raw", input=b"hi")
    assert opened.returncode == 0, opened.stderr
