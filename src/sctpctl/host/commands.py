"""Running the host's network programs (``ip``, ``nft``, ``sysctl``) with one error type.

Every command line goes through :func:`run`, which logs it at debug level, so ``-vv`` shows exactly
what sctpctl did to the kernel and a person can replay or undo it by hand.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)


class HostError(Exception):
    """The host lacks something sctpctl needs (root, a program), or a host command failed."""


class MissingPrivilege(HostError):
    pass


class MissingProgram(HostError):
    pass


class CommandFailed(HostError):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"{' '.join(argv)} failed (exit {returncode}): {self.stderr}")


def require_root(what: str) -> None:
    """Raise :class:`MissingPrivilege` unless we are root, naming what needs it."""
    if os.geteuid() != 0:
        raise MissingPrivilege(f"{what} needs root privileges (run it as root or with sudo)")


def require_program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingProgram(f"{name} is not installed (apt-get install {package})")
    return path


def run(
    argv: Sequence[str], *, input_text: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a program to completion; raise :class:`CommandFailed` on a non-zero exit if ``check``."""
    logger.debug("+ %s", " ".join(argv))
    try:
        result = subprocess.run(
            list(argv), input=input_text, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as error:
        raise MissingProgram(f"{argv[0]} is not installed") from error
    if check and result.returncode != 0:
        raise CommandFailed(argv, result.returncode, result.stderr)
    return result


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """``ip [-n NETNS] ARGS``; returns stdout."""
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run([*prefix, *args], check=check).stdout


def ip_json(*args: str, netns: str | None = None) -> Any:
    """``ip -json ...`` parsed."""
    prefix = ["ip", "-json", "-n", netns] if netns else ["ip", "-json"]
    out = run([*prefix, *args]).stdout.strip()
    return json.loads(out) if out else []


def ip_batch(lines: Sequence[str], *, netns: str | None = None) -> None:
    """Run many ``ip`` commands in one process (``ip -batch -``): fast, and all-or-error."""
    if not lines:
        return
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    run([*prefix, "-batch", "-"], input_text="\n".join(lines) + "\n")


def netns_exec(netns: str, argv: Sequence[str], *, check: bool = True) -> str:
    """Run a program inside a named network namespace; returns stdout."""
    return run(["ip", "netns", "exec", netns, *argv], check=check).stdout


def sysctl(netns: str, key: str, value: str) -> None:
    """Set a per-namespace sysctl (``net.*``) inside ``netns``."""
    netns_exec(netns, ["sysctl", "-qw", f"{key}={value}"])


def nft(ruleset: str, *, netns: str | None = None) -> None:
    """Load an nftables ruleset (``nft -f -``): atomic, all of it or none."""
    prefix = ["ip", "netns", "exec", netns, "nft"] if netns else ["nft"]
    run([*prefix, "-f", "-"], input_text=ruleset)


def nft_json(*args: str, netns: str | None = None) -> Any:
    """``nft -j ARGS`` parsed (``nft -j list table inet x``)."""
    prefix = ["ip", "netns", "exec", netns, "nft"] if netns else ["nft"]
    out = run([*prefix, "-j", *args]).stdout.strip()
    return json.loads(out) if out else {}
