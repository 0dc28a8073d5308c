"""The MachineConfig method against a cluster: read the state, apply a plan, follow the rollout.

The same calls reach an OpenShift cluster and the lab; nothing here knows which it is. The
machine-config API group is the sign of OpenShift (discovery answers whether it is served).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sctpctl.enable.access import Access, check_access, naming
from sctpctl.enable.observe import Snapshot, Watched, observe
from sctpctl.enable.openshift import (
    MACHINECONFIG,
    MACHINECONFIGS_RESOURCE,
    NODE,
    POOL,
    POOLS_RESOURCE,
    labels_of,
    name_of,
)
from sctpctl.enable.plan import Action, MachineConfigState, Plan, PoolChange
from sctpctl.enable.rollout import Goal, Progress, boot_id, is_updating, progress
from sctpctl.k8s.client import Client
from sctpctl.k8s.errors import AlreadyExists, Conflict, NotFound

POOLS_WATCHED = Watched(*POOL)
NODES_WATCHED = Watched(*NODE)


class ChangedMeanwhile(Exception):
    """The object changed between the plan and its application; planning again is safe."""


async def has_machineconfig_api(client: Client) -> bool:
    """Whether the cluster serves MachineConfigPools (OpenShift, or the lab)."""
    try:
        await client.resource(*POOL)
    except NotFound:
        return False
    return True


async def read_state(client: Client) -> MachineConfigState:
    with naming("list", POOLS_RESOURCE):
        pools = (await client.list(*POOL)).items
    with naming("list", "nodes"):
        nodes = (await client.list(*NODE)).items
    with naming("list", MACHINECONFIGS_RESOURCE):
        machineconfigs = (await client.list(*MACHINECONFIG)).items
    return MachineConfigState(pools, nodes, machineconfigs)


_VERBS = {Action.CREATE: "create", Action.UPDATE: "update", Action.DELETE: "delete"}


def needed_access(plan: Plan) -> list[Access]:
    """Every permission applying and following ``plan`` takes."""
    needed = [
        Access(_VERBS[c.action], MACHINECONFIGS_RESOURCE) for c in plan.changes if c.action.changes
    ]
    needed += [Access("watch", POOLS_RESOURCE), Access("watch", "nodes")]
    return list(dict.fromkeys(needed))


async def apply_change(client: Client, change: PoolChange) -> None:
    api_version, kind = MACHINECONFIG
    if change.action is Action.CREATE and change.body is not None:
        with naming("create", MACHINECONFIGS_RESOURCE):
            try:
                await client.create(change.body)
            except AlreadyExists as error:
                raise ChangedMeanwhile(
                    f"MachineConfig {change.name} was created by someone else meanwhile"
                ) from error
    elif change.action is Action.UPDATE and change.body is not None:
        existing = change.existing or {}
        meta = {k: v for k, v in (existing.get("metadata") or {}).items() if k != "managedFields"}
        body: dict[str, Any] = {
            **change.body,
            "metadata": {
                **meta,
                "labels": {**labels_of(existing), **change.body["metadata"]["labels"]},
            },
        }
        with naming("update", MACHINECONFIGS_RESOURCE):
            try:
                await client.replace(body)
            except (Conflict, NotFound) as error:
                raise ChangedMeanwhile(
                    f"MachineConfig {change.name} changed or went away meanwhile"
                ) from error
    elif change.action is Action.DELETE:
        with naming("delete", MACHINECONFIGS_RESOURCE):
            try:
                await client.delete(api_version, kind, change.name)
            except NotFound as error:
                raise ChangedMeanwhile(
                    f"MachineConfig {change.name} was deleted by someone else meanwhile"
                ) from error


async def apply_plan(
    client: Client, plan: Plan, applied: Callable[[PoolChange], None] = lambda _: None
) -> None:
    """Check every permission first, then make the plan's changes one by one."""
    await check_access(client, needed_access(plan))
    for change in plan.changes:
        if change.action.changes:
            await apply_change(client, change)
            applied(change)


@dataclass
class _Follower:
    goals: tuple[Goal, ...]
    report: Callable[[Progress], None]
    last: Progress = field(default_factory=Progress)
    boots: dict[str, str] = field(default_factory=dict)
    "Each updating node's boot ID when its update was first seen."

    def decide(self, snapshot: Snapshot) -> Progress | None:
        nodes = snapshot.objects(NODES_WATCHED)
        for node in nodes:
            if not is_updating(node):
                self.boots.pop(name_of(node), None)
            else:  # a node going down still reports the boot it is leaving
                self.boots.setdefault(name_of(node), boot_id(node))
        self.last = progress(self.goals, snapshot.by_name(POOLS_WATCHED), nodes, self.boots)
        self.report(self.last)
        return self.last if self.last.finished else None


async def follow_rollout(
    client: Client,
    goals: Iterable[Goal],
    *,
    report: Callable[[Progress], None],
    timeout: float | None = None,  # noqa: ASYNC109 (bounds the whole rollout)
) -> Progress:
    """Watch pools and nodes until every goal's pool is done, or one fails.

    ``report`` sees the progress after every change. Raises ``TimeoutError`` when
    ``timeout`` seconds pass first.
    """
    follower = _Follower(tuple(goals), report)
    with naming("watch", f"{POOLS_RESOURCE} and nodes"):
        return await observe(
            client, (POOLS_WATCHED, NODES_WATCHED), follower.decide, timeout=timeout
        )
