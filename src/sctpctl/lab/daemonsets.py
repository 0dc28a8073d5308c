"""DaemonSets: one pod per node that matches, kept there through cordons, drains and reboots.

For every DaemonSet the controller computes the nodes that should run its pod (the template's
``nodeSelector`` through the one selector implementation, and the node's ``NoSchedule`` taints
against the template's tolerations); it creates a pod bound to each such node that has none,
deletes pods on nodes that no longer qualify and pods that failed (to be replaced), deletes the
pods of DaemonSets that are gone, and writes the DaemonSet status counts. Its pods carry the
tolerations the real controller adds (not-ready, unreachable, unschedulable, pressure), so a
cordoned or rebooting node keeps them, and the machine-config daemon's drain leaves them alone.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import Registry
from sctpctl.lab.scheduler import tolerates
from sctpctl.netpol.selectors import Selector, SelectorError

log = logging.getLogger(__name__)

DAEMONSETS = resource("daemonsets", "apps")
PODS = resource("pods")
NODES = resource("nodes")

DAEMON_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)


def revision_hash(daemon_set: Mapping[str, Any]) -> str:
    template = (daemon_set.get("spec") or {}).get("template") or {}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def eligible(daemon_set: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    spec = ((daemon_set.get("spec") or {}).get("template") or {}).get("spec") or {}
    try:
        selector = Selector.from_match_labels(spec.get("nodeSelector"))
    except SelectorError:
        return False
    if not selector.matches(node["metadata"].get("labels")):
        return False
    tolerations = [*(spec.get("tolerations") or []), *DAEMON_TOLERATIONS]
    return all(
        tolerates(tolerations, taint)
        for taint in (node.get("spec") or {}).get("taints") or []
        if taint.get("effect") in ("NoSchedule", "NoExecute")
    )


def pod_for(daemon_set: Mapping[str, Any], node: str) -> dict[str, Any]:
    meta = daemon_set["metadata"]
    template = copy.deepcopy((daemon_set.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    spec["nodeName"] = node
    tolerations = spec.setdefault("tolerations", [])
    for toleration in DAEMON_TOLERATIONS:
        if toleration not in tolerations:
            tolerations.append(dict(toleration))
    labels = dict(template_meta.get("labels") or {})
    labels["controller-revision-hash"] = revision_hash(daemon_set)
    labels["pod-template-generation"] = str(meta.get("generation", 1))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{meta['name']}-",
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }


def _owner(pod: Mapping[str, Any]) -> str | None:
    for owner in pod["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == "DaemonSet" and owner.get("controller"):
            return str(owner.get("uid"))
    return None


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def daemon_set_status(
    daemon_set: Mapping[str, Any],
    wanted: Sequence[str],
    pods: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    on = {(p.get("spec") or {}).get("nodeName") for p in pods}
    ready = [p for p in pods if _pod_ready(p)]
    current = revision_hash(daemon_set)
    updated = [
        p
        for p in pods
        if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == current
    ]
    return {
        "currentNumberScheduled": len([n for n in wanted if n in on]),
        "desiredNumberScheduled": len(wanted),
        "numberMisscheduled": len([n for n in on if n not in wanted]),
        "numberReady": len(ready),
        "numberAvailable": len(ready),
        "numberUnavailable": max(0, len(wanted) - len(ready)),
        "updatedNumberScheduled": len(updated),
        "observedGeneration": daemon_set["metadata"].get("generation", 1),
    }


class DaemonSetController:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def run(self) -> None:
        await reconcile_loop(
            self.registry, (DAEMONSETS, PODS, NODES), self.reconcile, name="daemonsets"
        )

    async def reconcile(self) -> None:
        registry = self.registry
        daemon_sets = registry.peek(DAEMONSETS)
        nodes = registry.peek(NODES)
        pods = registry.peek(PODS)
        owned: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            owner = _owner(pod)
            if owner is not None:
                owned.setdefault(owner, []).append(pod)
        known = set()
        for daemon_set in daemon_sets:
            meta = daemon_set["metadata"]
            known.add(meta["uid"])
            if meta.get("deletionTimestamp"):
                continue
            wanted = [n["metadata"]["name"] for n in nodes if eligible(daemon_set, n)]
            mine = [
                p for p in owned.get(meta["uid"], []) if not p["metadata"].get("deletionTimestamp")
            ]
            for pod in mine:
                node = (pod.get("spec") or {}).get("nodeName")
                failed = (pod.get("status") or {}).get("phase") == "Failed"
                if node not in wanted or failed:
                    await self._delete(pod)
            present = {
                (p.get("spec") or {}).get("nodeName")
                for p in mine
                if (p.get("status") or {}).get("phase") != "Failed"
            }
            for node in wanted:
                if node not in present:
                    await registry.create(PODS, pod_for(daemon_set, node), meta["namespace"])
            live = [p for p in mine if (p.get("spec") or {}).get("nodeName") in wanted]
            status = daemon_set_status(daemon_set, wanted, live)
            if status != daemon_set.get("status"):
                with contextlib.suppress(StatusError):
                    await registry.patch(
                        DAEMONSETS, meta["name"], {"status": status}, PatchType.MERGE,
                        meta["namespace"], subresource="status",
                    )  # fmt: skip
        # Pods whose DaemonSet is gone go with it (the garbage collector's cascade).
        for uid, orphans in owned.items():
            if uid not in known:
                for pod in orphans:
                    if not pod["metadata"].get("deletionTimestamp"):
                        await self._delete(pod)

    async def _delete(self, pod: Mapping[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            await self.registry.delete(PODS, meta["name"], meta["namespace"])
        except StatusError as error:
            if error.code != 404:
                raise
