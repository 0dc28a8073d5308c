"""Whether a node loads a kernel module at boot, from its ``modprobe.d`` and ``modules-load.d``.

Two programs decide, and both read only ``*.conf`` files:

- ``systemd-modules-load`` loads, at boot, every module named in ``/etc/modules-load.d/*.conf``
  (one name per line; ``#`` and ``;`` start comments). It asks libkmod to *apply the blacklist*,
  so a module that is blacklisted is skipped: this is why the OpenShift procedure must empty
  ``/etc/modprobe.d/sctp-blacklist.conf`` as well as add ``sctp`` to modules-load.d.
- ``modprobe`` (libkmod) reads ``/etc/modprobe.d/*.conf`` (``modprobe.d(5)``): ``blacklist sctp``
  stops loading by alias (an ``socket(..., IPPROTO_SCTP)`` call requests ``net-pf-*-proto-132``)
  and by systemd-modules-load; ``install sctp /bin/true`` (or ``/bin/false``, or any command that
  does not insert the module) replaces the insertion with that command, so nothing gets loaded.
  An ``install`` command that runs ``modprobe --ignore-install sctp`` does load it and does not
  block. A line ending in ``\\`` continues on the next one.

The kernel command line can block too: ``module_blacklist=sctp`` refuses the module outright and
``modprobe.blacklist=sctp`` acts like a ``blacklist`` line.

RHCOS ships ``/etc/modprobe.d/sctp-blacklist.conf`` containing ``blacklist sctp``
(:data:`RHCOS_MODPROBE_D`). A module that is neither listed nor blocked is not loaded at boot,
but any program opening an SCTP socket can load it on demand.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum

SCTP_MODULE = "sctp"

RHCOS_BLACKLIST_PATH = "/etc/modprobe.d/sctp-blacklist.conf"
RHCOS_MODPROBE_D: Mapping[str, str] = {RHCOS_BLACKLIST_PATH: "blacklist sctp\n"}
"What an RHCOS node's /etc/modprobe.d holds about sctp before any MachineConfig."


class BootState(Enum):
    LOADED_AT_BOOT = "loaded-at-boot"
    "Listed in modules-load.d and not blocked: the module is loaded when the node boots."
    BLACKLISTED = "blacklisted"
    "Blocked by a blacklist or install line (or the kernel command line): it does not load."
    NOT_CONFIGURED = "not-configured"
    "Neither listed nor blocked: not loaded at boot, but a socket call can load it on demand."


@dataclass(frozen=True, slots=True)
class ConfigLine:
    """One line of a configuration file that mentions the module: the evidence for a state."""

    file: str
    line: int
    "1-based number of the (first physical) line."
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


@dataclass(frozen=True, slots=True)
class ModuleBootConfig:
    """The boot state of one module with the lines that decide it."""

    module: str
    state: BootState
    loaded_by: tuple[ConfigLine, ...]
    "modules-load.d lines naming the module."
    blocked_by: tuple[ConfigLine, ...]
    "modprobe.d (or kernel command line) entries that stop it."

    def explain(self) -> str:
        """A sentence that names the evidence."""
        if self.state is BootState.BLACKLISTED:
            return f"{self.module} is blocked by " + "; ".join(str(c) for c in self.blocked_by)
        if self.state is BootState.LOADED_AT_BOOT:
            return f"{self.module} is loaded at boot by " + "; ".join(
                str(c) for c in self.loaded_by
            )
        return f"{self.module} is neither listed in modules-load.d nor blocked in modprobe.d"


def module_boot_state(
    modprobe_d: Mapping[str, str],
    modules_load_d: Mapping[str, str],
    *,
    module: str = SCTP_MODULE,
    kernel_cmdline: str = "",
) -> ModuleBootConfig:
    """Decide from file contents (keyed by file name or path) whether ``module`` loads at boot.

    Files whose name does not end in ``.conf`` are ignored, as systemd and kmod ignore them.
    """
    blocked = [
        line
        for name, text in _conf_files(modprobe_d)
        for line in blocking_lines(name, text, module)
    ]
    blocked.extend(_cmdline_blocks(kernel_cmdline, module))
    loaded = [
        line
        for name, text in _conf_files(modules_load_d)
        for line in load_lines(name, text, module)
    ]
    if blocked:
        state = BootState.BLACKLISTED
    elif loaded:
        state = BootState.LOADED_AT_BOOT
    else:
        state = BootState.NOT_CONFIGURED
    return ModuleBootConfig(module, state, tuple(loaded), tuple(blocked))


def blocking_lines(name: str, text: str, module: str = SCTP_MODULE) -> Iterator[ConfigLine]:
    """The ``modprobe.d`` directives in ``text`` that stop ``module`` from loading."""
    wanted = _normal(module)
    for number, line in _logical_lines(text, comments="#"):
        words = line.split()
        if len(words) < 2 or _normal(words[1]) != wanted:
            continue
        if words[0] == "blacklist" or (words[0] == "install" and not _install_loads(words, wanted)):
            yield ConfigLine(name, number, line)


def load_lines(name: str, text: str, module: str = SCTP_MODULE) -> Iterator[ConfigLine]:
    """The ``modules-load.d`` lines in ``text`` that name ``module``."""
    wanted = _normal(module)
    for number, line in _logical_lines(text, comments="#;", continuation=False):
        if _normal(line) == wanted:
            yield ConfigLine(name, number, line)


def _install_loads(words: list[str], module: str) -> bool:
    """Whether an ``install MODULE COMMAND...`` line's command still inserts the module.

    The usual pattern is ``install sctp /sbin/modprobe --ignore-install sctp $CMDLINE_OPTS``
    (run something first, then load it for real); anything else (``/bin/true``, ``/bin/false``,
    ``exit 1``) means the module never gets inserted by modprobe.
    """
    try:
        command = shlex.split(" ".join(words[2:]))
    except ValueError:
        command = words[2:]
    return "--ignore-install" in command and module in (_normal(w) for w in command)


def _cmdline_blocks(cmdline: str, module: str) -> Iterator[ConfigLine]:
    wanted = _normal(module)
    for parameter in cmdline.split():
        key, _, value = parameter.partition("=")
        if key in ("module_blacklist", "modprobe.blacklist") and wanted in (
            _normal(v) for v in value.split(",")
        ):
            yield ConfigLine("/proc/cmdline", 1, parameter)


def _conf_files(files: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    for name in sorted(files, key=lambda n: n.rsplit("/", 1)[-1]):
        if name.endswith(".conf"):
            yield name, files[name]


def _logical_lines(
    text: str, *, comments: str, continuation: bool = True
) -> Iterator[tuple[int, str]]:
    """Non-empty, non-comment lines with their 1-based numbers; ``\\`` joins lines if allowed."""
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if continuation and raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and line[0] not in comments:
            yield start, line
    if pending.strip() and pending.strip()[0] not in comments:
        yield start, pending.strip()


def _normal(name: str) -> str:
    """Module names treat ``-`` and ``_`` as the same character (kmod does)."""
    return name.replace("-", "_")
