"""``sctpctl verify`` on the lab, as a person runs it: before SCTP is enabled (the module and
negative checks say so), after (every check passes), with a blocking NetworkPolicy slipped into
the run's namespace (the right checks fail as filtered, naming the policy), and interrupted with
SIGINT (nothing is left behind). One lab for the module; the tests run in file order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from sctpctl.k8s.adapter import connect as k8s_connect
from tests.enable.test_lab import environment, sctpctl
from tests.lab.harness import KUBECTL
from tests.lab.labenv import Lab, running_lab

pytestmark = [
    pytest.mark.netns,
    pytest.mark.nft,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not shutil.which(KUBECTL), reason="needs /usr/bin/kubectl"),
]

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))
CONNECTIVITY = (
    "pod-to-pod-same-node", "pod-to-pod-cross-node", "pod-to-clusterip", "pod-to-nodeport",
    "host-to-nodeport", "hairpin", "messages",
)  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("verify-lab")) as running:
        yield running


def verify(lab: Lab, *args: str) -> tuple[int, dict[str, Any], str]:
    result = sctpctl(lab, "verify", "-o", "json", *args, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def leftovers(lab: Lab) -> list[str]:
    found = lab.json("get", "namespaces", "-l", "sctpctl.io/verify")["items"]
    return [n["metadata"]["name"] for n in found]


def test_before_enabling_the_module_and_negative_checks_say_so(lab: Lab, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    code, report, _ = verify(lab, "--junit", str(junit))
    assert code == 1
    found = checks(report)
    module = found["module-state"]
    assert module["status"] == "failed"
    assert [(a["name"], a["outcome"]) for a in module["actions"]] == [
        ("node worker-0: sctp module", "blacklisted"),
        ("node worker-1: sctp module", "blacklisted"),
    ]
    assert "sctpctl enable" in module["actions"][0]["diagnosis"]
    negative = found["negative-no-sctp"]
    assert negative["status"] == "passed"
    assert negative["actions"][0]["outcome"] == "no-sctp-local"
    for name in CONNECTIVITY:
        assert found[name]["status"] == "skipped", name
        assert "selected node" in found[name]["reason"]
    SCHEMA.assertValid(etree.parse(str(junit)))
    assert leftovers(lab) == []


@pytest.fixture(scope="module")
def before(lab: Lab) -> str:
    """The worker pool's rendered config before SCTP was enabled."""
    return lab.jsonpath("get", "mcp", "worker", path="{.status.configuration.name}")


@pytest.fixture(scope="module")
def enabled(lab: Lab, before: str) -> Lab:
    result = sctpctl(lab, "enable", "--yes", timeout=300)
    assert result.returncode == 0, result.stderr
    return lab


def test_verify_passes_in_full_and_cleans_up(enabled: Lab, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    started = time.monotonic()
    code, report, progress = verify(enabled, "--junit", str(junit), "--perf")
    took = time.monotonic() - started
    failed = {c["name"]: c["actions"] for c in report["checks"] if c["status"] == "failed"}
    assert code == 0, failed
    assert report["counts"] == {"passed": 17, "failed": 0, "skipped": 0}
    assert report["placement"]["noSctp"] == "master-0"
    assert report["placement"]["server"] != report["placement"]["client"]
    assert "All 17 checks" in report["summary"]
    document = etree.parse(str(junit))
    SCHEMA.assertValid(document)
    assert len(document.findall(".//testcase")) == 17
    perf = {a["name"].rsplit(": ", 1)[-1]: a["detail"] for a in checks(report)["perf"]["actions"]}
    assert "MB/s sent" in perf["throughput"] and "round trip p50" in perf["latency"]
    assert "cleaning up" in progress
    assert leftovers(enabled) == []
    print(f"verify --perf on the lab: {took:.1f} s; {report['summary']}")


WEB_ONLY: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "web-only"},
    "spec": {"podSelector": {"matchLabels": {"app": "sctpserver"}},
             "ingress": [{"ports": [{"protocol": "TCP", "port": 80}]}]},
}  # fmt: skip
"Lets only TCP/80 reach the procedure's server."


class PolicySlipper:
    """Puts a NetworkPolicy into the run's main namespace the moment the API server has it,
    through a watch, before the run's pods start (the lab's pods start behind the policy rules
    in force); a thread with its own event loop, so the test can run verify meanwhile."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.watching = threading.Event()
        self.placed: list[str] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        client = await k8s_connect(str(self.kubeconfig))
        try:
            listed = await client.list("v1", "Namespace")
            stream = client.watch(
                "v1", "Namespace", label_selector="sctpctl.io/verify-namespace=main",
                resource_version=listed.resource_version, timeout_seconds=240,
            )  # fmt: skip
            self.watching.set()
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    if event.type == "ADDED":
                        name = event.object["metadata"]["name"]
                        await client.create(WEB_ONLY, namespace=name)
                        self.placed.append(name)
                        return
        finally:
            await client.close()

    def __enter__(self) -> PolicySlipper:
        self.thread.start()
        assert self.watching.wait(30), "the namespace watch did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        self.thread.join(timeout=60)


def test_a_blocking_policy_fails_the_right_checks_as_filtered(enabled: Lab) -> None:
    """A policy that lets only TCP/80 reach the server, slipped into the run's namespace."""
    with PolicySlipper(enabled.state / "kubeconfig") as slipper:
        code, report, _ = verify(enabled, "--test", "!netpol-")
    assert slipper.placed == [report["namespaces"][0]]
    assert code == 1
    found = checks(report)
    for name in ("pod-to-pod-same-node", "pod-to-pod-cross-node", "pod-to-clusterip",
                 "pod-to-nodeport", "host-to-nodeport", "hairpin", "messages"):  # fmt: skip
        assert found[name]["status"] == "failed", name
        assert found[name]["outcome"] == "filtered", name
        diagnosis = found[name]["actions"][0]["diagnosis"]
        assert diagnosis == (
            "filtered: dropped on the way; a NetworkPolicy "
            f"({report['namespaces'][0]}/web-only) selects the server and allows only TCP/80"
        ), name
    for name in ("module-state", "negative-no-sctp"):
        assert found[name]["status"] == "passed", name
    assert leftovers(enabled) == []


def test_an_interrupted_run_leaves_nothing_behind(enabled: Lab) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sctpctl", "verify"], env=environment(enabled),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        enabled.wait_for(
            lambda: enabled.kubectl("get", "pods", "-A", "-l", "sctpctl.io/verify").stdout.count(
                "Running"
            ) >= 4,
            timeout=120, message="the run's pods",
        )  # fmt: skip
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "cleaning up" in err
    assert "interrupted" in out
    assert leftovers(enabled) == []


def test_a_worker_without_sctp_fails_the_module_check_and_hosts_the_negative_one(
    enabled: Lab, before: str
) -> None:
    """The worker pool paused and worker-1 put back on the config from before SCTP (as when
    an administrator rolls one node back): worker-1 reboots with sctp blacklisted."""
    enabled.kubectl("patch", "mcp", "worker", "--type", "merge", "-p", '{"spec":{"paused":true}}')
    enabled.kubectl(
        "annotate", "node", "worker-1", "--overwrite",
        f"machineconfiguration.openshift.io/desiredConfig={before}",
    )  # fmt: skip
    enabled.wait_for(
        lambda: enabled.jsonpath(
            "get", "node", "worker-1",
            path="{.metadata.annotations.machineconfiguration\\.openshift\\.io/currentConfig}",
        ) == before
        and "Ready" in enabled.kubectl("get", "node", "worker-1").stdout.split("\n")[1].split(),
        timeout=120, message="worker-1 back on the old config",
    )  # fmt: skip
    code, report, _ = verify(enabled)
    assert code == 1
    found = checks(report)
    module = found["module-state"]
    assert module["status"] == "failed"
    assert [(a["name"], a["outcome"]) for a in module["actions"]] == [
        ("node worker-0: sctp module", "loaded"),
        ("node worker-1: sctp module", "blacklisted"),
    ]
    negative = found["negative-no-sctp"]
    assert negative["status"] == "passed"
    assert [a["outcome"] for a in negative["actions"]] == ["no-sctp-local", "no-sctp-on-target"]
    assert "on worker-1" in negative["actions"][0]["name"]
    assert found["pod-to-pod-cross-node"]["status"] == "skipped"
    assert found["pod-to-clusterip"]["status"] == "passed"
    assert leftovers(enabled) == []
