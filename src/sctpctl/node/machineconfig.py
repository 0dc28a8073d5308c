"""The MachineConfig of the OpenShift procedure that enables SCTP, and what a MachineConfig does
to a node's sctp module.

The procedure writes two files on every node of a pool (reference section 2.2):

1. ``/etc/modprobe.d/sctp-blacklist.conf``, emptied: on RHCOS it holds ``blacklist sctp``;
2. ``/etc/modules-load.d/sctp-load.conf`` containing ``sctp``, so systemd-modules-load loads it.

Three published versions of that object exist and are rendered exactly as documented:
Ignition 3.2.0 (``data:,sctp``), 3.1.0 (``data:text/plain;charset=utf-8,sctp``) and 2.2.0 (the
4.4 original: ``filesystem: root`` on each file, no ``overwrite``, ``verification: {}`` on the
blacklist file). Modes are rendered as ``420``: the documentation writes ``0644``, which is 420
to every YAML 1.1 reader (kubectl, oc, PyYAML) but 644 to a YAML 1.2 reader; ``420`` means the
same to all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sctpctl.node.dataurl import encode_data_url
from sctpctl.node.ignition import IgnitionFile, IgnitionVersion
from sctpctl.node.modules import (
    RHCOS_BLACKLIST_PATH,
    RHCOS_MODPROBE_D,
    SCTP_MODULE,
    ModuleBootConfig,
    module_boot_state,
)

API_VERSION = "machineconfiguration.openshift.io/v1"
KIND = "MachineConfig"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
"The label a MachineConfigPool's machineConfigSelector matches."

BLACKLIST_PATH = RHCOS_BLACKLIST_PATH
LOAD_PATH = "/etc/modules-load.d/sctp-load.conf"
MODPROBE_DIR = "/etc/modprobe.d/"
MODULES_LOAD_DIR = "/etc/modules-load.d/"

DEFAULT_NAME = "load-sctp-module"
DEFAULT_ROLE = "worker"
DEFAULT_IGNITION = IgnitionVersion.V3_2_0
RENDERABLE_VERSIONS = (IgnitionVersion.V3_2_0, IgnitionVersion.V3_1_0, IgnitionVersion.V2_2_0)
"The versions the procedure was published with, newest first."

FILE_MODE = 0o644

STANDARD_POOL_SELECTORS: Mapping[str, Mapping[str, Any]] = {
    "master": {"matchLabels": {ROLE_LABEL: "master"}},
    "worker": {"matchLabels": {ROLE_LABEL: "worker"}},
}
"The machineConfigSelector of the pools every OpenShift cluster has."

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class _Style:
    """How one published version writes the two files."""

    load_media_type: str
    "Media type of the sctp file's data: URL (the blacklist file is always ``data:,``)."
    overwrite: bool
    filesystem: bool
    empty_verification: bool


_STYLES: Mapping[IgnitionVersion, _Style] = {
    IgnitionVersion.V3_2_0: _Style("", overwrite=True, filesystem=False, empty_verification=False),
    IgnitionVersion.V3_1_0: _Style(
        "text/plain;charset=utf-8", overwrite=True, filesystem=False, empty_verification=False
    ),
    IgnitionVersion.V2_2_0: _Style(
        "text/plain;charset=utf-8", overwrite=False, filesystem=True, empty_verification=True
    ),
}


def render_sctp_machineconfig(
    *,
    name: str = DEFAULT_NAME,
    role: str = DEFAULT_ROLE,
    ignition: IgnitionVersion | str = DEFAULT_IGNITION,
) -> dict[str, Any]:
    """The MachineConfig that enables SCTP on the pool selecting ``role``.

    Raises ``ValueError`` for a name that is not a DNS subdomain, a role that is not a label
    value, or a version the procedure was never published with.
    """
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise ValueError(f"name {name!r} is not a valid object name (a DNS subdomain)")
    if len(role) > 63 or not _LABEL_VALUE.match(role):
        raise ValueError(f"role {role!r} is not a valid label value")
    version = IgnitionVersion(ignition) if isinstance(ignition, str) else ignition
    style = _STYLES.get(version)
    if style is None:
        known = ", ".join(v.value for v in RENDERABLE_VERSIONS)
        raise ValueError(f"Ignition {version} is not one of the published versions ({known})")
    files = [
        _file(style, BLACKLIST_PATH, encode_data_url(b""), style.empty_verification),
        _file(
            style,
            LOAD_PATH,
            encode_data_url(SCTP_MODULE.encode(), media_type=style.load_media_type),
            False,
        ),
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "labels": {ROLE_LABEL: role}},
        "spec": {"config": {"ignition": {"version": version.value}, "storage": {"files": files}}},
    }


def _file(style: _Style, path: str, source: str, verification: bool) -> dict[str, Any]:
    contents: dict[str, Any] = {"source": source}
    if verification:
        contents["verification"] = {}
    if style.filesystem:
        # the 2.2.0 original lists the keys alphabetically, as Ignition's own tools print them
        return {"contents": contents, "filesystem": "root", "mode": FILE_MODE, "path": path}
    entry: dict[str, Any] = {"path": path, "mode": FILE_MODE}
    if style.overwrite:
        entry["overwrite"] = True
    entry["contents"] = contents
    return entry


def sctp_boot_effect(
    files: Iterable[IgnitionFile], base_modprobe_d: Mapping[str, str] = RHCOS_MODPROBE_D
) -> ModuleBootConfig:
    """The sctp boot state of a node that starts from ``base_modprobe_d`` (RHCOS by default) and
    gets ``files`` (usually ``read_machineconfig(mc).files``) written over it."""
    modprobe_d = dict(base_modprobe_d)
    modules_load_d: dict[str, str] = {}
    targets = {MODPROBE_DIR: modprobe_d, MODULES_LOAD_DIR: modules_load_d}
    for file in files:
        directory, _, _ = file.path.rpartition("/")
        target = targets.get(directory + "/")
        if target is None:
            continue  # kmod and systemd read only the files directly in these directories
        if file.contents is None and not file.overwrite:
            target.setdefault(file.path, "")  # no source: an existing file is left as it is
        elif file.contents is None:
            target[file.path] = ""  # replaced by an empty file
        else:
            target[file.path] = file.contents.decode("utf-8", errors="replace")
    return module_boot_state(modprobe_d, modules_load_d)
