"""Where a pool's rollout stands, as a pure function of the pool and its nodes.

The end of a rollout is the one reference section 1.2 names: the pool's condition
``Updated=True`` with the expected MachineConfigs in ``status.configuration.source`` (and every
machine counted as updated). Stale status cannot pass for it: right after a MachineConfig is
created the pool still says ``Updated=True`` for its old configuration, whose sources lack the new
name; right after one is deleted, the old sources still list it. A changed MachineConfig keeps its
name, so a :class:`Goal` can also require that the configuration is no longer the one the pool had
before the change.

Per node, the daemon's annotations and the Node's own state tell the phase: ``draining`` (the
update started and the node is cordoned), ``rebooting`` (the update started and the node is not
Ready), ``updating`` (started, neither yet), ``updated``, ``waiting`` (its turn has not come: at
most ``maxUnavailable`` nodes update at a time) and ``degraded`` (with the daemon's reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sctpctl.enable.openshift import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    REASON,
    STATE,
    MachineState,
    Obj,
    annotations_of,
    condition_is,
    configuration_name,
    configuration_sources,
    degraded_message,
    is_cordoned,
    is_degraded,
    is_paused,
    is_ready,
    name_of,
    pool_members,
)


@dataclass(frozen=True, slots=True)
class Goal:
    """What the pool's configuration must look like for the rollout to be over."""

    pool: str
    present: frozenset[str] = frozenset()
    "MachineConfigs that must be among the configuration's sources (enable)."
    absent: frozenset[str] = frozenset()
    "MachineConfigs that must not be among them (disable)."
    not_configuration: str = ""
    "A rendered configuration the pool must have left (a MachineConfig changed in place)."

    def met_by(self, name: str, sources: Iterable[str]) -> bool:
        listed = set(sources)
        return (
            bool(name)
            and self.present <= listed
            and not (self.absent & listed)
            and name != self.not_configuration
        )


class NodePhase(StrEnum):
    UPDATED = "updated"
    WAITING = "waiting"
    UPDATING = "updating"
    DRAINING = "draining"
    REBOOTING = "rebooting"
    DEGRADED = "degraded"


BUSY = frozenset({NodePhase.UPDATING, NodePhase.DRAINING, NodePhase.REBOOTING})


class PoolOutcome(StrEnum):
    IN_PROGRESS = "in-progress"
    DONE = "done"
    DEGRADED = "degraded"
    PAUSED = "paused"
    MISSING = "missing"

    @property
    def failed(self) -> bool:
        return self in (PoolOutcome.DEGRADED, PoolOutcome.PAUSED, PoolOutcome.MISSING)


@dataclass(frozen=True, slots=True)
class NodeProgress:
    name: str
    phase: NodePhase
    reason: str = ""
    "The daemon's reason for a degraded node."


@dataclass(frozen=True, slots=True)
class PoolProgress:
    pool: str
    outcome: PoolOutcome
    nodes: tuple[NodeProgress, ...] = ()
    target: str = ""
    "The rendered configuration the nodes move to, once the operator has produced it."
    message: str = ""
    "The pool's own words when it is degraded, paused or gone."

    @property
    def total(self) -> int:
        return len(self.nodes)

    @property
    def updated(self) -> int:
        return sum(1 for n in self.nodes if n.phase is NodePhase.UPDATED)

    @property
    def busy(self) -> tuple[NodeProgress, ...]:
        return tuple(n for n in self.nodes if n.phase in BUSY)

    @property
    def degraded_nodes(self) -> tuple[NodeProgress, ...]:
        return tuple(n for n in self.nodes if n.phase is NodePhase.DEGRADED)

    def activity(self) -> str:
        """What is happening now: ``worker-1 rebooting``, ``done``, ``degraded: <why>``."""
        if self.outcome is PoolOutcome.DONE:
            return "done"
        if self.outcome is not PoolOutcome.IN_PROGRESS:
            return self.outcome.value + (f": {self.message}" if self.message else "")
        busy = self.busy
        if busy:
            return ", ".join(f"{n.name} {n.phase.value}" for n in busy)
        if not self.target:
            return "waiting for the operator to render the new configuration"
        return "waiting for the next node"

    def summary(self) -> str:
        """One line: ``worker: 1/2 updated; worker-1 rebooting``."""
        return f"{self.pool}: {self.updated}/{self.total} updated; {self.activity()}"


@dataclass(frozen=True, slots=True)
class Progress:
    pools: tuple[PoolProgress, ...] = field(default=())

    @property
    def done(self) -> bool:
        return all(p.outcome is PoolOutcome.DONE for p in self.pools)

    @property
    def failed(self) -> tuple[PoolProgress, ...]:
        return tuple(p for p in self.pools if p.outcome.failed)

    @property
    def finished(self) -> bool:
        return self.done or bool(self.failed)


def _target(goal: Goal, pool: Obj) -> str:
    """The rendered configuration the pool moves to for this goal: ``spec.configuration`` on
    OpenShift (``status`` follows only when every node is updated), or ``status`` where the
    operator writes both at once."""
    for where in ("spec", "status"):
        name = configuration_name(pool, where)
        if goal.met_by(name, configuration_sources(pool, where)):
            return name
    return ""


def boot_id(node: Obj) -> str:
    return str(((node.get("status") or {}).get("nodeInfo") or {}).get("bootID", ""))


def is_updating(node: Obj) -> bool:
    notes = annotations_of(node)
    return notes.get(CURRENT_CONFIG, "") != notes.get(DESIRED_CONFIG, "")


def node_phase(node: Obj, target: str, boot_before: str = "") -> NodeProgress:
    """The node's phase; ``boot_before`` is its boot ID when its update was first seen, which
    tells a node back from its reboot (still cordoned, about to finish) from one draining."""
    notes = annotations_of(node)
    current, desired = notes.get(CURRENT_CONFIG, ""), notes.get(DESIRED_CONFIG, "")
    name = name_of(node)
    if notes.get(STATE) == MachineState.DEGRADED:
        return NodeProgress(name, NodePhase.DEGRADED, notes.get(REASON, ""))
    if target and current == desired == target and notes.get(STATE) == MachineState.DONE:
        return NodeProgress(name, NodePhase.UPDATED)
    if current != desired:
        if not is_ready(node):
            return NodeProgress(name, NodePhase.REBOOTING)
        rebooted = bool(boot_before) and boot_id(node) != boot_before
        if is_cordoned(node) and not rebooted:
            return NodeProgress(name, NodePhase.DRAINING)
        return NodeProgress(name, NodePhase.UPDATING)
    return NodeProgress(name, NodePhase.WAITING)


def pool_progress(
    goal: Goal,
    pool: Obj | None,
    pools: Iterable[Obj],
    nodes: Iterable[Obj],
    boots: Mapping[str, str] | None = None,
) -> PoolProgress:
    if pool is None:
        return PoolProgress(goal.pool, PoolOutcome.MISSING, message="the pool no longer exists")
    target = _target(goal, pool)
    before = boots or {}
    members = tuple(
        node_phase(n, target, before.get(name_of(n), "")) for n in pool_members(pool, pools, nodes)
    )
    status = pool.get("status") or {}
    finished = (
        condition_is(pool, "Updated")
        and goal.met_by(configuration_name(pool), configuration_sources(pool))
        and status.get("updatedMachineCount", len(members))
        == status.get("machineCount", 0)
        == len(members)
        and all(n.phase is NodePhase.UPDATED for n in members)
    )
    if finished:
        return PoolProgress(goal.pool, PoolOutcome.DONE, members, target)
    if is_degraded(pool) or any(n.phase is NodePhase.DEGRADED for n in members):
        return PoolProgress(
            goal.pool, PoolOutcome.DEGRADED, members, target, degraded_message(pool)
        )
    if is_paused(pool):
        return PoolProgress(
            goal.pool,
            PoolOutcome.PAUSED,
            members,
            target,
            "the pool is paused: nothing rolls out until spec.paused is false",
        )
    return PoolProgress(goal.pool, PoolOutcome.IN_PROGRESS, members, target)


def progress(
    goals: Iterable[Goal],
    pools: Mapping[str, Obj],
    nodes: Iterable[Obj],
    boots: Mapping[str, str] | None = None,
) -> Progress:
    """Every goal's pool, from the pools by name and all nodes (``boots``: see
    :func:`node_phase`)."""
    every_node = list(nodes)
    every_pool = list(pools.values())
    return Progress(
        tuple(pool_progress(g, pools.get(g.pool), every_pool, every_node, boots) for g in goals)
    )
