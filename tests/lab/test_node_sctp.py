"""A machine's host stack service as the lab runs it: one ``sctpctl stack serve`` process per
machine with SCTP, recorded in the process book, serving the namespaces it is told about, started
again when it dies, and stopped by PID; and a node that runs it only when its files load sctp."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from sctpctl.host import netns
from sctpctl.host.commands import HostError
from sctpctl.host.process import alive
from sctpctl.lab.nodesctp import NodeSctpService, sctp_loads_at_boot
from sctpctl.lab.processbook import ProcessBook
from sctpctl.lab.rootfs import NodeFiles
from sctpctl.lab.stackprocess import StackProcess, StackStartError
from sctpctl.sockets.stackproto import ABSTRACT_NAME

pytestmark = [pytest.mark.netns, pytest.mark.timeout(120)]


def reachable(namespace: str) -> bool:
    """Whether ``@sctpctl-stack`` answers in ``namespace`` (what ``sctpctl listen`` looks for)."""

    def connect() -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            try:
                client.connect(ABSTRACT_NAME)
            except ConnectionRefusedError:
                return False
            return True

    return netns.call_in_netns(namespace, connect)


async def eventually(check: Any, *, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if found := check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s")


def recorded(book: ProcessBook) -> list[tuple[int, str]]:
    return [(record.pid, what) for record, what in book.records()]


async def test_one_process_serves_the_namespaces_it_is_told_about_until_stopped(
    netns_factory: Any, tmp_path: Path
) -> None:
    node, pod = netns_factory("node"), netns_factory("pod")
    book = ProcessBook(tmp_path / "processes")
    stack = StackProcess(
        control=tmp_path / "stack.sock", book=book, what="stack of n", namespaces=(node,)
    )
    await stack.start()
    try:
        pid = stack.pid
        assert pid is not None
        assert recorded(book) == [(pid, "stack of n")]
        assert await stack.served() == [node]
        assert reachable(node) and not reachable(pod)
        await stack.serve(pod)
        assert await stack.served() == sorted([node, pod])
        assert reachable(pod)
        await stack.release(pod)
        assert await stack.served() == [node]
        assert not reachable(pod)
        await stack.start()  # a running service is left alone
        assert stack.pid == pid
    finally:
        record = book.records()[0][0]
        await stack.stop()
    assert not alive(record)
    assert book.records() == []
    assert not (tmp_path / "stack.sock").exists()
    assert not reachable(node)
    log = (tmp_path / "stack.log").read_text()
    assert f"serving SCTP in {node}" in log and f"stopped serving SCTP in {pod}" in log


async def test_a_service_that_dies_is_started_again_for_the_same_namespaces(
    netns_factory: Any, tmp_path: Path
) -> None:
    node, pod = netns_factory("node"), netns_factory("pod")
    book = ProcessBook(tmp_path / "processes")
    stack = StackProcess(control=tmp_path / "s.sock", book=book, what="s", namespaces=(node,))
    await stack.start()
    try:
        await stack.serve(pod)
        first = stack.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        second = await eventually(lambda: stack.pid not in (None, first) and stack.pid)
        assert await stack.served() == sorted([node, pod])
        assert recorded(book) == [(second, "s")]
    finally:
        await stack.stop()
    assert book.records() == []


async def test_a_service_that_cannot_start_says_why_and_leaves_nothing(
    netns_factory: Any, tmp_path: Path
) -> None:
    node, other = netns_factory("node"), netns_factory("other")
    book = ProcessBook(tmp_path / "processes")
    control = tmp_path / "stack.sock"
    first = StackProcess(control=control, book=book, what="first", namespaces=(node,))
    await first.start()
    try:
        # A second service on the same control socket is refused by the service itself; the
        # first one's answers (another PID) are never taken for the second one being ready.
        second = StackProcess(control=control, book=book, what="second", namespaces=(other,))
        with pytest.raises(
            StackStartError,
            match=r"second exited with 3 while starting:\n(.|\n)*already uses the control socket",
        ):
            await second.start()
        assert second.pid is None and recorded(book) == [(first.pid, "first")]
        assert not reachable(other) and reachable(node)
        (tmp_path / "file").write_text("not a folder")
        third = StackProcess(control=tmp_path / "file" / "s.sock", book=book, what="third")
        with pytest.raises(StackStartError, match=r"third could not be started: .*File exists"):
            await third.start()
    finally:
        await first.stop()
    assert book.records() == []
    with pytest.raises(HostError, match="longer than a Unix socket allows"):
        StackProcess(control=tmp_path / ("x" * 120), book=book, what="s")


async def test_a_node_serves_itself_and_its_pods_only_while_its_files_load_sctp(
    netns_factory: Any, tmp_path: Path
) -> None:
    node, early, late = netns_factory("node"), netns_factory("early"), netns_factory("late")
    files = NodeFiles(tmp_path / "nodes" / "worker-0")
    files.install()
    book = ProcessBook(tmp_path / "processes")
    sctp = NodeSctpService(files, sctp_loads_at_boot, node="worker-0", netns=node, book=book)
    # As installed (RHCOS: sctp blacklisted), nothing serves the node or its pods.
    await sctp.boot()
    await sctp.attach(early)
    assert not sctp.loaded and not files.sctp_live
    assert book.records() == [] and not reachable(node) and not reachable(early)
    await sctp.shutdown()
    # The seed's MachineConfig files: the next boot serves the node and the pod namespace that
    # exists already; pods created later are served as they come, and released before deletion.
    files.write_file("/etc/modprobe.d/sctp-blacklist.conf", b"", 0o644)
    files.write_file("/etc/modules-load.d/sctp-load.conf", b"sctp", 0o644)
    await sctp.boot()
    try:
        assert sctp.loaded and files.sctp_live
        assert reachable(node) and reachable(early)
        assert files.stack_socket.exists()
        await sctp.attach(late)
        assert reachable(late)
        await sctp.detach(early)
        assert await sctp.stack.served() == sorted([node, late])
        assert [what for _record, what in book.records()] == ["stack service of node worker-0"]
    finally:
        await sctp.shutdown()
    assert not files.sctp_live and book.records() == []
    assert not reachable(node) and not reachable(late)
