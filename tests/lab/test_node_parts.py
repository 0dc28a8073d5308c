"""The parts of a node that need no kernel: pod phases, container logs, the scheduler's filters,
the root filesystem folder and the machine-config daemon's file writes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sctpctl.lab.containerlogs import LogWriter, follow, read_lines
from sctpctl.lab.nodesctp import sctp_loads_at_boot
from sctpctl.lab.podstatus import ContainerStatus, next_backoff, phase, pod_status
from sctpctl.lab.rootfs import NodeFiles, RootfsError
from sctpctl.lab.scheduler import choose, tolerates, unschedulable_message


def _exited(name: str, code: int) -> ContainerStatus:
    status = ContainerStatus(name, "image")
    status.set_running(0.0)
    status.set_terminated(code, 1.0, 0.0)
    return status


def test_phases_follow_the_restart_policy() -> None:
    running = ContainerStatus("a", "i")
    running.set_running(0.0)
    assert phase([ContainerStatus("a", "i")], [], "Always") == "Pending"
    assert phase([running], [], "Never") == "Running"
    assert phase([_exited("a", 0)], [], "Never") == "Succeeded"
    assert phase([_exited("a", 1)], [], "Never") == "Failed"
    assert phase([_exited("a", 1)], [], "OnFailure") == "Running"
    assert phase([_exited("a", 0)], [], "OnFailure") == "Succeeded"
    assert phase([_exited("a", 0)], [], "Always") == "Running"
    assert phase([running], [ContainerStatus("init", "i", init=True)], "Always") == "Pending"


def test_status_has_the_kubelet_conditions_and_keeps_transition_times() -> None:
    running = ContainerStatus("main", "image")
    running.set_running(10.0)
    first = pod_status(
        previous={}, containers=[running], init=[], restart_policy="Always", sandbox_ready=True,
        host_ip="198.18.0.11", pod_ip="10.128.2.3", started=0.0, now=10.0,
    )  # fmt: skip
    assert first["phase"] == "Running"
    assert [c["type"] for c in first["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled",
    ]  # fmt: skip
    assert all(c["status"] == "True" for c in first["conditions"])
    assert first["containerStatuses"][0]["ready"] is True
    assert first["podIPs"] == [{"ip": "10.128.2.3"}]
    later = pod_status(
        previous=first, containers=[running], init=[], restart_policy="Always", sandbox_ready=True,
        host_ip="198.18.0.11", pod_ip="10.128.2.3", started=0.0, now=99.0,
    )  # fmt: skip
    assert later["conditions"] == first["conditions"]
    crashed = _exited("main", 2)
    crashed.set_waiting("CrashLoopBackOff", "back-off 10s")
    down = pod_status(
        previous=first, containers=[crashed], init=[], restart_policy="Always", sandbox_ready=True,
        host_ip="198.18.0.11", pod_ip="10.128.2.3", started=0.0, now=99.0,
    )  # fmt: skip
    ready = {c["type"]: c for c in down["conditions"]}["Ready"]
    assert (
        ready["status"] == "False" and ready["message"] == "containers with unready status: [main]"
    )
    assert down["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"


def test_back_off_doubles_up_to_five_minutes() -> None:
    delays = [10.0]
    for _ in range(8):
        delays.append(next_backoff(delays[-1], 10.0))
    assert delays[:6] == [10, 20, 40, 80, 160, 300] and delays[-1] == 300


async def test_logs_are_stamped_per_line_and_followed(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "0.log", clock=iter([1.5, 2.25, 3.0]).__next__)
    writer.write("stdout", b"one\n")
    writer.write("stderr", b"two\n")
    lines = read_lines(tmp_path / "0.log")
    assert [(line.stream, line.text, line.time) for line in lines] == [
        ("stdout", b"one", 1.5),
        ("stderr", b"two", 2.25),
    ]
    assert lines[0].render(timestamps=True) == b"1970-01-01T00:00:01.500000000Z one\n"
    current: list[LogWriter | None] = [writer]
    received: list[bytes] = []

    async def reader() -> None:
        async for chunk in follow(
            tmp_path / "0.log", tail_lines=1, since=None, timestamps=False,
            running=lambda: current[0],
        ):  # fmt: skip
            received.append(chunk)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    writer.write("stdout", b"three")  # no newline: a partial line
    await asyncio.sleep(0.05)
    current[0] = None
    writer.close()
    await asyncio.wait_for(task, 2)
    assert received == [b"two\n", b"three"]


def _node(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **extra.get("labels", {})},
        },
        "spec": {
            "unschedulable": extra.get("unschedulable", False),
            "taints": extra.get("taints", []),
        },
        "status": {"conditions": [{"type": "Ready", "status": extra.get("ready", "True")}]},
    }


def test_the_scheduler_filters_and_spreads() -> None:
    master = _node(
        "master-0", taints=[{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]
    )
    nodes = [
        master,
        _node("worker-0"),
        _node("worker-1", unschedulable=True),
        _node("worker-2", ready="False"),
    ]
    pod: dict[str, Any] = {"spec": {}}
    assert choose(pod, nodes, {}) == "worker-0"
    pinned = {"spec": {"nodeSelector": {"kubernetes.io/hostname": "worker-1"}}}
    assert choose(pinned, nodes, {}) is None
    assert unschedulable_message(pinned, nodes).startswith("0/4 nodes are available: ")
    assert "1 node(s) were unschedulable" in unschedulable_message(pinned, nodes)
    tolerant = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    assert choose(tolerant, nodes, {"worker-0": 5}) == "master-0"


def test_tolerations_match_like_the_api() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates([{"key": "k", "operator": "Equal", "value": "v"}], taint)
    assert tolerates([{"key": "k", "operator": "Exists", "effect": "NoSchedule"}], taint)
    assert not tolerates([{"key": "k", "value": "other"}], taint)
    assert not tolerates([{"key": "k", "operator": "Exists", "effect": "NoExecute"}], taint)


def test_a_fresh_node_boots_like_rhcos_and_a_machineconfig_changes_that(tmp_path: Path) -> None:
    files = NodeFiles(tmp_path / "worker-0")
    files.install()
    assert files.read_dir("/etc/modprobe.d") == {
        "/etc/modprobe.d/sctp-blacklist.conf": "blacklist sctp\n"
    }
    assert not sctp_loads_at_boot(files)
    files.write_file("/etc/modprobe.d/sctp-blacklist.conf", b"", 0o644)
    files.write_file("/etc/modules-load.d/sctp-load.conf", b"sctp", 0o644)
    assert sctp_loads_at_boot(files)
    assert (files.rootfs / "etc/modules-load.d/sctp-load.conf").stat().st_mode & 0o777 == 0o644
    # Taking the config away puts the original back and removes what was new.
    files.restore_file("/etc/modprobe.d/sctp-blacklist.conf")
    files.restore_file("/etc/modules-load.d/sctp-load.conf")
    assert files.read_dir("/etc/modprobe.d") == {
        "/etc/modprobe.d/sctp-blacklist.conf": "blacklist sctp\n"
    }
    assert files.read_dir("/etc/modules-load.d") == {}
    files.set_sctp_live(True)
    assert (files.rootfs / "sys/module/sctp/initstate").read_text() == "live\n"
    files.set_sctp_live(False)
    assert not (files.rootfs / "sys/module/sctp").exists()


def test_node_paths_stay_in_the_rootfs(tmp_path: Path) -> None:
    files = NodeFiles(tmp_path)
    # As on the node itself, ".." at the root stays at the root.
    assert files.host_path("/etc/../../escape") == files.rootfs / "escape"
    assert files.host_path("//etc//modprobe.d/") == files.rootfs / "etc/modprobe.d"
    with pytest.raises(RootfsError, match="not an absolute path"):
        files.host_path("etc/x")
