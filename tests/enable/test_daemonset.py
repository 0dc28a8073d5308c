"""The DaemonSet method's decisions: where it runs, whether the stored object is already the
rendered one (servers add defaults), and when it is ready or has failed."""

from __future__ import annotations

import copy
from typing import Any

from sctpctl.enable.daemonset import daemonset_progress, plan_daemonset, runs_on
from sctpctl.enable.plan import Action
from sctpctl.manifests.daemonset import Tolerate, render_daemonset
from tests.enable.objects import node

BODY = render_daemonset()


def tainted(name: str, *keys: str) -> dict[str, Any]:
    found = node(name)
    found["metadata"]["labels"]["kubernetes.io/os"] = "linux"
    found["spec"]["taints"] = [{"key": k, "effect": "NoSchedule"} for k in keys]
    return found


NODES = [
    tainted("worker-0"),
    tainted("master-0", "node-role.kubernetes.io/master"),
    tainted("gpu-0", "nvidia.com/gpu"),
]


def test_where_it_runs_follows_the_selector_and_the_tolerated_taints() -> None:
    on = {t: [n["metadata"]["name"] for n in NODES if runs_on(n, BODY, t)] for t in Tolerate}
    assert on == {
        Tolerate.NONE: ["worker-0"],
        Tolerate.CONTROL_PLANE: ["worker-0", "master-0"],
        Tolerate.ALL: ["worker-0", "master-0", "gpu-0"],
    }
    windows = node("win-0")
    windows["metadata"]["labels"]["kubernetes.io/os"] = "windows"
    assert not runs_on(windows, BODY, Tolerate.ALL)


def test_the_stored_object_with_server_defaults_is_unchanged() -> None:
    stored = copy.deepcopy(BODY)
    stored["spec"]["revisionHistoryLimit"] = 10
    stored["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    plan = plan_daemonset(BODY, stored, NODES, tolerate=Tolerate.NONE)
    assert plan.action is Action.UNCHANGED and plan.nodes == ("worker-0",)
    stored["spec"]["template"]["spec"]["containers"][0]["image"] = "old:1"
    assert plan_daemonset(BODY, stored, NODES, tolerate=Tolerate.NONE).action is Action.UPDATE
    created = plan_daemonset(BODY, None, NODES, tolerate=Tolerate.NONE)
    assert created.action is Action.CREATE and created.objects() == [BODY]
    assert "no reboot" in created.describe()
    removal = plan_daemonset(BODY, stored, NODES, tolerate=Tolerate.NONE, enable=False)
    assert removal.action is Action.DELETE
    assert "sctp stays loaded until the next reboot" in removal.describe()


def with_status(**status: int) -> dict[str, Any]:
    found = copy.deepcopy(BODY)
    found["metadata"]["generation"] = 2
    found["status"] = {"observedGeneration": 2, **status}
    return found


def pod(node_name: str, **state: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"loader-{node_name}"},
        "spec": {"nodeName": node_name},
        "status": {"phase": "Running", "containerStatuses": [{"state": state}]},
    }


def test_ready_everywhere_is_done_and_a_failing_pod_ends_it_with_its_node() -> None:
    plan = plan_daemonset(BODY, None, NODES, tolerate=Tolerate.NONE)
    half = daemonset_progress(plan, with_status(desiredNumberScheduled=2, numberReady=1,
                                                updatedNumberScheduled=2), [])  # fmt: skip
    assert not half.finished and half.summary() == "1/2 ready, 2 up to date"
    done = daemonset_progress(plan, with_status(desiredNumberScheduled=2, numberReady=2,
                                                updatedNumberScheduled=2), [])  # fmt: skip
    assert done.done
    crashing = pod(
        "worker-0",
        waiting={"reason": "CrashLoopBackOff", "message": "back-off 10s restarting"},
    )
    crashing["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"exitCode": 1}}
    failed = daemonset_progress(plan, with_status(desiredNumberScheduled=1), [crashing])
    assert failed.finished and not failed.done
    assert failed.failures == (("worker-0", "CrashLoopBackOff: back-off 10s restarting (exit 1)"),)
    removal = plan_daemonset(BODY, BODY, NODES, tolerate=Tolerate.NONE, enable=False)
    assert not daemonset_progress(removal, None, [pod("worker-0")]).done
    assert daemonset_progress(removal, None, []).done
