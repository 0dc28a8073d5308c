"""The machine-config operator: pools, rendered configs, which node updates next, pool status.

What OpenShift's operator does, for the two pools every cluster has (``master`` and ``worker``):

- **render**: the MachineConfigs a pool's ``machineConfigSelector`` matches, in name order, are
  merged into one ``rendered-<pool>-<md5>`` MachineConfig (a later config's file replaces an
  earlier one at the same path; Ignition 2.2 entries are translated to 3.2). The name is the hash
  of the merged spec, so the same set of files always renders to the same name, and deleting a
  MachineConfig brings the pool back to the rendered config it had before. A source whose
  Ignition version cannot be read makes the pool ``RenderDegraded`` (nothing rolls out); other
  problems travel into the rendered config and the node's daemon refuses it, so the node, and
  through it the pool, goes ``Degraded`` with the reason;
- **roll out**: at most ``maxUnavailable`` (default 1) nodes of a pool are unavailable at a
  time; the operator moves the next nodes' ``desiredConfig`` annotation to the pool's rendered
  config and the node's daemon (:mod:`sctpctl.lab.mcd`) does the rest;
- **status**: ``machineCount``, ``updatedMachineCount``, ``readyMachineCount``,
  ``unavailableMachineCount``, ``degradedMachineCount``, ``configuration`` (name and
  ``source``) and the conditions ``RenderDegraded``, ``NodeDegraded``, ``Degraded``,
  ``Updated`` and ``Updating`` with the operator's messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import MCO, resource
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import Registry, timestamp
from sctpctl.netpol.selectors import Selector, SelectorError
from sctpctl.node.ignition import read_machineconfig

log = logging.getLogger(__name__)

MACHINECONFIGS = resource("machineconfigs", MCO)
POOLS = resource("machineconfigpools", MCO)
NODES = resource("nodes")
API_VERSION = f"{MCO}/v1"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
CURRENT = "machineconfiguration.openshift.io/currentConfig"
DESIRED = "machineconfiguration.openshift.io/desiredConfig"
STATE = "machineconfiguration.openshift.io/state"
REASON = "machineconfiguration.openshift.io/reason"
GENERATED_BY = "machineconfiguration.openshift.io/generated-by-controller-version"
CONTROLLER_VERSION = "sctpctl-lab"
RENDERED_IGNITION = "3.2.0"
POOL_NAMES = ("master", "worker")


class NodeState:
    DONE = "Done"
    WORKING = "Working"
    DEGRADED = "Degraded"


def pool_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineConfigPool",
        "metadata": {
            "name": name,
            "labels": {
                "machineconfiguration.openshift.io/mco-built-in": "",
                f"pools.operator.machineconfiguration.openshift.io/{name}": "",
            },
        },
        "spec": {
            "machineConfigSelector": {"matchLabels": {ROLE_LABEL: name}},
            "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}},
            "paused": False,
        },
    }


def base_config(role: str) -> dict[str, Any]:
    """``00-<role>``: the installer's config of a pool (it writes no file the lab needs)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineConfig",
        "metadata": {"name": f"00-{role}", "labels": {ROLE_LABEL: role}},
        "spec": {"config": {"ignition": {"version": RENDERED_IGNITION}}},
    }


@dataclass(frozen=True)
class Rendered:
    name: str
    config: dict[str, Any]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class RenderFailure:
    message: str


def _selector(obj: Mapping[str, Any], field: str) -> Selector:
    try:
        return Selector.from_label_selector((obj.get("spec") or {}).get(field))
    except SelectorError:
        return Selector.nothing()


def _translate(entry: Mapping[str, Any], major: int) -> dict[str, Any]:
    """A file entry as Ignition 3.2 writes it (2.2's ``filesystem`` goes, its default
    ``overwrite: true`` is made explicit)."""
    translated = {
        k: v for k, v in entry.items() if not (major == 2 and k in ("filesystem", "append"))
    }
    if major == 2:
        translated.setdefault("overwrite", True)
    return translated


def render(
    pool: Mapping[str, Any], configs: Iterable[Mapping[str, Any]]
) -> Rendered | RenderFailure:
    """Merge the pool's MachineConfigs into its rendered config."""
    selector = _selector(pool, "machineConfigSelector")
    chosen = sorted(
        (
            c
            for c in configs
            if not c["metadata"]["name"].startswith("rendered-")
            and selector.matches(c["metadata"].get("labels"))
        ),
        key=lambda c: c["metadata"]["name"],
    )
    files: dict[str, dict[str, Any]] = {}
    for config in chosen:
        reading = read_machineconfig(config)
        if reading.version is None:
            if reading.problems:
                return RenderFailure(
                    f"Failed to render configuration for pool {pool['metadata']['name']}: "
                    f"parsing Ignition config of MachineConfig {config['metadata']['name']} "
                    f"failed: {reading.reason() or reading.problems[0].message}"
                )
            continue
        raw = (((config.get("spec") or {}).get("config") or {}).get("storage") or {}).get("files")
        for entry in raw or []:
            if isinstance(entry, Mapping):
                path = str(entry.get("path", ""))
                files.pop(path, None)
                files[path] = _translate(entry, reading.version.major)
    merged: dict[str, Any] = {"ignition": {"version": RENDERED_IGNITION}}
    if files:
        merged["storage"] = {"files": list(files.values())}
    digest = hashlib.md5(
        json.dumps(merged, sort_keys=True, separators=(",", ":")).encode(), usedforsecurity=False
    ).hexdigest()
    sources = tuple(c["metadata"]["name"] for c in chosen)
    return Rendered(f"rendered-{pool['metadata']['name']}-{digest}", merged, sources)


def rendered_object(pool: Mapping[str, Any], rendered: Rendered) -> dict[str, Any]:
    meta = pool["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineConfig",
        "metadata": {
            "name": rendered.name,
            "annotations": {GENERATED_BY: CONTROLLER_VERSION},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "MachineConfigPool",
                    "name": meta["name"],
                    "uid": meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"config": rendered.config},
    }


def pool_nodes(
    pool: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    selector = _selector(pool, "nodeSelector")
    found = [n for n in nodes if selector.matches(n["metadata"].get("labels"))]
    return sorted(found, key=lambda n: n["metadata"]["name"])


def _annotations(node: Mapping[str, Any]) -> Mapping[str, str]:
    return node["metadata"].get("annotations") or {}


def _ready(node: Mapping[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def is_updated(node: Mapping[str, Any], target: str) -> bool:
    notes = _annotations(node)
    return (
        notes.get(CURRENT) == target
        and notes.get(DESIRED) == target
        and notes.get(STATE) == NodeState.DONE
    )


def is_unavailable(node: Mapping[str, Any]) -> bool:
    """A node being updated, not ready, or cordoned (``getUnavailableMachines``)."""
    notes = _annotations(node)
    return (
        notes.get(CURRENT) != notes.get(DESIRED)
        or notes.get(STATE) in (NodeState.WORKING, NodeState.DEGRADED)
        or not _ready(node)
        or bool((node.get("spec") or {}).get("unschedulable"))
    )


def max_unavailable(pool: Mapping[str, Any], count: int) -> int:
    value = (pool.get("spec") or {}).get("maxUnavailable")
    if value is None:
        return 1
    if isinstance(value, str) and value.endswith("%"):
        return max(1, count * int(value[:-1]) // 100)
    return max(1, int(value))


def next_nodes(
    pool: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], target: str
) -> list[str]:
    """The nodes whose ``desiredConfig`` moves to ``target`` now: every degraded node (so a
    fix reaches it), then others while fewer than ``maxUnavailable`` are unavailable."""
    if (pool.get("spec") or {}).get("paused"):
        return []
    chosen = []
    unavailable = sum(1 for n in nodes if is_unavailable(n))
    budget = max_unavailable(pool, len(nodes)) - unavailable
    for node in nodes:
        notes = _annotations(node)
        if notes.get(DESIRED) == target:
            continue
        if notes.get(STATE) == NodeState.DEGRADED:
            chosen.append(node["metadata"]["name"])
        elif budget > 0 and not is_unavailable(node):
            chosen.append(node["metadata"]["name"])
            budget -= 1
    return chosen


def _condition(
    kind: str, ok: bool, previous: Mapping[str, Any], now: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = next((c for c in previous.get("conditions") or [] if c.get("type") == kind), None)
    since = (
        before.get("lastTransitionTime", now) if before and before.get("status") == status else now
    )
    return {
        "type": kind,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def pool_status(
    pool: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    rendered: Rendered | None,
    failure: RenderFailure | None,
    now: float,
) -> dict[str, Any]:
    previous = pool.get("status") or {}
    stamp = timestamp(now)
    target = rendered.name if rendered else (previous.get("configuration") or {}).get("name", "")
    updated = [n for n in nodes if is_updated(n, target)]
    ready = [n for n in updated if _ready(n) and not (n.get("spec") or {}).get("unschedulable")]
    degraded = [n for n in nodes if _annotations(n).get(STATE) == NodeState.DEGRADED]
    unavailable = [n for n in nodes if is_unavailable(n)]
    all_updated = len(updated) == len(nodes)
    node_message = ""
    if degraded:
        first = degraded[0]
        reason = _annotations(first).get(REASON, "")
        node_message = f'Node {first["metadata"]["name"]} is reporting: "{reason}"'
    degraded_message = failure.message if failure else node_message
    conditions = [
        _condition(
            "RenderDegraded",
            failure is not None,
            previous,
            stamp,
            "",
            failure.message if failure else "",
        ),
        _condition(
            "NodeDegraded",
            bool(degraded),
            previous,
            stamp,
            f"{len(degraded)} nodes are reporting degraded status on sync" if degraded else "",
            node_message,
        ),
        _condition(
            "Degraded", failure is not None or bool(degraded), previous, stamp, "", degraded_message
        ),
        _condition(
            "Updated",
            all_updated and not degraded,
            previous,
            stamp,
            "",
            f"All nodes are updated with MachineConfig {target}" if all_updated else "",
        ),
        _condition(
            "Updating",
            not all_updated,
            previous,
            stamp,
            "",
            f"All nodes are updating to MachineConfig {target}" if not all_updated else "",
        ),
    ]
    status: dict[str, Any] = {
        "observedGeneration": pool["metadata"].get("generation", 1),
        "machineCount": len(nodes),
        "updatedMachineCount": len(updated),
        "readyMachineCount": len(ready),
        "unavailableMachineCount": len(unavailable),
        "degradedMachineCount": len(degraded),
        "conditions": conditions,
    }
    if rendered is not None:
        status["configuration"] = {
            "name": rendered.name,
            "source": [
                {"apiVersion": API_VERSION, "kind": "MachineConfig", "name": s}
                for s in rendered.sources
            ],
        }
    elif previous.get("configuration"):
        status["configuration"] = previous["configuration"]
    return status


class MachineConfigOperator:
    """Renders pools, moves nodes' ``desiredConfig`` and keeps pool status current."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def bootstrap(self) -> None:
        """The pools and their base configs, as an installed cluster has them."""
        for name in POOL_NAMES:
            for rt, body in ((POOLS, pool_object(name)), (MACHINECONFIGS, base_config(name))):
                with contextlib.suppress(StatusError):  # 409: kept from an earlier run
                    await self.registry.create(rt, body)
        await self.reconcile()

    async def run(self) -> None:
        await reconcile_loop(
            self.registry,
            (MACHINECONFIGS, POOLS, NODES),
            self.reconcile,
            name="machine-config-operator",
        )

    async def reconcile(self) -> None:
        registry = self.registry
        configs = registry.peek(MACHINECONFIGS)
        nodes = registry.peek(NODES)
        existing = {c["metadata"]["name"] for c in configs}
        for pool in registry.peek(POOLS):
            result = render(pool, configs)
            rendered = result if isinstance(result, Rendered) else None
            failure = result if isinstance(result, RenderFailure) else None
            if rendered is not None and rendered.name not in existing:
                await registry.create(MACHINECONFIGS, rendered_object(pool, rendered))
                existing.add(rendered.name)
            members = pool_nodes(pool, nodes)
            if rendered is not None:
                await self._roll(pool, members, rendered.name)
                members = pool_nodes(pool, registry.peek(NODES))
            status = pool_status(pool, members, rendered, failure, registry.clock())
            if status != pool.get("status"):
                await registry.patch(
                    POOLS,
                    pool["metadata"]["name"],
                    {"status": status},
                    PatchType.MERGE,
                    subresource="status",
                )

    async def _roll(
        self, pool: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], target: str
    ) -> None:
        for node in nodes:
            notes = _annotations(node)
            if CURRENT not in notes:
                # A node that joins the pool is installed with the pool's current config.
                await self._annotate(
                    node["metadata"]["name"],
                    {CURRENT: target, DESIRED: target, STATE: NodeState.DONE, REASON: ""},
                )
        for name in next_nodes(pool, nodes, target):
            await self._annotate(name, {DESIRED: target})

    async def _annotate(self, node: str, annotations: Mapping[str, str]) -> None:
        await self.registry.patch(
            NODES, node, {"metadata": {"annotations": dict(annotations)}}, PatchType.MERGE
        )
