"""Network namespaces: create, delete, list, and do work inside one from Python.

Python 3.11 has no ``os.setns``, so :func:`call_in_netns` calls ``setns(2)`` through ctypes in a
fresh thread made for the purpose: a thread's network namespace is its own, so the rest of the
process is never moved, and the thread ends afterwards instead of returning to a pool in a foreign
namespace. A socket created there stays bound to that namespace for its whole life, which is how
one process can own raw sockets and abstract Unix sockets in many namespaces.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sctpctl.host.commands import HostError, ip, require_program, require_root

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def names() -> list[str]:
    """Every named namespace (``ip netns list``)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def create(name: str) -> None:
    """Create a named namespace with its loopback up (idempotent)."""
    require_root("creating network namespaces")
    require_program("ip", "iproute2")
    if not exists(name):
        ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)


def delete(name: str) -> None:
    """Delete a named namespace (and with it every interface inside); missing is fine."""
    if exists(name):
        ip("netns", "delete", name, check=False)
    if exists(name):
        raise HostError(f"network namespace {name} could not be deleted")


def setns_current_thread(name: str) -> None:
    """Move the calling thread into ``name``; only for threads that end right after their work."""
    fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise HostError(f"setns into {name} failed: {os.strerror(errno)}")
    finally:
        os.close(fd)


def call_in_netns(name: str, func: Callable[[], T]) -> T:
    """Run ``func`` in a new thread that lives in namespace ``name``; return its result."""
    if not exists(name):
        raise HostError(f"network namespace {name} does not exist")
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            setns_current_thread(name)
            result.append(func())
        except BaseException as error:  # re-raised in the caller's thread
            failure.append(error)

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
