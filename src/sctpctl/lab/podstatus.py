"""A pod's status as a real kubelet reports it, from what its containers are doing.

Pure: the kubelet keeps one :class:`ContainerStatus` per container and asks :func:`pod_status`
for the whole ``status``. The shapes follow the kubelet's status manager (and kwok's stages,
reference section 12): conditions ``PodReadyToStartContainers``, ``Initialized``, ``Ready``,
``ContainersReady`` and ``PodScheduled``; a phase of ``Pending`` until every container has been
started once, ``Running`` while any runs or will be restarted, ``Succeeded``/``Failed`` once all
have terminated for good (``restartPolicy`` decides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sctpctl.lab.registry import timestamp


@dataclass
class ContainerStatus:
    name: str
    image: str
    init: bool = False
    restart_count: int = 0
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    last_state: dict[str, Any] = field(default_factory=dict)
    started_once: bool = False

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def terminated(self) -> dict[str, Any] | None:
        terminated = self.state.get("terminated")
        return terminated if isinstance(terminated, dict) else None

    def set_running(self, now: float) -> None:
        self.state = {"running": {"startedAt": timestamp(now)}}
        self.started_once = True

    def set_terminated(self, exit_code: int, now: float, started: float | None) -> None:
        reason = "Completed" if exit_code == 0 else "Error"
        if exit_code in (126, 127, 128) and not self.running:
            reason = "StartError" if exit_code == 128 else "ContainerCannotRun"
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason,
            "finishedAt": timestamp(now),
        }
        if started is not None:
            terminated["startedAt"] = timestamp(started)
        self.state = {"terminated": terminated}

    def set_waiting(self, reason: str, message: str | None = None) -> None:
        waiting: dict[str, Any] = {"reason": reason}
        if message:
            waiting["message"] = message
        self.state = {"waiting": waiting}

    def render(self, *, pod_running: bool) -> dict[str, Any]:
        ready = self.running and pod_running and not self.init
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": ready,
            "restartCount": self.restart_count,
            "started": self.running,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.running:
            status["containerID"] = f"lab://{self.name}-{self.restart_count}"
        return status


def _condition(
    kind: str, ok: bool, now: str, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason and not ok:
        condition["reason"] = reason
    if message and not ok:
        condition["message"] = message
    return condition


def phase(
    containers: Sequence[ContainerStatus], init: Sequence[ContainerStatus], restart_policy: str
) -> str:
    """``Pending``, ``Running``, ``Succeeded`` or ``Failed`` (``getPhase`` in the kubelet)."""
    if any(c.terminated is None or c.terminated.get("exitCode") != 0 for c in init):
        failed = [c for c in init if (c.terminated or {}).get("exitCode", 0) != 0]
        if failed and restart_policy == "Never":
            return "Failed"
        return "Pending"
    if not all(c.started_once or c.terminated is not None for c in containers):
        return "Pending"
    if any(c.running for c in containers):
        return "Running"
    exits = [(c.terminated or {}).get("exitCode", 1) for c in containers]
    if restart_policy == "Always":
        return "Running"
    if restart_policy == "OnFailure" and any(code != 0 for code in exits):
        return "Running"
    return "Succeeded" if all(code == 0 for code in exits) else "Failed"


def pod_status(
    *,
    previous: Mapping[str, Any],
    containers: Sequence[ContainerStatus],
    init: Sequence[ContainerStatus],
    restart_policy: str,
    sandbox_ready: bool,
    host_ip: str,
    pod_ip: str | None,
    started: float,
    now: float,
) -> dict[str, Any]:
    """The ``status`` to publish; transition times are kept from ``previous`` while a condition's
    value does not change."""
    current = phase(containers, init, restart_policy)
    stamp = timestamp(now)
    running = current == "Running"
    unready = [c.name for c in containers if not (c.running and running)]
    initialized = all((c.terminated or {}).get("exitCode") == 0 for c in init)
    if current in ("Succeeded", "Failed"):
        ready_reason = "PodCompleted"
        ready_message = None
    else:
        ready_reason = "ContainersNotReady"
        ready_message = f"containers with unready status: [{' '.join(unready)}]"
    not_initialized = [c.name for c in init if (c.terminated or {}).get("exitCode") != 0]
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready, stamp),
        _condition(
            "Initialized",
            initialized,
            stamp,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(not_initialized)}]",
        ),
        _condition("Ready", not unready, stamp, ready_reason, ready_message),
        _condition("ContainersReady", not unready, stamp, ready_reason, ready_message),
        _condition("PodScheduled", True, stamp),
    ]
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    for condition in conditions:
        before = old.get(condition["type"])
        if before is not None and before.get("status") == condition["status"]:
            condition["lastTransitionTime"] = before.get("lastTransitionTime", stamp)
    status: dict[str, Any] = {
        "phase": current,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": timestamp(started),
        "containerStatuses": [c.render(pod_running=running) for c in containers],
        "qosClass": previous.get("qosClass", "BestEffort"),
    }
    if init:
        status["initContainerStatuses"] = [c.render(pod_running=False) for c in init]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status


BACKOFF_MAX = 300.0
"The kubelet's restart back-off doubles up to five minutes."


def next_backoff(current: float, initial: float) -> float:
    return initial if current <= 0 else min(current * 2, max(BACKOFF_MAX, initial))
