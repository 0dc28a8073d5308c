"""sctpctl listen / connect / stack as processes in network namespaces, the way the lab runs them:
one stack service for several namespaces, applications (also unprivileged ones) in each, and the
exit codes of DESIGN.md section 4."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from sctpctl.host.commands import ip, ip_json
from tests.tools.cli_helpers import background, in_netns, listening, run, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.timeout(180)]


@pytest.fixture
def hosts(netns_factory, tmp_path: Path):
    a, b, c = netns_factory("ca"), netns_factory("cb"), netns_factory("cc")
    netns_factory.veth(a, "10.78.0.1/24", b, "10.78.0.2/24")
    netns_factory.veth(a, "10.79.0.1/24", c, "10.79.0.3/24")
    control = tmp_path / "stack.sock"
    with background(
        in_netns(None, "stack", "serve", "--netns", a, "--netns", b, "--control", str(control))
    ) as service:
        wait_for(control.exists, what="the control socket")
        yield a, b, c, control, service


def test_listen_and_connect_through_the_stack_service(hosts):
    a, b, _c, _control, _service = hosts
    # A server without any capability (no CAP_NET_RAW), as a pod's container runs: it needs
    # only the service's abstract socket.
    argv = ["setpriv", "--bounding-set=-all", "--", *in_netns(None, "listen", "7000", "--echo")]
    with background(["ip", "netns", "exec", b, *argv]) as server:
        wait_for(lambda: listening(b, 7000), what="the listener")
        payload = bytes(range(256)) * 1024
        result = run(
            a,
            "connect",
            "10.78.0.2:7000",
            "--expect-echo",
            "--stream",
            "2",
            "--size",
            "65536",
            input=payload,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == payload
        code, out, err = server.finish()
        assert code == 0, err
        assert out == payload


def test_outcomes_closed_no_sctp_on_target_and_no_sctp_local(hosts):
    a, _b, c, _control, _service = hosts
    closed = run(a, "connect", "10.78.0.2:7999", "-o", "json", input=b"x")
    assert closed.returncode == 10
    assert json.loads(closed.stdout)["outcome"] == "closed"
    unserved = run(a, "connect", "10.79.0.3:7000", "-o", "json", input=b"x")
    assert unserved.returncode == 13
    assert json.loads(unserved.stdout)["outcome"] == "no-sctp-on-target"
    local = run(c, "listen", "7000")
    assert local.returncode == 14
    assert b"SCTP is not available in this network namespace" in local.stderr
    status = run(c, "stack", "status")
    assert status.returncode == 14


def test_namespaces_are_added_and_removed_through_the_control_socket(hosts):
    a, b, c, control, _service = hosts
    listed = run(None, "stack", "list", "--control", str(control), "-o", "json")
    assert sorted(json.loads(listed.stdout)["netns"]) == sorted([a, b])
    assert run(None, "stack", "add-netns", c, "--control", str(control)).returncode == 0
    with background(in_netns(c, "listen", "7000", "--echo")):
        wait_for(lambda: listening(c, 7000), what="the listener in the added namespace")
        result = run(a, "connect", "10.79.0.3:7000", "--expect-echo", input=b"hello c")
        assert result.returncode == 0, result.stderr
    assert run(None, "stack", "remove-netns", c, "--control", str(control)).returncode == 0
    again = run(a, "connect", "10.79.0.3:7000", "-o", "json", input=b"x")
    assert json.loads(again.stdout)["outcome"] == "no-sctp-on-target"
    bad = run(None, "stack", "add-netns", "no-such-namespace", "--control", str(control))
    assert bad.returncode == 1 and b"does not exist" in bad.stderr


def test_sigterm_shuts_associations_down_gracefully_and_removes_the_control_socket(hosts):
    a, b, _c, control, service = hosts
    with background(in_netns(b, "-v", "listen", "7000")) as server:
        wait_for(lambda: listening(b, 7000), what="the listener")
        client = subprocess.Popen(
            in_netns(a, "-v", "connect", "10.78.0.2:7000", "--wait", "60"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert client.stdin is not None
            client.stdin.write(b"still here\n")
            client.stdin.flush()
            wait_for(lambda: server.output()[0] == b"still here\n", what="the data")
            service.signal(signal.SIGTERM)
            code, _out, err = service.finish()
            assert code == 0, err
            assert not control.exists()
            _out, client_err = client.communicate(timeout=20)
            assert client.returncode == 0, client_err
            assert b"association closed (shutdown)" in client_err
            server_code, server_out, _ = server.finish()
            assert server_code == 0 and server_out == b"still here\n"
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()


def test_ipv6_through_the_stack_service_and_protocol_unreachable_over_icmpv6(hosts):
    a, b, _c, control, _service = hosts
    for netns, address in ((a, "fd00:78::1"), (b, "fd00:78::2")):
        (link,) = ip_json("link", "show", "type", "veth", netns=netns)[:1]
        ip("addr", "add", f"{address}/64", "dev", link["ifname"], "nodad", netns=netns)
    with background(in_netns(b, "listen", "7100", "--echo")):
        wait_for(lambda: listening(b, 7100), what="the listener")
        result = run(a, "connect", "[fd00:78::2]:7100", "--expect-echo", input=b"over IPv6")
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"over IPv6"
    assert run(a, "probe", "fd00:78::2", "-p", "7101", "--timeout", "2").returncode == 10
    # Unserved, b's kernel answers with ICMPv6 parameter problem (unrecognized next header).
    assert run(None, "stack", "remove-netns", b, "--control", str(control)).returncode == 0
    gone = run(a, "connect", "[fd00:78::2]:7100", "-o", "json", input=b"x")
    assert json.loads(gone.stdout)["outcome"] == "no-sctp-on-target", gone.stdout
