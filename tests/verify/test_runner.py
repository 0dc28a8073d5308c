"""The runner against an in-memory cluster whose network obeys NetworkPolicies (fakecluster).

These pin the behaviour of a run as a whole: what passes on a healthy cluster, which checks fail
with which outcome words when a policy blocks the server or a node has no SCTP, that exec
transport failures are retried, and that every object of the run is gone afterwards, also when
the run is stopped halfway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from sctpctl.k8s.client import Client, Obj
from sctpctl.verify.catalogue import CATALOGUE, select
from sctpctl.verify.context import LABEL, NodeModule, Options
from sctpctl.verify.model import Status
from sctpctl.verify.runner import run_verify
from tests.verify.fakecluster import FakeCluster

FAST = Options(probe_timeout=0.1, settle=0.0, retries=2, perf=True, perf_seconds=0.1)


def reader(cluster: FakeCluster):  # type: ignore[no-untyped-def]
    async def read(_client: Client, nodes: Sequence[str]) -> Mapping[str, NodeModule]:
        return {
            n: NodeModule("loaded", "loaded (initstate live)")
            if n in cluster.sctp_nodes
            else NodeModule("blacklisted", "/etc/modprobe.d/sctp-blacklist.conf: blacklist sctp")
            for n in nodes
        }

    return read


def by_name(report) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {r.check.name: r for r in report.results}


async def test_a_healthy_cluster_passes_every_check_and_leaves_nothing_behind() -> None:
    cluster = FakeCluster()
    report = await run_verify(cluster, FAST, CATALOGUE, read_modules=reader(cluster))
    failed = [(r.check.name, r.reason, [a.diagnosis for a in r.failed_actions])
              for r in report.results if r.status is Status.FAILED]  # fmt: skip
    assert failed == []
    assert report.passed
    assert report.count(Status.SKIPPED) == 0
    assert report.summary().startswith(f"All {len(CATALOGUE)} checks (")
    # The placement crosses nodes, and the negative check went to the blacklisted master.
    assert report.placement is not None
    assert report.placement.server != report.placement.client
    assert report.placement.no_sctp == "master-0"
    assert cluster.namespaces() == []
    # Policy checks: probes from one pod are one `sctpctl probe`, not one exec per cell.
    probes = [argv for argv in cluster.execs if argv[1] == "probe"]
    assert len(probes) < sum(len(r.actions) for r in report.results)


async def test_a_blocking_policy_fails_the_connectivity_checks_as_filtered_and_names_it() -> None:
    cluster = FakeCluster()

    def slip_in(obj: Obj) -> None:
        meta = obj["metadata"]
        if (
            obj["kind"] == "Namespace"
            and meta["labels"].get("sctpctl.io/verify-namespace") == "main"
        ):
            cluster.objects[("NetworkPolicy", meta["name"], "web-only")] = {
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "web-only", "namespace": meta["name"]},
                "spec": {"podSelector": {"matchLabels": {"app": "sctpserver"}},
                         "ingress": [{"ports": [{"protocol": "TCP", "port": 80}]}]},
            }  # fmt: skip

    cluster.on_create.append(slip_in)
    report = await run_verify(cluster, FAST, CATALOGUE, read_modules=reader(cluster))
    results = by_name(report)
    for name in ("pod-to-pod-same-node", "pod-to-pod-cross-node", "pod-to-clusterip",
                 "pod-to-nodeport", "host-to-nodeport", "messages"):  # fmt: skip
        result = results[name]
        assert result.status is Status.FAILED, name
        assert result.outcome == "filtered", name
        diagnosis = result.failed_actions[0].diagnosis
        assert diagnosis.startswith("filtered: dropped on the way; a NetworkPolicy"), diagnosis
        assert "web-only) selects the server and allows only TCP/80" in diagnosis
    # The policy selects only the server: the module, negative and policy checks still pass.
    for name in ("module-state", "negative-no-sctp", "netpol-default-deny-ingress"):
        assert results[name].status is Status.PASSED, name
    assert not report.passed
    assert report.summary().startswith("7/17 checks failed")
    assert cluster.namespaces() == []


async def test_a_worker_without_sctp_fails_the_module_check_and_hosts_the_negative_one() -> None:
    cluster = FakeCluster()
    cluster.sctp_nodes = {"worker-0"}
    report = await run_verify(cluster, FAST, CATALOGUE, read_modules=reader(cluster))
    results = by_name(report)
    module = results["module-state"]
    assert module.status is Status.FAILED
    assert [(a.action.name, a.observation.word) for a in module.actions] == [
        ("node worker-0: sctp module", "loaded"),
        ("node worker-1: sctp module", "blacklisted"),
    ]
    negative = results["negative-no-sctp"]
    assert negative.status is Status.PASSED
    assert [a.observation.word for a in negative.actions] == ["no-sctp-local", "no-sctp-on-target"]
    assert "worker-1" in negative.actions[0].action.name  # a selected node is preferred
    assert results["pod-to-pod-cross-node"].status is Status.SKIPPED
    assert results["pod-to-pod-cross-node"].reason == "fewer than two selected nodes have SCTP"
    assert results["pod-to-clusterip"].status is Status.PASSED


async def test_a_plugin_that_ignores_policies_fails_them_with_truth_tables() -> None:
    cluster = FakeCluster()
    cluster.enforce_policies = False
    report = await run_verify(cluster, FAST, select(["netpol-"]), read_modules=reader(cluster))
    results = by_name(report)
    assert results["netpol-no-policy"].status is Status.PASSED
    deny = results["netpol-default-deny-ingress"]
    assert deny.status is Status.FAILED
    assert deny.outcome == "open"
    assert "should not" in deny.failed_actions[0].diagnosis
    log = "\n".join(deny.log)
    assert "expected" in log and "observed" in log and "right (.) / wrong (X)" in log
    assert "Discrepancy found: 4 wrong, 0 correct" in log


async def test_perf_runs_last_and_alone_and_reports_its_figures() -> None:
    cluster = FakeCluster()
    lines: list[str] = []
    options = Options(probe_timeout=0.1, settle=0.0, perf=True, perf_seconds=0.5)
    report = await run_verify(
        cluster, options, select(["perf", "hairpin"]), read_modules=reader(cluster),
        progress=lines.append,
    )  # fmt: skip
    assert report.passed
    finished = [line.split()[1] for line in lines if line.startswith("passed")]
    assert finished == ["hairpin", "perf"]
    perf = by_name(report)["perf"]
    details = [a.observation.detail for a in perf.actions]
    assert details[0].startswith("12.50 MB/s sent (100.0 Mbit/s), 12.40 MB/s received")
    assert details[1] == "round trip p50 0.80 ms, p90 1.10 ms, p99 2.50 ms over 900 messages"
    assert perf.check.figures


async def test_without_perf_the_perf_check_is_skipped_and_no_perf_server_runs() -> None:
    cluster = FakeCluster()
    options = Options(probe_timeout=0.1, settle=0.0)
    report = await run_verify(
        cluster, options, select(["perf", "hairpin"]), read_modules=reader(cluster)
    )
    assert by_name(report)["perf"].reason == "not asked for (--perf)"
    assert "sctpperf" not in [o["metadata"]["name"] for o in cluster.created]


async def test_exec_transport_failures_are_retried_and_counted() -> None:
    cluster = FakeCluster()
    cluster.exec_failures = 1
    report = await run_verify(
        cluster, FAST, select(["pod-to-clusterip"]), read_modules=reader(cluster)
    )
    (result,) = report.results
    assert result.status is Status.PASSED
    assert result.actions[0].observation.attempts == 2


async def test_stopping_a_run_cleans_up_and_marks_it_interrupted() -> None:
    cluster = FakeCluster()
    stop = asyncio.Event()
    started = asyncio.Event()
    real_exec = cluster.exec

    async def slow_exec(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        started.set()
        await asyncio.sleep(30)
        return await real_exec(*args, **kwargs)  # type: ignore[arg-type]

    cluster.exec = slow_exec  # type: ignore[method-assign]

    async def press_ctrl_c() -> None:
        await started.wait()
        assert any(n.startswith("sctpctl-verify-") for n in cluster.namespaces())
        stop.set()

    stopper = asyncio.ensure_future(press_ctrl_c())
    report = await asyncio.wait_for(
        run_verify(cluster, FAST, CATALOGUE, read_modules=reader(cluster), stop=stop), 10
    )
    await stopper
    assert report.interrupted and not report.passed
    assert cluster.namespaces() == []


async def test_keep_leaves_the_objects_labelled_with_the_run_id() -> None:
    cluster = FakeCluster()
    options = Options(probe_timeout=0.1, settle=0.0, keep=True)
    report = await run_verify(
        cluster, options, select(["pod-to-pod"]), read_modules=reader(cluster), run_id="keep01"
    )
    assert report.kept
    assert sorted(cluster.namespaces()) == ["sctpctl-verify-keep01", "sctpctl-verify-keep01-policy"]
    labelled = [
        o for o in cluster.objects.values() if (o["metadata"].get("labels") or {}).get(LABEL)
    ]
    assert {o["metadata"]["labels"][LABEL] for o in labelled} == {"keep01"}
    assert {o["kind"] for o in labelled} == {"Namespace", "Pod", "Service"}


async def test_only_the_module_check_deploys_nothing() -> None:
    cluster = FakeCluster()
    report = await run_verify(cluster, FAST, select(["module"]), read_modules=reader(cluster))
    assert report.passed
    assert cluster.execs == []
    assert not cluster.of_kind("Pod")


@pytest.mark.parametrize(
    ("patterns", "names"),
    [
        (["hairpin"], ["hairpin"]),
        (["pod-to-pod", "!cross"], ["pod-to-pod-same-node"]),
        (["netpol-.*selector,module"], ["module-state", "netpol-namespace-and-pod-selector"]),
    ],
)
def test_test_patterns_select_checks_by_name(patterns: list[str], names: list[str]) -> None:
    assert [c.name for c in select(patterns)] == names


def test_patterns_that_select_nothing_or_do_not_compile_are_errors() -> None:
    with pytest.raises(ValueError, match="selects no check"):
        select(["nothing-like-this"])
    with pytest.raises(ValueError, match="not a regular expression"):
        select(["("])
