"""What sctpctl reads from the MachineConfig operator's objects (reference section 1.2).

Pure functions of MachineConfigPools, MachineConfigs and Nodes as the API serves them:

- a pool selects MachineConfigs by ``spec.machineConfigSelector`` (usually the label
  ``machineconfiguration.openshift.io/role``) and nodes by ``spec.nodeSelector``;
- the operator merges the selected configs, in name order (a later file at the same path wins),
  into one ``rendered-<pool>-<hash>`` config and names it in the pool's ``configuration``:
  ``spec.configuration`` is what the pool is moving to, ``status.configuration`` what it has
  finished rolling out, each with its ``source`` list of MachineConfig names;
- each node's daemon reports through annotations: ``currentConfig`` and ``desiredConfig``
  (rendered names), ``state`` (``Done``, ``Working``, ``Degraded``) and ``reason``;
- the pool's conditions ``Updated``, ``Updating`` and ``Degraded`` summarise the nodes.

A node belongs to exactly one pool, as the operator decides (``GetPoolsForNode``): the master pool
if it matches that one, else the one custom pool it matches, else the worker pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from sctpctl.netpol.selectors import Selector, SelectorError
from sctpctl.node.ignition import IgnitionFile, read_machineconfig
from sctpctl.node.machineconfig import API_VERSION, KIND, ROLE_LABEL, sctp_boot_effect
from sctpctl.node.modules import RHCOS_MODPROBE_D, BootState, ModuleBootConfig

GROUP = "machineconfiguration.openshift.io"
MACHINECONFIG = (API_VERSION, KIND)
POOL = (API_VERSION, "MachineConfigPool")
NODE = ("v1", "Node")
MACHINECONFIGS_RESOURCE = f"machineconfigs.{GROUP}"
POOLS_RESOURCE = f"machineconfigpools.{GROUP}"

CURRENT_CONFIG = f"{GROUP}/currentConfig"
DESIRED_CONFIG = f"{GROUP}/desiredConfig"
STATE = f"{GROUP}/state"
REASON = f"{GROUP}/reason"
RENDERED_PREFIX = "rendered-"
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"

Obj = Mapping[str, Any]


class MachineState(StrEnum):
    """The machine-config daemon's ``state`` annotation."""

    DONE = "Done"
    WORKING = "Working"
    DEGRADED = "Degraded"


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def labels_of(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def annotations_of(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            found: Mapping[str, Any] = entry
            return found
    return None


def condition_is(obj: Obj, kind: str, status: str = "True") -> bool:
    found = condition(obj, kind)
    return found is not None and found.get("status") == status


def is_ready(node: Obj) -> bool:
    return condition_is(node, "Ready")


def is_cordoned(node: Obj) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def node_roles(node: Obj) -> tuple[str, ...]:
    """The roles of ``node-role.kubernetes.io/<role>`` labels, as ``kubectl get nodes`` shows."""
    return tuple(
        sorted(
            k[len(NODE_ROLE_PREFIX) :] for k in labels_of(node) if k.startswith(NODE_ROLE_PREFIX)
        )
    )


def is_rendered(machineconfig: Obj) -> bool:
    return name_of(machineconfig).startswith(RENDERED_PREFIX)


def _selector(pool: Obj, field: str) -> Selector:
    try:
        return Selector.from_label_selector((pool.get("spec") or {}).get(field))
    except SelectorError:
        return Selector.nothing()


def pool_roles(pool: Obj) -> tuple[str, ...]:
    """The MachineConfig roles a pool selects: ``matchLabels`` and ``In`` expressions on the role
    label (a custom pool ``worker-cnf`` usually selects ``worker`` and ``worker-cnf``)."""
    selector = (pool.get("spec") or {}).get("machineConfigSelector") or {}
    roles: list[str] = []
    label = (selector.get("matchLabels") or {}).get(ROLE_LABEL)
    if label:
        roles.append(str(label))
    for expression in selector.get("matchExpressions") or []:
        if expression.get("key") == ROLE_LABEL and expression.get("operator") == "In":
            roles.extend(str(v) for v in expression.get("values") or [])
    return tuple(dict.fromkeys(roles))


def pool_role(pool: Obj) -> str | None:
    """The role a new MachineConfig for this pool should carry: the pool's own name when it
    selects it (custom pools), else its only role; ``None`` when there is no single answer."""
    roles = pool_roles(pool)
    if name_of(pool) in roles:
        return name_of(pool)
    return roles[0] if len(roles) == 1 else None


def selects(pool: Obj, machineconfig: Obj) -> bool:
    """Whether the pool renders this MachineConfig into its configuration."""
    if is_rendered(machineconfig):
        return False
    return _selector(pool, "machineConfigSelector").matches(labels_of(machineconfig))


def pool_of(node: Obj, pools: Iterable[Obj]) -> str | None:
    """The one pool the operator puts ``node`` in (see the module docstring)."""
    matching = [name_of(p) for p in pools if _selector(p, "nodeSelector").matches(labels_of(node))]
    if "master" in matching:
        return "master"
    custom = sorted(name for name in matching if name != "worker")
    if custom:
        return custom[0]
    return "worker" if "worker" in matching else None


def pool_members(pool: Obj, pools: Iterable[Obj], nodes: Iterable[Obj]) -> list[Obj]:
    every = list(pools)
    members = [n for n in nodes if pool_of(n, every) == name_of(pool)]
    return sorted(members, key=name_of)


def configuration_sources(pool: Obj, where: str = "status") -> tuple[str, ...]:
    """Names in ``<where>.configuration.source`` (``where`` is ``status`` or ``spec``)."""
    configuration = (pool.get(where) or {}).get("configuration") or {}
    return tuple(str(s.get("name", "")) for s in configuration.get("source") or [])


def configuration_name(pool: Obj, where: str = "status") -> str:
    return str(((pool.get(where) or {}).get("configuration") or {}).get("name", ""))


def max_unavailable(pool: Obj) -> str:
    value = (pool.get("spec") or {}).get("maxUnavailable")
    return "1" if value is None else str(value)


def is_paused(pool: Obj) -> bool:
    return bool((pool.get("spec") or {}).get("paused"))


def degraded_message(pool: Obj) -> str:
    """The pool's own words for why it is degraded, most specific condition first."""
    for kind in ("RenderDegraded", "NodeDegraded", "Degraded"):
        found = condition(pool, kind)
        if found is not None and found.get("status") == "True" and found.get("message"):
            return str(found["message"])
    return ""


def is_degraded(pool: Obj) -> bool:
    return any(condition_is(pool, k) for k in ("Degraded", "NodeDegraded", "RenderDegraded"))


def merged_files(machineconfigs: Iterable[Obj]) -> list[tuple[str, IgnitionFile]]:
    """The files of several MachineConfigs in the order the operator merges them (by name),
    each with the name of the MachineConfig it comes from."""
    merged: list[tuple[str, IgnitionFile]] = []
    for config in sorted(machineconfigs, key=name_of):
        merged.extend((name_of(config), f) for f in read_machineconfig(config).files)
    return merged


def sctp_effect(files: Sequence[tuple[str, IgnitionFile]]) -> ModuleBootConfig:
    """The sctp boot state of an RHCOS node given merged MachineConfig files."""
    return sctp_boot_effect(f for _, f in files)


def enables_sctp(machineconfigs: Iterable[Obj]) -> bool:
    """Whether these MachineConfigs, merged, make the node load sctp at boot."""
    return sctp_effect(merged_files(machineconfigs)).state is BootState.LOADED_AT_BOOT


def sources_of(effect: ModuleBootConfig, files: Sequence[tuple[str, IgnitionFile]]) -> list[str]:
    """The MachineConfigs whose files decide ``effect`` (the last writer of each file): the
    blocking lines of a blacklisted state; otherwise the modules-load.d lines and whatever
    replaced RHCOS's blacklist file."""
    writer = {f.path: name for name, f in files}
    if effect.state is BootState.BLACKLISTED:
        paths = [line.file for line in effect.blocked_by]
    else:
        paths = [line.file for line in effect.loaded_by] + list(RHCOS_MODPROBE_D)
    return list(dict.fromkeys(writer[path] for path in paths if path in writer))
