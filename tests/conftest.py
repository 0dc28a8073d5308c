"""Shared test configuration: markers that skip, with a reason, only where a need is truly unmet."""

from __future__ import annotations

import os
import shutil

import pytest

_REASONS = {
    "root": lambda: None if os.geteuid() == 0 else "needs root (run the tests as root)",
    "netns": lambda: (
        "needs root to create network namespaces"
        if os.geteuid() != 0
        else (None if shutil.which("ip") else "needs iproute2's ip (apt-get install iproute2)")
    ),
    "nft": lambda: (
        "needs root to load nftables rulesets"
        if os.geteuid() != 0
        else (None if shutil.which("nft") else "needs nft (apt-get install nftables)")
    ),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, reason_of in _REASONS.items():
        if item.get_closest_marker(marker) is not None:
            reason = reason_of()
            if reason is not None:
                pytest.skip(reason)


class NetnsFactory:
    """Creates namespaces named ``sctpctl-t<pid>-<name>`` and deletes all of them at teardown."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.links = 0

    def __call__(self, name: str) -> str:
        from sctpctl.host import netns

        full = f"sctpctl-t{os.getpid()}-{name}"
        netns.create(full)
        self.created.append(full)
        return full

    def veth(self, ns_a: str, addr_a: str, ns_b: str, addr_b: str) -> tuple[str, str]:
        """A veth pair between two namespaces with the given ``addr/prefix`` on each end."""
        from sctpctl.host.commands import ip

        self.links += 1
        index = self.links
        left, right = f"va{os.getpid() % 10000}x{index}", f"vb{os.getpid() % 10000}x{index}"
        ip("link", "add", left, "netns", ns_a, "type", "veth", "peer", "name", right, "netns", ns_b)
        ip("addr", "add", addr_a, "dev", left, netns=ns_a)
        ip("addr", "add", addr_b, "dev", right, netns=ns_b)
        ip("link", "set", left, "up", netns=ns_a)
        ip("link", "set", right, "up", netns=ns_b)
        return left, right

    def cleanup(self) -> None:
        from sctpctl.host import netns

        for name in reversed(self.created):
            netns.delete(name)


@pytest.fixture
def netns_factory() -> NetnsFactory:
    """Network namespaces for one test, removed afterwards (needs the ``netns`` marker)."""
    factory = NetnsFactory()
    yield factory
    factory.cleanup()
