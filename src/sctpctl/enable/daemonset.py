"""The DaemonSet method, for clusters without a MachineConfig operator (``--method daemonset``).

``enable`` applies the DaemonSet of ``sctpctl render daemonset`` (server-side apply, field
manager ``sctpctl``) and waits until it runs, up to date and Ready, on every node it selects:
Ready means ``/sys/module/sctp/initstate`` reads ``live`` there. No node reboots. A pod that
fails (a kernel without the module, an image that cannot be pulled) ends the wait with the node
and the reason.

``disable`` deletes the DaemonSet. What its pods changed on the nodes stays: the module stays
loaded until the next reboot, ``/etc/modules-load.d/sctp.conf`` keeps loading it at boot, and
the blacklist lines it commented out stay commented; the plan says so before anything happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sctpctl.enable.access import Access, check_access, naming
from sctpctl.enable.checkpods import WAITING_FAILURES
from sctpctl.enable.observe import Snapshot, Watched, observe
from sctpctl.enable.openshift import Obj, labels_of, name_of
from sctpctl.enable.plan import Action, PlanError
from sctpctl.k8s.client import Client
from sctpctl.k8s.errors import NotFound
from sctpctl.manifests.daemonset import NAME_LABEL, Tolerate
from sctpctl.netpol.selectors import Selector, SelectorError

DAEMONSET = ("apps/v1", "DaemonSet")
RESOURCE = "daemonsets.apps"
LEFT_ON_NODES = (
    "the nodes keep what its pods did: sctp stays loaded until the next reboot, and "
    "/etc/modules-load.d/sctp.conf (with the blacklist lines it commented out in "
    "/etc/modprobe.d) keeps loading it at boot; remove that file and uncomment those lines to "
    "undo it"
)
CONTROL_PLANE_TAINTS = frozenset(
    {"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}
)


def runs_on(node: Obj, daemon_set: Obj, tolerate: Tolerate) -> bool:
    """Whether the DaemonSet puts a pod on ``node``: its node selector, and the NoSchedule and
    NoExecute taints that ``tolerate`` covers."""
    spec = ((daemon_set.get("spec") or {}).get("template") or {}).get("spec") or {}
    try:
        selector = Selector.from_match_labels(spec.get("nodeSelector"))
    except SelectorError:
        return False
    if not selector.matches(labels_of(node)):
        return False
    taints = [
        t
        for t in (node.get("spec") or {}).get("taints") or []
        if t.get("effect") in ("NoSchedule", "NoExecute")
    ]
    if tolerate is Tolerate.ALL:
        return True
    if tolerate is Tolerate.CONTROL_PLANE:
        return all(t.get("key") in CONTROL_PLANE_TAINTS for t in taints)
    return not taints


def _contains(existing: Any, wanted: Any) -> bool:
    """Whether ``existing`` has every field of ``wanted`` with the same value (the server adds
    defaults, so the stored object is a superset of what was applied)."""
    if isinstance(wanted, Mapping):
        return isinstance(existing, Mapping) and all(
            k in existing and _contains(existing[k], v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(existing, list)
            and len(existing) == len(wanted)
            and all(_contains(e, w) for e, w in zip(existing, wanted, strict=True))
        )
    return bool(existing == wanted)


@dataclass(frozen=True, slots=True)
class DaemonSetPlan:
    enable: bool
    action: Action
    name: str
    namespace: str
    nodes: tuple[str, ...]
    "The nodes it runs (or would run) on."
    body: Obj | None = None
    existing: Obj | None = None

    @property
    def changes_anything(self) -> bool:
        return self.action.changes

    def describe(self) -> str:
        where = f"DaemonSet {self.namespace}/{self.name}"
        count = len(self.nodes)
        nodes = f"{count} node{'s' if count != 1 else ''}" + (
            f" ({', '.join(self.nodes)})" if 0 < count <= 8 else ""
        )
        match self.action:
            case Action.CREATE | Action.UPDATE:
                return (
                    f"{self.action.value} {where}: a privileged pod on each of {nodes} unblocks, "
                    "persists and loads sctp now (no reboot)"
                )
            case Action.UNCHANGED:
                return f"{where} is already as rendered on {nodes}; no change"
            case Action.DELETE:
                return f"delete {where}; {LEFT_ON_NODES}"
            case _:
                return f"there is no {where}; nothing to remove"

    def check_watchable(self) -> None:
        """Raise :class:`PlanError` when there is nothing an earlier run started to follow."""
        if self.action is Action.CREATE:
            raise PlanError(
                f"DaemonSet {self.namespace}/{self.name} does not exist; run enable without "
                "--watch-only"
            )
        if self.action is Action.DELETE:
            raise PlanError(
                f"DaemonSet {self.namespace}/{self.name} still exists; run disable without "
                "--watch-only"
            )

    def objects(self) -> list[Obj]:
        if self.action in (Action.CREATE, Action.UPDATE) and self.body is not None:
            return [self.body]
        if self.action is Action.DELETE and self.existing is not None:
            return [self.existing]
        return []


def plan_daemonset(
    body: Obj,
    existing: Obj | None,
    nodes: Sequence[Obj],
    *,
    tolerate: Tolerate,
    enable: bool = True,
) -> DaemonSetPlan:
    meta = body["metadata"]
    on = tuple(sorted(name_of(n) for n in nodes if runs_on(n, body, tolerate)))
    if enable:
        if existing is None:
            action = Action.CREATE
        elif _contains(existing.get("spec"), body["spec"]):
            action = Action.UNCHANGED
        else:
            action = Action.UPDATE
    else:
        action = Action.DELETE if existing is not None else Action.ABSENT
    return DaemonSetPlan(enable, action, meta["name"], meta["namespace"], on, body, existing)


async def read_daemonset(client: Client, name: str, namespace: str) -> Obj | None:
    try:
        with naming("get", RESOURCE, namespace):
            return await client.get(*DAEMONSET, name, namespace=namespace)
    except NotFound:
        return None


async def apply_daemonset(client: Client, plan: DaemonSetPlan) -> None:
    # server-side apply is a patch, and a create as well when the object does not exist yet
    verbs = {Action.CREATE: ("create", "patch"), Action.UPDATE: ("patch",)}.get(
        plan.action, ("delete",)
    )
    await check_access(
        client,
        [
            *(Access(verb, RESOURCE, plan.namespace) for verb in verbs),
            Access("watch", RESOURCE, plan.namespace),
            Access("watch", "pods", plan.namespace),
        ],
    )
    if plan.action in (Action.CREATE, Action.UPDATE) and plan.body is not None:
        with naming("patch", RESOURCE, plan.namespace):
            await client.apply(dict(plan.body), force=True)
    elif plan.action is Action.DELETE:
        with naming("delete", RESOURCE, plan.namespace):
            await client.delete(*DAEMONSET, plan.name, namespace=plan.namespace)


@dataclass(frozen=True, slots=True)
class DaemonSetProgress:
    desired: int
    ready: int
    updated: int
    done: bool
    failures: tuple[tuple[str, str], ...] = ()
    "(node, reason) of pods that failed."

    @property
    def finished(self) -> bool:
        return self.done or bool(self.failures)

    def summary(self) -> str:
        if self.failures:
            return "failed on " + "; ".join(f"{node}: {why}" for node, why in self.failures)
        return f"{self.ready}/{self.desired} ready, {self.updated} up to date" + (
            ", done" if self.done else ""
        )


def _pod_failure(pod: Obj) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in WAITING_FAILURES:
            last = (status.get("lastState") or {}).get("terminated") or {}
            return (
                f"{waiting['reason']}"
                + (f": {waiting['message']}" if waiting.get("message") else "")
                + (f" (exit {last.get('exitCode')})" if last else "")
            )
        terminated = state.get("terminated") or {}
        if terminated and terminated.get("exitCode"):
            return f"exited {terminated['exitCode']}" + (
                f": {terminated['message']}" if terminated.get("message") else ""
            )
    if (pod.get("status") or {}).get("phase") == "Failed":
        return str((pod.get("status") or {}).get("message") or "the pod failed")
    return ""


def daemonset_progress(
    plan: DaemonSetPlan, daemon_set: Obj | None, pods: Sequence[Obj]
) -> DaemonSetProgress:
    if not plan.enable:
        gone = daemon_set is None and not pods
        return DaemonSetProgress(0, 0, 0, gone)
    if daemon_set is None:
        return DaemonSetProgress(len(plan.nodes), 0, 0, False)
    status = daemon_set.get("status") or {}
    desired = int(status.get("desiredNumberScheduled", 0))
    ready = int(status.get("numberReady", 0))
    updated = int(status.get("updatedNumberScheduled", 0))
    observed = int(status.get("observedGeneration", 0)) >= int(
        (daemon_set.get("metadata") or {}).get("generation", 1)
    )
    failures = tuple(
        sorted(
            (str((p.get("spec") or {}).get("nodeName", "?")), why)
            for p in pods
            if (why := _pod_failure(p))
        )
    )
    done = observed and desired == ready == updated and not failures
    return DaemonSetProgress(desired, ready, updated, done, failures)


async def follow_daemonset(
    client: Client,
    plan: DaemonSetPlan,
    *,
    report: Callable[[DaemonSetProgress], None],
    timeout: float | None = None,  # noqa: ASYNC109 (bounds the whole wait)
) -> DaemonSetProgress:
    """Watch the DaemonSet and its pods until it is ready everywhere (or gone, for disable)."""
    sets = Watched(*DAEMONSET, plan.namespace, field_selector=f"metadata.name={plan.name}")
    pods = Watched("v1", "Pod", plan.namespace, label_selector=f"{NAME_LABEL}={plan.name}")

    def decide(snapshot: Snapshot) -> DaemonSetProgress | None:
        found = snapshot.by_name(sets).get(plan.name)
        current = daemonset_progress(plan, found, snapshot.objects(pods))
        report(current)
        return current if current.finished else None

    with naming("watch", f"{RESOURCE} and pods", plan.namespace):
        return await observe(client, (sets, pods), decide, timeout=timeout)
