"""A node's sctp module state, read without side effects (reference section 1.1).

This runs inside the short-lived check pod ``sctpctl status`` puts on each node, as
``sctpctl node-state --root /host``; the pod mounts the node's ``/etc/modprobe.d``,
``/etc/modules-load.d`` and ``/lib/modules`` read-only under ``/host``. Only files are read:

- ``/sys/module/sctp/initstate`` (the kernel's modules are not namespaced, so a container sees
  its node's): ``live`` means loaded; ``/sys/module/sctp`` without ``initstate`` means built in;
- ``/etc/modprobe.d/*.conf``, ``/etc/modules-load.d/*.conf`` and ``/proc/cmdline``: whether a
  blacklist blocks the module and whether it loads at boot
  (:func:`sctpctl.node.modules.module_boot_state`);
- ``/lib/modules/<release>/modules.dep`` and ``modules.builtin``: whether this kernel has an
  sctp module at all.

Nothing opens an SCTP socket: on a node where sctp is not blacklisted, that alone would load the
module (the kernel requests ``net-pf-*-proto-132``), and the answer would be the check's own doing.

The states, most decisive first: ``loaded``; ``absent`` (the kernel's module list has no sctp:
no MachineConfig can help); ``blacklisted`` (a blacklist or install line, or the kernel command
line, blocks it); ``not-loaded`` (nothing blocks it, but it is not loaded: not yet rebooted, or
loading failed). ``unknown`` is for a node that could not be checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sctpctl.node.modules import SCTP_MODULE, BootState, ModuleBootConfig, module_boot_state

INITSTATE = "sys/module/sctp/initstate"
MODPROBE_D = "etc/modprobe.d"
MODULES_LOAD_D = "etc/modules-load.d"
LIB_MODULES = "lib/modules"


class ModuleState(StrEnum):
    LOADED = "loaded"
    ABSENT = "absent"
    BLACKLISTED = "blacklisted"
    NOT_LOADED = "not-loaded"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ModuleReport:
    """What one node's check found, with the evidence."""

    state: ModuleState
    detail: str
    "A sentence naming the evidence."
    initstate: str | None = None
    "``live``, ``coming``, ``going``, ``builtin``, or ``None`` when the module is not there."
    boot: str | None = None
    "The boot state (``loaded-at-boot``, ``blacklisted``, ``not-configured``)."
    blocked_by: tuple[str, ...] = ()
    loaded_by: tuple[str, ...] = ()
    kernel: str = ""
    module_file: str | None = None
    "The module's path under ``/lib/modules/<release>``, ``builtin``, or ``None``."

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "detail": self.detail,
            "initstate": self.initstate,
            "bootState": self.boot,
            "blockedBy": list(self.blocked_by),
            "loadedBy": list(self.loaded_by),
            "kernel": self.kernel,
            "moduleFile": self.module_file,
        }

    @classmethod
    def from_json(cls, data: Any) -> ModuleReport:
        """Read what a check pod printed; ``ValueError`` when it is not such a report."""
        if not isinstance(data, dict) or "state" not in data:
            raise ValueError("not a module report")
        return cls(
            state=ModuleState(data["state"]),
            detail=str(data.get("detail", "")),
            initstate=data.get("initstate"),
            boot=data.get("bootState"),
            blocked_by=tuple(str(x) for x in data.get("blockedBy") or []),
            loaded_by=tuple(str(x) for x in data.get("loadedBy") or []),
            kernel=str(data.get("kernel", "")),
            module_file=data.get("moduleFile"),
        )

    @classmethod
    def unknown(cls, detail: str) -> ModuleReport:
        return cls(ModuleState.UNKNOWN, detail)


def classify(
    initstate: str | None, boot: ModuleBootConfig, module_file: str | None, modules_known: bool
) -> tuple[ModuleState, str]:
    """The state and its sentence from the evidence (see the module docstring for the order)."""
    if initstate in ("live", "builtin"):
        how = "built into the kernel" if initstate == "builtin" else "loaded (initstate live)"
        if boot.state is BootState.BLACKLISTED:
            return ModuleState.LOADED, (
                f"{how}, but {boot.explain()}: it will not be loaded after a reboot"
            )
        return ModuleState.LOADED, how
    if modules_known and module_file is None:
        return ModuleState.ABSENT, "this kernel has no sctp module (not in modules.dep or builtin)"
    if boot.state is BootState.BLACKLISTED:
        return ModuleState.BLACKLISTED, boot.explain()
    if boot.state is BootState.LOADED_AT_BOOT:
        return ModuleState.NOT_LOADED, (
            f"{boot.explain()}, but it is not loaded: the node has not rebooted since, or "
            "loading failed"
        )
    if initstate:
        return ModuleState.NOT_LOADED, f"the module is {initstate} (initstate)"
    return ModuleState.NOT_LOADED, boot.explain() + "; it is not loaded"


def _conf_files(folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            if entry.is_file():
                found[f"/{folder.parent.name}/{folder.name}/{entry.name}"] = entry.read_text(
                    errors="replace"
                )
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _module_file(tree: Path) -> tuple[str | None, bool]:
    """The module's file in a kernel's module tree (or ``builtin``), and whether the tree could
    be read at all (without it, absence cannot be told)."""
    wanted = (f"{SCTP_MODULE}.ko", f"{SCTP_MODULE.replace('_', '-')}.ko")
    known = False
    for list_name, builtin in (("modules.builtin", True), ("modules.dep", False)):
        text = _read(tree / list_name)
        if text is None:
            continue
        known = known or not builtin
        for line in text.splitlines():
            path = line.split(":", 1)[0].strip()
            if path.rsplit("/", 1)[-1].startswith(wanted):
                return ("builtin" if builtin else path), True
    return None, known


def read_node_state(
    host_root: Path, *, system_root: Path = Path("/"), kernel: str | None = None
) -> ModuleReport:
    """Read this node's state: ``host_root`` holds the node's ``etc`` and ``lib/modules``
    (``/host`` in the check pod); ``system_root`` holds ``sys`` and ``proc``."""
    release = kernel if kernel is not None else os.uname().release
    initstate = _read(system_root / INITSTATE)
    if initstate is None and (system_root / INITSTATE).parent.is_dir():
        initstate = "builtin"  # built-in modules have a /sys/module entry but no initstate
    boot = module_boot_state(
        _conf_files(host_root / MODPROBE_D),
        _conf_files(host_root / MODULES_LOAD_D),
        kernel_cmdline=_read(system_root / "proc/cmdline") or "",
    )
    module_file, known = _module_file(host_root / LIB_MODULES / release)
    state, detail = classify(initstate, boot, module_file, known)
    return ModuleReport(
        state=state,
        detail=detail,
        initstate=initstate,
        boot=boot.state.value,
        blocked_by=tuple(str(c) for c in boot.blocked_by),
        loaded_by=tuple(str(c) for c in boot.loaded_by),
        kernel=release,
        module_file=module_file,
    )
