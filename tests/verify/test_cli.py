"""``sctpctl verify`` as a command: output formats, JUnit, exit codes, --list and --cleanup, with
the in-memory cluster standing in for the API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sctpctl.cli import cluster as cluster_module
from sctpctl.cli import verify as verify_module
from sctpctl.cli.main import cli
from sctpctl.verify.catalogue import CATALOGUE
from tests.verify.fakecluster import FakeCluster
from tests.verify.test_runner import reader

FAST = ["--timeout", "0.1", "--settle", "0.1"]


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    fake = FakeCluster()

    async def connect(_kubeconfig: str | None, _context: str | None) -> FakeCluster:
        return fake

    monkeypatch.setattr(cluster_module, "connect", connect)
    monkeypatch.setattr(verify_module, "_module_reader", lambda _image, _ns: reader(fake))
    return fake


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--color", "never", "verify", *args])


def test_a_passing_run_prints_the_table_and_one_summary_line(cluster: FakeCluster) -> None:
    result = run(*FAST)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "OUTCOME", "PASSED", "SECONDS"]
    assert "perf: skipped, not asked for (--perf)" in result.stdout
    summary = [line for line in lines if "checks (" in line]
    assert len(summary) == 1 and "All 16 checks" in summary[0] and "1 skipped" in summary[0]
    assert "📋 failures" not in result.stdout
    assert "cleaning up" in result.stderr
    assert cluster.namespaces() == []


def test_json_and_junit(cluster: FakeCluster, tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    result = run(*FAST, "-o", "json", "--junit", str(junit), "--perf")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["kind"] == "VerifyReport"
    assert document["apiVersion"] == "sctpctl.dev/v1alpha1"
    assert [c["name"] for c in document["checks"]] == [c.name for c in CATALOGUE]
    assert document["passed"] is True
    assert junit.read_text().count("<testcase ") == len(CATALOGUE)


def test_a_failing_run_exits_1_and_lists_the_failures(cluster: FakeCluster) -> None:
    cluster.sctp_nodes = {"worker-0"}
    result = run(*FAST, "--test", "module,negative")
    assert result.exit_code == 1
    assert "📋 failures" in result.stdout
    assert "node worker-1: sctp module" in result.stdout
    assert "`sctpctl enable` turns it on" in result.stdout
    assert "1/2 checks failed (1/4 actions)" in result.stdout


def test_pods_that_cannot_start_are_an_environment_problem(cluster: FakeCluster) -> None:
    real_start = cluster._start

    def no_image(pod):  # type: ignore[no-untyped-def]
        real_start(pod)
        for status in pod["status"]["containerStatuses"]:
            status["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}

    cluster._start = no_image  # type: ignore[method-assign]
    result = run(*FAST, "--test", "hairpin")
    assert result.exit_code == 3
    assert "ImagePullBackOff" in result.stderr
    assert "--image" in result.stderr
    assert cluster.namespaces() == []


def test_usage_errors(cluster: FakeCluster) -> None:
    assert run("--test", "no-such-check").exit_code == 2
    unknown = run(*FAST, "--nodes", "worker-9")
    assert unknown.exit_code == 2
    assert "no node named worker-9" in unknown.stderr


def test_list_needs_no_cluster() -> None:
    result = run("--list", "-o", "json")
    assert result.exit_code == 0
    assert [c["name"] for c in json.loads(result.stdout)["checks"]] == [c.name for c in CATALOGUE]


def test_cleanup_removes_what_kept_runs_left(cluster: FakeCluster) -> None:
    kept = run(*FAST, "--test", "hairpin", "--keep")
    assert kept.exit_code == 0
    assert len(cluster.namespaces()) == 2
    assert "sctpctl verify --cleanup" in kept.stdout
    result = run("--cleanup")
    assert result.exit_code == 0
    assert "deleted 2 namespaces" in result.stderr
    assert cluster.namespaces() == []


def test_a_missing_permission_is_named_before_anything_is_created(cluster: FakeCluster) -> None:
    cluster.forbidden = {("create", "networkpolicies")}
    result = run(*FAST)
    assert result.exit_code == 3
    assert "missing permission: cannot create networkpolicies.networking.k8s.io" in result.stderr
    assert cluster.created == []
