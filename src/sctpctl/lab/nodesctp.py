"""Node SCTP: at boot a node reads its root filesystem and decides whether ``sctp`` loads.

The decision is :func:`sctpctl.node.modules.module_boot_state` on the node's
``/etc/modprobe.d`` and ``/etc/modules-load.d`` (the one implementation, shared with lint and
status): listed in modules-load.d and not blacklisted means loaded. A node without the module
has nothing serving SCTP for its pods, so, as on a real node, pods there cannot open SCTP sockets
and INITs to them are answered by the kernel with ICMP protocol-unreachable.
"""

from __future__ import annotations

from sctpctl.lab.rootfs import MODPROBE_D, MODULES_LOAD_D, NodeFiles
from sctpctl.node.modules import BootState, ModuleBootConfig, module_boot_state


def boot_config(files: NodeFiles) -> ModuleBootConfig:
    return module_boot_state(files.read_dir(MODPROBE_D), files.read_dir(MODULES_LOAD_D))


def sctp_loads_at_boot(files: NodeFiles) -> bool:
    return boot_config(files).state is BootState.LOADED_AT_BOOT
