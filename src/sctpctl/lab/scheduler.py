"""The scheduler: binds each pending pod to a node that can run it.

Filters, in the order the real scheduler reports them: the node is Ready, not cordoned
(``spec.unschedulable``), matches the pod's ``nodeSelector`` (through the one label selector
implementation), and has no ``NoSchedule``/``NoExecute`` taint the pod does not tolerate. Of the
nodes left it picks the one running the fewest pods (spreading, as the default scoring tends to).
A pod that fits nowhere gets ``PodScheduled=False``, reason ``Unschedulable``, with the real
message (``0/3 nodes are available: ...``), and is retried whenever a node or pod changes.

Pods that name their node (``spec.nodeName``) or another scheduler are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sctpctl.lab import events
from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import Registry, timestamp
from sctpctl.netpol.selectors import Selector, SelectorError

log = logging.getLogger(__name__)

PODS = resource("pods")
NODES = resource("nodes")
SCHEDULER_NAME = "default-scheduler"


def node_ready(node: Mapping[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """``v1.Toleration.ToleratesTaint``: key (empty = all keys, with Exists), operator, value,
    effect (empty = all effects)."""
    for toleration in tolerations:
        effect = toleration.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or "Equal"
        if key and key != taint.get("key"):
            continue
        if operator == "Exists":
            return True
        if not key:
            continue
        if (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def unfit_reasons(pod: Mapping[str, Any], node: Mapping[str, Any]) -> list[str]:
    """Why ``pod`` cannot go to ``node`` (empty when it can), in the scheduler's words."""
    spec = pod.get("spec") or {}
    reasons = []
    if not node_ready(node):
        reasons.append("1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
    if (node.get("spec") or {}).get("unschedulable"):
        reasons.append("1 node(s) were unschedulable")
    try:
        selector = Selector.from_match_labels(spec.get("nodeSelector"))
    except SelectorError:
        selector = Selector.nothing()
    if not selector.matches((node.get("metadata") or {}).get("labels")):
        reasons.append("1 node(s) didn't match Pod's node affinity/selector")
    tolerations = spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            value = taint.get("value") or ""
            reasons.append(f"1 node(s) had untolerated taint {{{taint.get('key')}: {value}}}")
    return reasons


def unschedulable_message(pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for node in nodes:
        reasons = unfit_reasons(pod, node)
        if reasons:
            counts[reasons[0]] = counts.get(reasons[0], 0) + 1
    parts = [
        reason.replace("1 node(s)", f"{count} node(s)") for reason, count in sorted(counts.items())
    ]
    return (
        f"0/{len(nodes)} nodes are available: {', '.join(parts)}. preemption: 0/{len(nodes)} "
        "nodes are available: "
        f"{len(nodes)} Preemption is not helpful for scheduling."
    )


def choose(
    pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], load: Mapping[str, int]
) -> str | None:
    fit = [str(n["metadata"]["name"]) for n in nodes if not unfit_reasons(pod, n)]
    if not fit:
        return None
    return min(fit, key=lambda name: (load.get(name, 0), name))


class Scheduler:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def run(self) -> None:
        await reconcile_loop(self.registry, (PODS, NODES), self.schedule_pending, name="scheduler")

    async def schedule_pending(self) -> None:
        pods = self.registry.peek(PODS)
        nodes = self.registry.peek(NODES)
        load: dict[str, int] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                load[node] = load.get(node, 0) + 1
        for pod in pods:
            spec, meta = pod.get("spec") or {}, pod["metadata"]
            if spec.get("nodeName") or meta.get("deletionTimestamp"):
                continue
            if spec.get("schedulerName", SCHEDULER_NAME) != SCHEDULER_NAME:
                continue
            target = choose(pod, nodes, load)
            try:
                if target is None:
                    message = unschedulable_message(pod, nodes)
                    if await self._unschedulable(pod, message):
                        await events.record(
                            self.registry, pod, "FailedScheduling", message,
                            component=SCHEDULER_NAME, warning=True,
                        )  # fmt: skip
                    continue
                await self.registry.bind(meta["namespace"], meta["name"], target)
                load[target] = load.get(target, 0) + 1
                await self._scheduled(pod)
                await events.record(
                    self.registry, pod, "Scheduled",
                    f"Successfully assigned {meta['namespace']}/{meta['name']} to {target}",
                    component=SCHEDULER_NAME,
                )  # fmt: skip
            except StatusError as error:
                if error.code not in (404, 409):
                    raise

    async def _set_condition(self, pod: Mapping[str, Any], condition: dict[str, Any]) -> bool:
        """Set the pod's PodScheduled condition; returns whether it changed."""
        status = dict(pod.get("status") or {})
        others = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        before = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
        )
        if before is not None and all(
            before.get(k) == v for k, v in condition.items() if k != "lastTransitionTime"
        ):
            return False
        await self.registry.patch(
            PODS,
            pod["metadata"]["name"],
            {"status": {"conditions": [*others, condition]}},
            PatchType.MERGE,
            pod["metadata"]["namespace"],
            subresource="status",
        )
        return True

    async def _scheduled(self, pod: Mapping[str, Any]) -> None:
        now = timestamp(self.registry.clock())
        await self._set_condition(
            pod,
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now,
            },
        )

    async def _unschedulable(self, pod: Mapping[str, Any], message: str) -> bool:
        now = timestamp(self.registry.clock())
        return await self._set_condition(
            pod,
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": now,
                "reason": "Unschedulable",
                "message": message,
            },
        )
