"""What ``enable`` and ``disable`` will do to each pool, decided before anything changes.

A plan is a pure function of the cluster's pools, nodes and MachineConfigs. Per pool it names the
MachineConfig sctpctl manages there (``load-sctp-module`` for ``worker``, as in the procedure;
``load-sctp-module-<pool>`` for others) and one action:

- ``create`` / ``update``: the object differs from what ``sctpctl render machineconfig`` gives (or
  is missing); every node of the pool will be drained and rebooted;
- ``unchanged``: it exists with the rendered spec, so enabling again changes and reboots nothing;
- ``provided``: other MachineConfigs of the pool already make the node load sctp (a hand-made
  copy, or a custom pool inheriting the worker's), so adding another would only reboot the pool;
- ``delete`` / ``absent``: for ``disable``, whether the managed MachineConfig exists.

Specs are compared as the API returns them; ``--ignition`` left out keeps the version of an
existing object (so the 3.1.0 and 2.2.0 publications of the procedure are not "updated" into
3.2.0, which would reboot a pool to write the same two files).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sctpctl.enable.openshift import (
    Obj,
    configuration_name,
    degraded_message,
    is_degraded,
    is_paused,
    labels_of,
    max_unavailable,
    merged_files,
    name_of,
    pool_members,
    pool_role,
    sctp_effect,
    selects,
    sources_of,
)
from sctpctl.enable.rollout import Goal
from sctpctl.node.ignition import IgnitionVersion, read_machineconfig
from sctpctl.node.machineconfig import (
    DEFAULT_IGNITION,
    DEFAULT_NAME,
    RENDERABLE_VERSIONS,
    ROLE_LABEL,
    render_sctp_machineconfig,
)
from sctpctl.node.modules import BootState

DEFAULT_POOLS = ("worker",)


class PlanError(ValueError):
    """The request does not fit the cluster (an unknown pool, a pool without a role)."""


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    PROVIDED = "provided"
    DELETE = "delete"
    ABSENT = "absent"

    @property
    def changes(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE, Action.DELETE)


@dataclass(frozen=True, slots=True)
class MachineConfigState:
    """What the plan is made from: the cluster's pools, nodes and MachineConfigs."""

    pools: Sequence[Obj]
    nodes: Sequence[Obj]
    machineconfigs: Sequence[Obj]

    def pool(self, name: str) -> Obj:
        for pool in self.pools:
            if name_of(pool) == name:
                return pool
        known = ", ".join(sorted(name_of(p) for p in self.pools)) or "none"
        raise PlanError(f"there is no MachineConfigPool {name!r} (pools: {known})")

    def machineconfig(self, name: str) -> Obj | None:
        return next((m for m in self.machineconfigs if name_of(m) == name), None)


@dataclass(frozen=True, slots=True)
class PoolChange:
    pool: str
    name: str
    "The MachineConfig sctpctl manages for this pool."
    action: Action
    nodes: tuple[str, ...]
    role: str = ""
    body: dict[str, Any] | None = None
    "The object to create or to replace the existing one with."
    existing: Obj | None = None
    provided_by: tuple[str, ...] = ()
    "Other MachineConfigs that enable SCTP on the pool (or keep it enabled after a delete)."
    warnings: tuple[str, ...] = ()
    before: str = ""
    "The pool's rendered configuration before the change."
    max_unavailable: str = "1"

    @property
    def reboots(self) -> int:
        return len(self.nodes) if self.action.changes else 0

    def goal(self) -> Goal | None:
        """What the pool's configuration must show once this change has rolled out."""
        if self.action in (Action.CREATE, Action.UNCHANGED):
            return Goal(self.pool, present=frozenset({self.name}))
        if self.action is Action.UPDATE:
            return Goal(self.pool, frozenset({self.name}), not_configuration=self.before)
        if self.action is Action.PROVIDED:
            return Goal(self.pool, present=frozenset(self.provided_by))
        if self.action is Action.DELETE:
            return Goal(self.pool, absent=frozenset({self.name}))
        return None

    def describe(self) -> str:
        """One sentence for the plan printed before anything happens."""
        count = len(self.nodes)
        nodes = f"{count} node{'s' if count != 1 else ''}"
        listed = f" ({', '.join(self.nodes)})" if 0 < count <= 8 else ""
        reboot = (
            f"{nodes}{listed} will be drained and rebooted, "
            f"{self.max_unavailable} at a time (maxUnavailable)"
        )
        version = _version_of(self.body) if self.body is not None else ""
        match self.action:
            case Action.CREATE:
                what = f"create MachineConfig {self.name} (role {self.role}, Ignition {version})"
            case Action.UPDATE:
                what = (
                    f"update MachineConfig {self.name}: its spec differs from the rendered one "
                    f"(role {self.role}, Ignition {version})"
                )
            case Action.DELETE:
                what = f"delete MachineConfig {self.name}"
            case Action.UNCHANGED:
                return (
                    f"pool {self.pool}: MachineConfig {self.name} is already as rendered; "
                    f"no change, no reboot ({nodes})"
                )
            case Action.PROVIDED:
                return (
                    f"pool {self.pool}: SCTP is already enabled by MachineConfig "
                    f"{', '.join(self.provided_by)}; no change, no reboot ({nodes})"
                )
            case Action.ABSENT:
                return f"pool {self.pool}: there is no MachineConfig {self.name}; nothing to remove"
        return f"pool {self.pool}: {what}; {reboot}"


@dataclass(frozen=True, slots=True)
class Plan:
    enable: bool
    changes: tuple[PoolChange, ...] = field(default=())

    @property
    def changes_anything(self) -> bool:
        return any(c.action.changes for c in self.changes)

    @property
    def reboots(self) -> int:
        return sum(c.reboots for c in self.changes)

    def goals(self) -> tuple[Goal, ...]:
        return tuple(g for c in self.changes if (g := c.goal()) is not None)

    def watch_goals(self) -> tuple[Goal, ...]:
        """The goals to follow a rollout started earlier (``--watch-only``): the change must
        already be made, or there is nothing rolling out to follow."""
        goals = []
        for change in self.changes:
            if change.action is Action.CREATE:
                raise PlanError(
                    f"MachineConfig {change.name} does not exist, so nothing rolls it out on "
                    f"pool {change.pool}; run enable without --watch-only"
                )
            if change.action is Action.DELETE:
                raise PlanError(
                    f"MachineConfig {change.name} still exists, so nothing rolls pool "
                    f"{change.pool} back; run disable without --watch-only"
                )
            if change.action in (Action.UPDATE, Action.UNCHANGED):
                goals.append(Goal(change.pool, present=frozenset({change.name})))
            elif change.action is Action.PROVIDED:
                goals.append(Goal(change.pool, present=frozenset(change.provided_by)))
            else:
                goals.append(Goal(change.pool, absent=frozenset({change.name})))
        return tuple(goals)

    def objects(self) -> list[Obj]:
        """What ``--dry-run`` prints: the objects to create or replace, or to delete."""
        found: list[Obj] = []
        for change in self.changes:
            if change.action in (Action.CREATE, Action.UPDATE) and change.body is not None:
                found.append(change.body)
            elif change.action is Action.DELETE and change.existing is not None:
                found.append(change.existing)
        return found


def managed_name(pool: str, name: str | None = None) -> str:
    """The MachineConfig sctpctl manages in ``pool``."""
    if name:
        return name
    return DEFAULT_NAME if pool == "worker" else f"{DEFAULT_NAME}-{pool}"


def _version_of(machineconfig: Obj | None) -> str:
    if machineconfig is None:
        return ""
    reading = read_machineconfig(machineconfig)
    return reading.version.value if reading.version is not None else ""


def _same_spec(existing: Obj, wanted: Mapping[str, Any]) -> bool:
    """Whether the existing object already is the rendered one: the same Ignition config, the
    same role label, and nothing else set in its spec (kernel arguments, extensions...)."""
    spec = existing.get("spec") or {}
    extra = {k: v for k, v in spec.items() if k != "config" and v not in (None, "", [], {}, False)}
    return (
        not extra
        and spec.get("config") == wanted["spec"]["config"]
        and labels_of(existing).get(ROLE_LABEL) == wanted["metadata"]["labels"][ROLE_LABEL]
    )


def _check_names(pools: Sequence[str], name: str | None) -> None:
    if not pools:
        raise PlanError("no pool given")
    if name and len(set(pools)) > 1:
        raise PlanError("--name names one MachineConfig, so it needs exactly one --pool")


def _pool_warnings(pool: Obj) -> list[str]:
    warnings = []
    if is_degraded(pool):
        warnings.append(
            f"pool {name_of(pool)} is Degraded already: {degraded_message(pool) or 'no message'}"
        )
    if is_paused(pool):
        warnings.append(
            f"pool {name_of(pool)} is paused: nothing rolls out until spec.paused is false"
        )
    return warnings


def plan_enable(
    state: MachineConfigState,
    *,
    pools: Sequence[str] = DEFAULT_POOLS,
    name: str | None = None,
    ignition: IgnitionVersion | None = None,
) -> Plan:
    _check_names(pools, name)
    changes = []
    for pool_name in dict.fromkeys(pools):
        pool = state.pool(pool_name)
        role = pool_role(pool)
        if role is None:
            raise PlanError(
                f"pool {pool_name} does not select MachineConfigs by one "
                f"{ROLE_LABEL} label, so no MachineConfig can be aimed at it alone"
            )
        mc_name = managed_name(pool_name, name)
        existing = state.machineconfig(mc_name)
        version = ignition
        if version is None:
            found = _version_of(existing)
            known = {v.value: v for v in RENDERABLE_VERSIONS}
            version = known.get(found, DEFAULT_IGNITION)
        body = render_sctp_machineconfig(name=mc_name, role=role, ignition=version)
        nodes = tuple(name_of(n) for n in pool_members(pool, state.pools, state.nodes))
        others = [m for m in state.machineconfigs if selects(pool, m) and name_of(m) != mc_name]
        without = merged_files(others)
        provided = sctp_effect(without)
        with_ours = merged_files([*others, body])
        effect = sctp_effect(with_ours)
        warnings = _pool_warnings(pool)
        if effect.state is not BootState.LOADED_AT_BOOT:
            warnings.append(
                f"even with {mc_name}, pool {pool_name} would not load sctp: "
                f"{effect.explain()} (from MachineConfig "
                f"{', '.join(sources_of(effect, with_ours)) or 'none'})"
            )
        common: dict[str, Any] = {
            "pool": pool_name,
            "name": mc_name,
            "nodes": nodes,
            "role": role,
            "body": body,
            "existing": existing,
            "before": configuration_name(pool),
            "max_unavailable": max_unavailable(pool),
        }
        if existing is None and provided.state is BootState.LOADED_AT_BOOT:
            by = tuple(sources_of(provided, without))
            action = Action.PROVIDED
        elif existing is None:
            by, action = (), Action.CREATE
        else:
            by = ()
            action = Action.UNCHANGED if _same_spec(existing, body) else Action.UPDATE
        changes.append(
            PoolChange(action=action, provided_by=by, warnings=tuple(warnings), **common)
        )
    return Plan(True, tuple(changes))


def plan_disable(
    state: MachineConfigState,
    *,
    pools: Sequence[str] = DEFAULT_POOLS,
    name: str | None = None,
) -> Plan:
    _check_names(pools, name)
    changes = []
    for pool_name in dict.fromkeys(pools):
        pool = state.pool(pool_name)
        mc_name = managed_name(pool_name, name)
        existing = state.machineconfig(mc_name)
        nodes = tuple(name_of(n) for n in pool_members(pool, state.pools, state.nodes))
        others = [m for m in state.machineconfigs if selects(pool, m) and name_of(m) != mc_name]
        remaining = merged_files(others)
        effect = sctp_effect(remaining)
        warnings = _pool_warnings(pool)
        kept_by: tuple[str, ...] = ()
        if effect.state is BootState.LOADED_AT_BOOT:
            kept_by = tuple(sources_of(effect, remaining))
            warnings.append(
                f"SCTP stays enabled on pool {pool_name} by MachineConfig {', '.join(kept_by)}, "
                "which sctpctl does not manage"
            )
        if existing is not None and not selects(pool, existing):
            warnings.append(
                f"MachineConfig {mc_name} exists but pool {pool_name} does not select it"
            )
        changes.append(
            PoolChange(
                pool=pool_name,
                name=mc_name,
                action=Action.DELETE if existing is not None else Action.ABSENT,
                nodes=nodes,
                role=str(labels_of(existing).get(ROLE_LABEL, "")) if existing else "",
                existing=existing,
                provided_by=kept_by,
                warnings=tuple(warnings),
                before=configuration_name(pool),
                max_unavailable=max_unavailable(pool),
            )
        )
    return Plan(False, tuple(changes))
