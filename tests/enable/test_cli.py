"""The command line's contract where a cluster says no: a missing API group, a missing
permission, an unreachable server (all exit 3, naming what is missing), and bad input (exit 2).
The cluster is an in-memory one here; the lab tests cover the way through."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sctpctl.cli import cluster as cluster_module
from sctpctl.cli.cluster import parse_duration
from sctpctl.cli.main import cli
from sctpctl.enable.status import collect_status
from tests.enable.fakecluster import FakeCluster
from tests.enable.objects import machineconfig, node, pool, seed

OPENSHIFT = [
    pool("master"),
    pool("worker"),
    node("master-0", "master"),
    node("worker-0"),
    node("worker-1"),
    machineconfig("00-worker", "worker"),
]
LOADED = {"state": "loaded", "detail": "loaded (initstate live)", "initstate": "live"}


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeCluster]]:
    """Make the commands connect to the FakeCluster the test puts in the list."""
    given: list[FakeCluster] = []

    async def connect(kubeconfig: str | None, context: str | None) -> FakeCluster:
        return given[0]

    monkeypatch.setattr(cluster_module, "connect", connect)
    yield given


def names(cluster: FakeCluster, kind: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in cluster.of_kind(kind))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--color", "never", *args])


def test_durations_are_written_as_kubectl_writes_them() -> None:
    assert parse_duration("45m") == 2700
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5h") == 5400
    assert parse_duration("600") == 600
    for bad in ("", "soon", "0s", "-5", "30x", "m"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    result = run("enable", "--timeout", "soon")
    assert result.exit_code == 2 and "not a duration" in result.output


def test_without_the_machineconfig_api_enable_explains_and_exits_3(use: list[FakeCluster]) -> None:
    use.append(FakeCluster([node("node-a")], openshift=False))
    for command in ("enable", "disable"):
        result = run(command, "--yes")
        assert result.exit_code == 3, result.output
        assert "no MachineConfig operator" in result.output
        assert "machineconfiguration.openshift.io is not served" in result.output
        assert "--method daemonset" in result.output
    assert use[0].of_kind("DaemonSet") == []


def test_a_missing_permission_names_the_verb_and_the_resource(use: list[FakeCluster]) -> None:
    use.append(FakeCluster(OPENSHIFT, forbidden={("create", "machineconfigs")}))
    result = run("enable", "--yes")
    assert result.exit_code == 3, result.output
    assert (
        "missing permission: cannot create machineconfigs.machineconfiguration.openshift.io"
        in result.output
    )
    # Nothing was created: the access check came before any change.
    assert names(use[0], "MachineConfig") == ["00-worker"]
    # Refused after a review said yes: named all the same, and nothing is left behind.
    use[0] = FakeCluster(OPENSHIFT, forbidden={("create", "pods")})
    use[0].reviews_allow_all = True
    result = run("status")
    assert result.exit_code == 3, result.output
    assert "missing permission: cannot create pods in namespace sctpctl-status-" in result.output
    assert use[0].of_kind("Pod") == [] and use[0].of_kind("Namespace") == []
    use[0] = FakeCluster(OPENSHIFT, forbidden={("list", "machineconfigpools")})
    result = run("status")
    assert result.exit_code == 3
    assert "cannot list machineconfigpools.machineconfiguration.openshift.io" in result.output


def test_an_unreachable_cluster_names_the_server(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))  # fmt: skip
    for command in (["status"], ["enable", "--yes"], ["disable", "--dry-run"]):
        result = run(*command, "--kubeconfig", str(kubeconfig))
        assert result.exit_code == 3, result.output
        assert "cannot reach the API server at https://127.0.0.1:9" in result.output
    result = run("status", "--kubeconfig", str(tmp_path / "missing"))
    assert result.exit_code == 3 and "does not exist" in result.output


def test_a_plan_that_needs_confirmation_needs_yes_off_a_terminal(use: list[FakeCluster]) -> None:
    use.append(FakeCluster(OPENSHIFT))
    result = run("enable")
    assert result.exit_code == 2
    assert "add --yes" in result.output
    assert "create MachineConfig load-sctp-module" in result.output
    assert names(use[0], "MachineConfig") == ["00-worker"]


def test_dry_run_prints_the_objects_and_changes_nothing(use: list[FakeCluster]) -> None:
    use.append(FakeCluster([*OPENSHIFT, seed()]))
    result = CliRunner().invoke(cli, ["disable", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "kind: MachineConfig\n" in result.stdout and "name: load-sctp-module" in result.stdout
    assert "delete MachineConfig load-sctp-module" in result.stderr
    assert "dry run: nothing was changed" in result.stderr
    assert [verb for verb, _ in use[0].calls if verb not in ("get", "list")] == []


def test_bad_requests_are_usage_errors(use: list[FakeCluster]) -> None:
    use.append(FakeCluster(OPENSHIFT))
    assert run("enable", "--pool", "infra", "--yes").exit_code == 2
    assert run("enable", "--image", "x").exit_code == 2  # only with --method daemonset
    assert run("enable", "--method", "daemonset", "--pool", "worker").exit_code == 2
    result = run("status", "-l", "a in (")
    assert result.exit_code == 2 and "selector" in result.output


def test_status_without_machineconfig_operator_judges_by_the_module(use: list[FakeCluster]) -> None:
    cluster = FakeCluster([node("node-a"), node("node-b")], openshift=False)
    cluster.node_reports = {"node-a": LOADED, "node-b": LOADED}
    use.append(cluster)
    result = CliRunner().invoke(cli, ["status", "-o", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["machineConfigOperator"] is False and document["ok"] is True
    assert [(n["name"], n["pool"], n["sctpMachineConfig"], n["module"]["state"])
            for n in document["nodes"]] == [
        ("node-a", None, "-", "loaded"),
        ("node-b", None, "-", "loaded"),
    ]  # fmt: skip
    # The run's namespace and pods are gone; --pool needs pools.
    assert cluster.of_kind("Pod") == [] and cluster.of_kind("Namespace") == []
    assert run("status", "--pool", "worker").exit_code == 2


async def test_cancelled_status_removes_its_pods_and_namespace() -> None:
    # Ctrl-C cancels the running command's task: the check pods are gone all the same.
    cluster = FakeCluster(OPENSHIFT)  # no node reports: the check pods never finish
    task = asyncio.create_task(collect_status(cluster, timeout=60))
    await cluster.watching.wait()
    assert len(cluster.of_kind("Pod")) == 3 and len(cluster.of_kind("Namespace")) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cluster.of_kind("Pod") == [] and cluster.of_kind("Namespace") == []


async def test_a_check_pod_deleted_by_a_drain_is_unknown_at_once() -> None:
    cluster = FakeCluster(OPENSHIFT)
    cluster.node_reports = {"worker-0": LOADED, "worker-1": LOADED}
    task = asyncio.create_task(collect_status(cluster, timeout=60))
    await cluster.watching.wait()
    (pending,) = [p for p in cluster.of_kind("Pod") if p["spec"]["nodeName"] == "master-0"]
    await cluster.delete(
        "v1", "Pod", pending["metadata"]["name"], namespace=pending["metadata"]["namespace"]
    )
    found = await asyncio.wait_for(task, timeout=10)
    assert found.nodes[0].module.detail == (
        "the check pod was deleted before it finished (is the node being drained?)"
    )


async def test_a_check_that_does_not_finish_in_time_is_unknown() -> None:
    cluster = FakeCluster(OPENSHIFT)
    cluster.node_reports = {"worker-0": LOADED, "worker-1": LOADED}
    found = await collect_status(cluster, pools=["worker", "master"], timeout=0.5)
    assert {n.name: n.module.state.value for n in found.nodes} == {
        "master-0": "unknown",
        "worker-0": "loaded",
        "worker-1": "loaded",
    }
    assert found.nodes[0].module.detail == "the check pod did not finish within 0.5 s"
    assert not found.ok and cluster.of_kind("Pod") == []
