"""enable, status and disable on the lab, through the same code path as on a real cluster: the
administrator's first two steps from blacklisted to loaded and back, a degraded pool, Ctrl-C,
and the same commands as ``kubectl sctp``. One lab for the module; the tests run in file order
and each starts from the state the previous one left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sctpctl import k8s
from sctpctl.node.machineconfig import render_sctp_machineconfig
from tests.lab.harness import KUBECTL
from tests.lab.labenv import Lab, running_lab
from tests.lab.test_lab import BAD_MACHINE_CONFIG

pytestmark = [
    pytest.mark.netns,
    pytest.mark.nft,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(KUBECTL), reason="needs /usr/bin/kubectl"),
]

GROUP = "machineconfiguration.openshift.io"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("enable-lab")) as running:
        yield running


def environment(lab: Lab) -> dict[str, str]:
    """kubectl's environment, with sctpctl's entry points (kubectl-sctp) on the PATH."""
    env = lab.env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["NO_COLOR"] = "1"
    return env


def sctpctl(lab: Lab, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sctpctl", *args], capture_output=True, text=True,
        env=environment(lab), timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def status(lab: Lab, *args: str) -> tuple[int, dict[str, Any]]:
    result = sctpctl(lab, "status", "-o", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def modules(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {n["name"]: (n["module"]["state"], n["sctpMachineConfig"]) for n in document["nodes"]}


def nodes_now(lab: Lab) -> dict[str, tuple[str, dict[str, str]]]:
    """Each node's boot ID and machine-config annotations."""
    found = {}
    for item in lab.json("get", "nodes")["items"]:
        notes = {k: v for k, v in item["metadata"]["annotations"].items() if k.startswith(GROUP)}
        found[item["metadata"]["name"]] = (item["status"]["nodeInfo"]["bootID"], notes)
    return found


def assert_no_leftovers(lab: Lab) -> None:
    """No status namespace or check pod stays behind."""
    namespaces = lab.jsonpath("get", "namespaces", path="{.items[*].metadata.name}").split()
    assert not [n for n in namespaces if n.startswith("sctpctl-status-")], namespaces
    assert lab.kubectl("get", "pods", "-A", "-l", "sctpctl.io/status").stdout == ""


def test_status_before_shows_sctp_blacklisted_everywhere(lab: Lab) -> None:
    code, document = status(lab)
    assert code == 1 and document["ok"] is False
    assert modules(document) == {
        "master-0": ("blacklisted", "no"),
        "worker-0": ("blacklisted", "no"),
        "worker-1": ("blacklisted", "no"),
    }
    worker = document["nodes"][1]
    assert worker["roles"] == ["worker"] and worker["pool"] == "worker"
    assert worker["module"]["blockedBy"] == [
        "/etc/modprobe.d/sctp-blacklist.conf:1: blacklist sctp"
    ]
    assert [(p["name"], p["state"], p["sctpInConfiguration"]) for p in document["pools"]] == [
        ("master", "Updated", False),
        ("worker", "Updated", False),
    ]
    assert_no_leftovers(lab)


def test_enable_creates_the_machineconfig_and_follows_the_rollout_to_the_end(lab: Lab) -> None:
    before = nodes_now(lab)
    result = sctpctl(lab, "enable", "--yes", "--timeout", "2m")
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert (
        "pool worker: create MachineConfig load-sctp-module (role worker, Ignition 3.2.0); "
        "2 nodes (worker-0, worker-1) will be drained and rebooted, 1 at a time" in err
    )
    assert "in total 2 node(s) will reboot" in err
    assert "created MachineConfig load-sctp-module" in err
    assert "pool worker: 0/2 updated; " in err  # plain progress lines off a terminal
    assert "SCTP enabled on pool worker: 2/2 nodes updated (rendered-worker-" in err
    assert result.stdout == ""
    created = lab.json("get", "mc", "load-sctp-module")
    assert created["spec"] == render_sctp_machineconfig()["spec"]
    pool = lab.json("get", "mcp", "worker")["status"]
    assert "load-sctp-module" in [s["name"] for s in pool["configuration"]["source"]]
    assert {c["type"]: c["status"] for c in pool["conditions"]}["Updated"] == "True"
    after = nodes_now(lab)
    # Every worker rebooted (a new boot ID) into the new configuration; the master did not.
    for worker in ("worker-0", "worker-1"):
        assert after[worker][0] != before[worker][0]
        assert after[worker][1][f"{GROUP}/currentConfig"] == pool["configuration"]["name"]
    assert after["master-0"] == before["master-0"]


def test_status_after_shows_sctp_loaded_on_the_workers_only(lab: Lab) -> None:
    code, document = status(lab)
    assert code == 1  # the master has no SCTP: not every node does
    assert modules(document) == {
        "master-0": ("blacklisted", "no"),
        "worker-0": ("loaded", "yes"),
        "worker-1": ("loaded", "yes"),
    }
    assert document["summary"] == {"nodes": 3, "blacklisted": 1, "loaded": 2}
    code, workers = status(lab, "--pool", "worker")
    assert code == 0 and workers["ok"] is True and len(workers["nodes"]) == 2
    table = sctpctl(lab, "status", "-l", "node-role.kubernetes.io/worker")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NODE", "ROLES", "POOL", "READY", "SCTP", "MC", "MODULE"]
    assert lines[1].split() == ["worker-0", "worker", "worker", "Ready", "yes", "loaded"]
    assert "worker-0: loaded (initstate live)" in lines
    assert "2 of 2 node(s) have SCTP" in lines
    assert_no_leftovers(lab)


def test_enable_again_changes_nothing_and_reboots_nothing(lab: Lab) -> None:
    before = nodes_now(lab)
    version = lab.jsonpath("get", "mc", "load-sctp-module", path="{.metadata.resourceVersion}")
    result = sctpctl(lab, "enable", "--yes")
    assert result.returncode == 0, result.stderr
    assert (
        "pool worker: MachineConfig load-sctp-module is already as rendered; "
        "no change, no reboot (2 nodes)" in result.stderr
    )
    assert "created" not in result.stderr and "updated MachineConfig" not in result.stderr
    assert "SCTP enabled on pool worker: 2/2 nodes updated" in result.stderr
    assert nodes_now(lab) == before  # same boot IDs, same annotations
    assert (
        lab.jsonpath("get", "mc", "load-sctp-module", path="{.metadata.resourceVersion}") == version
    )


def test_a_machineconfig_that_degrades_the_pool_ends_enable_with_the_reason(lab: Lab) -> None:
    lab.kubectl("create", "-f", "-", input=BAD_MACHINE_CONFIG)
    try:
        result = sctpctl(lab, "enable", "--yes", "--timeout", "1m")
        assert result.returncode == 1, result.stderr
        err = result.stderr
        assert "pool worker is degraded: Node worker-" in err
        node_line = next(line for line in err.splitlines() if line.startswith("  node worker-"))
        assert "path 'etc/relative.conf' must be absolute" in node_line
        assert "error: the rollout did not complete: pool worker is degraded" in err
    finally:
        lab.kubectl("delete", "mc", "99-worker-bad")
    recovered = sctpctl(lab, "enable", "--watch-only", "--timeout", "1m")
    assert recovered.returncode == 0, recovered.stderr
    assert "plan:" not in recovered.stderr  # watching only: no plan, no change


def test_ctrl_c_stops_following_and_the_rollback_goes_on(lab: Lab) -> None:
    disabling = subprocess.Popen(
        [sys.executable, "-m", "sctpctl", "disable", "--yes"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(lab),
    )  # fmt: skip
    assert disabling.stderr is not None
    seen = []
    for line in disabling.stderr:
        seen.append(line)
        if line.startswith("deleted MachineConfig load-sctp-module"):
            disabling.send_signal(signal.SIGINT)
            break
    _, tail = disabling.communicate(timeout=30)
    err = "".join(seen) + tail
    assert disabling.returncode == 130, err
    assert "stopped following; the rollout goes on in the cluster" in err
    assert "follow it again with: sctpctl disable --watch-only" in err
    assert lab.kubectl("get", "mc", "load-sctp-module", check=False).returncode != 0
    # The resume command follows the rollback to its end.
    resumed = sctpctl(lab, "disable", "--watch-only", "--timeout", "1m")
    assert resumed.returncode == 0, resumed.stderr
    assert "SCTP disabled on pool worker: 2/2 nodes updated" in resumed.stderr
    code, document = status(lab, "--pool", "worker")
    assert code == 1
    assert modules(document) == {
        "worker-0": ("blacklisted", "no"),
        "worker-1": ("blacklisted", "no"),
    }


def test_ctrl_c_during_status_removes_the_check_pods(lab: Lab) -> None:
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "sctpctl", "status", "--timeout", "1m"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=environment(lab),
        )  # fmt: skip

    async def interrupt_when_the_run_starts() -> subprocess.Popen[str]:
        """Ctrl-C the moment the first check pod exists (the watch starts from before the run,
        so no event is missed)."""
        client = await k8s.connect(str(lab.state / "kubeconfig"))
        try:
            listing = await client.list("v1", "Pod")
            checking = start()
            async with contextlib.aclosing(
                client.watch("v1", "Pod", resource_version=listing.resource_version)
            ) as events:
                async for event in events:
                    labels = event.object["metadata"].get("labels") or {}
                    if event.type == "ADDED" and "sctpctl.io/status" in labels:
                        checking.send_signal(signal.SIGINT)
                        return checking
        finally:
            await client.close()
        raise AssertionError("no check pod appeared")

    checking = asyncio.run(interrupt_when_the_run_starts())
    _, err = checking.communicate(timeout=30)
    assert checking.returncode == 130, err
    assert "interrupted; the check pods were removed" in err
    lab.wait_for(
        lambda: lab.kubectl("get", "pods", "-A", "-l", "sctpctl.io/status").stdout == "",
        message="check pods removed",
    )
    lab.wait_for(
        lambda: (
            not [
                n
                for n in lab.jsonpath("get", "ns", path="{.items[*].metadata.name}").split()
                if n.startswith("sctpctl-status-")
            ]
        ),
        message="status namespace removed",
    )


def test_the_same_commands_as_a_kubectl_plugin(lab: Lab) -> None:
    def kubectl_sctp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "sctp", *args], capture_output=True, text=True, env=environment(lab),
            timeout=120, stdin=subprocess.DEVNULL, cwd=lab.root,
        )  # fmt: skip

    helped = kubectl_sctp("enable", "--help")
    assert helped.returncode == 0 and "Usage: kubectl sctp enable" in helped.stdout
    dry = kubectl_sctp("enable", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert yaml.safe_load(dry.stdout) == render_sctp_machineconfig()
    enabled = kubectl_sctp("enable", "--yes")
    assert enabled.returncode == 0, enabled.stderr
    shown = kubectl_sctp("status", "--pool", "worker", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert {n["module"]["state"] for n in json.loads(shown.stdout)["nodes"]} == {"loaded"}
    disabled = kubectl_sctp("disable", "--yes")
    assert disabled.returncode == 0, disabled.stderr
    assert "SCTP disabled on pool worker: 2/2 nodes updated" in disabled.stderr
    assert "load-sctp-module" not in lab.kubectl("get", "mc", "-o", "name").stdout


@pytest.mark.skipif(not shutil.which("script"), reason="needs util-linux script for a terminal")
def test_on_a_terminal_it_asks_first_and_shows_progress_bars(lab: Lab) -> None:
    def on_a_terminal(answer: str) -> subprocess.CompletedProcess[str]:
        command = shlex.join([sys.executable, "-m", "sctpctl", "enable"])
        return subprocess.run(
            ["script", "-qec", command, "/dev/null"], input=answer, capture_output=True,
            text=True, env={**environment(lab), "COLUMNS": "120", "TERM": "xterm"}, timeout=120,
        )  # fmt: skip

    declined = on_a_terminal("n\n")
    assert declined.returncode == 1, declined.stdout
    assert "go ahead? [y/N]" in declined.stdout and "nothing was changed" in declined.stdout
    assert lab.kubectl("get", "mc", "load-sctp-module", check=False).returncode != 0
    accepted = on_a_terminal("y\n")
    assert accepted.returncode == 0, accepted.stdout
    screen = accepted.stdout
    assert "pool worker" in screen and "2/2 nodes" in screen and "0:00:0" in screen  # the bar
    assert "SCTP enabled on pool worker: 2/2 nodes updated" in screen


def test_the_daemonset_method_plans_against_the_same_cluster(lab: Lab) -> None:
    # Planning only: the lab runs no readiness probes and loads no modules, so a DaemonSet
    # there would look Ready without having done anything (the pure tests cover the rest).
    result = sctpctl(lab, "enable", "--method", "daemonset", "--dry-run", "-n", "kube-system")
    assert result.returncode == 0, result.stderr
    assert "create DaemonSet kube-system/sctp-module-loader" in result.stderr
    assert "each of 2 nodes (worker-0, worker-1)" in result.stderr and "no reboot" in result.stderr
    assert yaml.safe_load(result.stdout)["kind"] == "DaemonSet"
    absent = sctpctl(lab, "disable", "--method", "daemonset", "--yes")
    assert absent.returncode == 0, absent.stderr
    assert "there is no DaemonSet kube-system/sctp-module-loader; nothing to remove" in (
        absent.stderr
    )
    assert lab.kubectl("get", "ds", "-A", "-o", "name").stdout == ""
