"""Namespaces, veth links, in-namespace sockets and nftables, as the lab and tests use them."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from sctpctl.host import netns
from sctpctl.host.commands import CommandFailed, ip_json, netns_exec, nft, nft_json

pytestmark = pytest.mark.netns


def test_namespaces_are_created_and_deleted(netns_factory: Any) -> None:
    name = netns_factory("solo")
    assert netns.exists(name)
    assert name in netns.names()
    links = ip_json("link", "show", netns=name)
    assert [link["ifname"] for link in links] == ["lo"]
    netns.delete(name)
    assert not netns.exists(name)
    netns.delete(name)  # deleting twice is fine


def test_a_socket_made_in_a_namespace_talks_only_there(netns_factory: Any) -> None:
    a, b = netns_factory("a"), netns_factory("b")
    netns_factory.veth(a, "10.99.0.1/24", b, "10.99.0.2/24")

    def udp_socket(address: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((address, 5000))
        return sock

    receiver = netns.call_in_netns(b, lambda: udp_socket("10.99.0.2"))
    sender = netns.call_in_netns(a, lambda: udp_socket("10.99.0.1"))
    with receiver, sender:
        receiver.settimeout(2)
        sender.sendto(b"across the veth", ("10.99.0.2", 5000))
        data, source = receiver.recvfrom(100)
    assert data == b"across the veth"
    assert source == ("10.99.0.1", 5000)
    # the root namespace does not have these addresses
    with pytest.raises(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as root:
        root.bind(("10.99.0.1", 5001))


def test_errors_in_the_namespace_thread_reach_the_caller(netns_factory: Any) -> None:
    name = netns_factory("err")

    def fail() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        netns.call_in_netns(name, fail)


@pytest.mark.nft
def test_nft_rulesets_load_inside_a_namespace_only(netns_factory: Any) -> None:
    name = netns_factory("nft")
    nft(
        "table inet sctpctl_test {\n"
        " chain input { type filter hook input priority 0; sctp dport 9 drop; }\n}\n",
        netns=name,
    )
    listed = nft_json("list", "tables", netns=name)
    tables = [item["table"]["name"] for item in listed["nftables"] if "table" in item]
    assert tables == ["sctpctl_test"]
    with pytest.raises(CommandFailed):
        nft("table inet broken {", netns=name)
    assert "sctpctl_test" in netns_exec(name, ["nft", "list", "tables"])
