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
