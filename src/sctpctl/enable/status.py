"""``sctpctl status``: per node and per pool, is SCTP there?

Per node: its roles and pool, whether the SCTP MachineConfig is applied (the rendered
configurations named by the node's ``currentConfig`` and ``desiredConfig`` annotations are read,
and each is asked whether it makes the node load sctp at boot), and the module state read on the
node by a check pod (:mod:`sctpctl.enable.checkpods`). Per pool: its update state and counts.

Clusters without the MachineConfig operator have no pools; their nodes show ``-`` for the
MachineConfig columns and are judged by the module state alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sctpctl.enable.access import naming
from sctpctl.enable.checkpods import DEFAULT_TIMEOUT, check_nodes
from sctpctl.enable.machineconfigs import has_machineconfig_api
from sctpctl.enable.nodestate import ModuleReport, ModuleState
from sctpctl.enable.openshift import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    MACHINECONFIG,
    MACHINECONFIGS_RESOURCE,
    NODE,
    POOL,
    POOLS_RESOURCE,
    STATE,
    annotations_of,
    condition_is,
    configuration_sources,
    degraded_message,
    enables_sctp,
    is_degraded,
    is_paused,
    is_ready,
    name_of,
    node_roles,
    pool_of,
)
from sctpctl.enable.plan import PlanError
from sctpctl.k8s.client import Client, Obj
from sctpctl.k8s.errors import NotFound
from sctpctl.manifests.verification import DEFAULT_IMAGE
from sctpctl.netpol.selectors import Selector


class Applied(StrEnum):
    """Whether a node's configuration carries SCTP (``currentConfig`` / ``desiredConfig``)."""

    YES = "yes"
    PENDING = "pending"
    "The desired configuration has it, the current one not yet: the rollout has not got here."
    REMOVING = "removing"
    "The current configuration has it, the desired one not: a rollback is under way."
    NO = "no"
    NONE = "-"
    "Not managed by a MachineConfig operator."


class PoolState(StrEnum):
    UPDATED = "Updated"
    UPDATING = "Updating"
    DEGRADED = "Degraded"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    name: str
    roles: tuple[str, ...]
    pool: str | None
    ready: bool
    machineconfig: Applied
    module: ModuleReport
    daemon_state: str = ""
    "The machine-config daemon's ``state`` annotation."

    @property
    def has_sctp(self) -> bool:
        return self.module.state is ModuleState.LOADED

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": list(self.roles),
            "pool": self.pool,
            "ready": self.ready,
            "sctpMachineConfig": self.machineconfig.value,
            "machineConfigState": self.daemon_state or None,
            "module": self.module.to_json(),
        }


@dataclass(frozen=True, slots=True)
class PoolStatus:
    name: str
    state: PoolState
    machines: int
    updated: int
    degraded: int
    sctp: bool
    "Whether the pool's configuration makes its nodes load sctp."
    sources: tuple[str, ...] = ()
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "machineCount": self.machines,
            "updatedMachineCount": self.updated,
            "degradedMachineCount": self.degraded,
            "sctpInConfiguration": self.sctp,
            "sources": list(self.sources),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    openshift: bool
    nodes: tuple[NodeStatus, ...] = ()
    pools: tuple[PoolStatus, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Every selected node has SCTP (and there is at least one)."""
        return bool(self.nodes) and all(n.has_sctp for n in self.nodes)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.module.state.value] = counts.get(node.module.state.value, 0) + 1
        return {
            "machineConfigOperator": self.openshift,
            "ok": self.ok,
            "summary": {"nodes": len(self.nodes), **counts},
            "nodes": [n.to_json() for n in self.nodes],
            "pools": [p.to_json() for p in self.pools],
        }


def pool_state(pool: Obj) -> PoolState:
    if is_degraded(pool):
        return PoolState.DEGRADED
    if is_paused(pool):
        return PoolState.PAUSED
    if condition_is(pool, "Updated"):
        return PoolState.UPDATED
    if condition_is(pool, "Updating"):
        return PoolState.UPDATING
    return PoolState.UNKNOWN


def applied(node: Obj, carries_sctp: Mapping[str, bool]) -> Applied:
    notes = annotations_of(node)
    current, desired = notes.get(CURRENT_CONFIG), notes.get(DESIRED_CONFIG)
    if not current and not desired:
        return Applied.NONE
    now = carries_sctp.get(current or "", False)
    later = carries_sctp.get(desired or current or "", False)
    if now and later:
        return Applied.YES
    if later:
        return Applied.PENDING
    return Applied.REMOVING if now else Applied.NO


def select_nodes(
    nodes: Sequence[Obj], pools: Sequence[Obj], wanted_pools: Sequence[str], selector: str | None
) -> list[Obj]:
    """The nodes in any of ``wanted_pools`` (all when empty) that match ``selector``."""
    chosen = Selector.parse(selector) if selector else Selector.everything()
    every = list(pools)
    return sorted(
        (
            n
            for n in nodes
            if chosen.matches((n.get("metadata") or {}).get("labels"))
            and (not wanted_pools or pool_of(n, every) in wanted_pools)
        ),
        key=name_of,
    )


async def _rendered_carrying_sctp(client: Client, names: set[str]) -> dict[str, bool]:
    found = {}
    for name in sorted(n for n in names if n):
        try:
            with naming("get", MACHINECONFIGS_RESOURCE):
                config = await client.get(*MACHINECONFIG, name)
        except NotFound:
            found[name] = False
            continue
        found[name] = enables_sctp([config])
    return found


async def collect_status(
    client: Client,
    *,
    pools: Sequence[str] = (),
    selector: str | None = None,
    namespace: str | None = None,
    image: str = DEFAULT_IMAGE,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (bounds the check pods)
) -> ClusterStatus:
    """The status of the nodes in ``pools`` (every node when empty) matching ``selector``."""
    openshift = await has_machineconfig_api(client)
    if pools and not openshift:
        raise PlanError(
            "--pool needs MachineConfigPools, and this cluster has no MachineConfig operator "
            "(use -l/--selector to choose nodes)"
        )
    with naming("list", "nodes"):
        every_node = (await client.list(*NODE)).items
    every_pool: list[Obj] = []
    if openshift:
        with naming("list", POOLS_RESOURCE):
            every_pool = (await client.list(*POOL)).items
        unknown = sorted(set(pools) - {name_of(p) for p in every_pool})
        if unknown:
            raise PlanError(f"there is no MachineConfigPool {', '.join(unknown)}")
    nodes = select_nodes(every_node, every_pool, pools, selector)
    ready = [name_of(n) for n in nodes if is_ready(n)]
    reports = dict(
        await check_nodes(client, ready, namespace=namespace, image=image, timeout=timeout)
    )
    configs: set[str] = set()
    for node in nodes:
        notes = annotations_of(node)
        configs.update(notes.get(k, "") for k in (CURRENT_CONFIG, DESIRED_CONFIG))
    shown_pools = [p for p in every_pool if not pools or name_of(p) in pools]
    configs.update(
        str(((p.get("status") or {}).get("configuration") or {}).get("name", ""))
        for p in shown_pools
    )
    carrying = await _rendered_carrying_sctp(client, configs) if openshift else {}
    node_statuses = tuple(
        NodeStatus(
            name=name_of(n),
            roles=node_roles(n),
            pool=pool_of(n, every_pool),
            ready=is_ready(n),
            machineconfig=applied(n, carrying) if openshift else Applied.NONE,
            module=reports.get(name_of(n))
            or ModuleReport.unknown("the node is not Ready, so no check pod can run there"),
            daemon_state=annotations_of(n).get(STATE, ""),
        )
        for n in nodes
    )
    pool_statuses = tuple(
        PoolStatus(
            name=name_of(p),
            state=pool_state(p),
            machines=int((p.get("status") or {}).get("machineCount", 0)),
            updated=int((p.get("status") or {}).get("updatedMachineCount", 0)),
            degraded=int((p.get("status") or {}).get("degradedMachineCount", 0)),
            sctp=carrying.get(
                str(((p.get("status") or {}).get("configuration") or {}).get("name", "")), False
            ),
            sources=configuration_sources(p),
            message=degraded_message(p),
        )
        for p in sorted(shown_pools, key=name_of)
    )
    return ClusterStatus(openshift, node_statuses, pool_statuses)
