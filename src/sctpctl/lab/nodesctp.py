"""Node SCTP: at boot a node reads its root filesystem and decides whether ``sctp`` loads; if it
does, the node's host stack service gives SCTP to the node and to its pods.

The decision is :func:`sctpctl.node.modules.module_boot_state` on the node's
``/etc/modprobe.d`` and ``/etc/modules-load.d`` (the one implementation, shared with lint and
status): listed in modules-load.d and not blacklisted means loaded.

A node with the module runs one ``sctpctl stack serve`` (:mod:`sctpctl.lab.stackprocess`) from
boot to shutdown, with its control socket at ``<state>/nodes/<node>/stack.sock`` and its log at
``stack.log`` beside it. It serves the node's own namespace, since a real node with the module has
SCTP in its host network (``hostNetwork`` pods, a node reaching a NodePort), and every pod
namespace of the node: the kubelet calls :meth:`NodeSctpService.attach` right after it creates a
pod's namespace and before the containers start, so ``sctpctl listen`` in a container finds
``@sctpctl-stack`` at once, and :meth:`NodeSctpService.detach` before it deletes the namespace.
Pod namespaces that exist when the node boots are served from the start.

A node without the module runs nothing: pods there cannot open SCTP sockets (``sctpctl listen``
exits 14, no-sctp-local) and the kernel answers INITs to them with ICMP protocol-unreachable, as
on a real node without the module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sctpctl.host.commands import HostError
from sctpctl.lab.processbook import ProcessBook
from sctpctl.lab.rootfs import MODPROBE_D, MODULES_LOAD_D, NodeFiles
from sctpctl.lab.stackprocess import StackProcess
from sctpctl.node.modules import BootState, ModuleBootConfig, module_boot_state

log = logging.getLogger(__name__)


def boot_config(files: NodeFiles) -> ModuleBootConfig:
    return module_boot_state(files.read_dir(MODPROBE_D), files.read_dir(MODULES_LOAD_D))


def sctp_loads_at_boot(files: NodeFiles) -> bool:
    return boot_config(files).state is BootState.LOADED_AT_BOOT


class NodeSctpService:
    """Whether a node has SCTP (decided at each boot, shown in ``/sys/module/sctp/initstate``),
    and the stack service that provides it while it does."""

    def __init__(
        self,
        files: NodeFiles,
        decide: Callable[[NodeFiles], bool],
        *,
        node: str,
        netns: str,
        book: ProcessBook,
    ) -> None:
        self.files = files
        self.decide = decide
        self.node = node
        self.loaded = False
        self.stack = StackProcess(
            control=files.stack_socket,
            book=book,
            what=f"stack service of node {node}",
            namespaces=(netns,),
        )

    async def boot(self) -> None:
        loaded = self.decide(self.files)
        if loaded:
            try:
                await self.stack.start()
            except HostError as error:
                # As a module that fails to load: the node comes up, without SCTP.
                log.error("node %s: sctp is configured to load, but %s", self.node, error)
                loaded = False
        self.loaded = loaded
        self.files.set_sctp_live(loaded)

    async def shutdown(self) -> None:
        self.loaded = False
        self.files.set_sctp_live(False)
        await self.stack.stop()

    async def attach(self, netns: str) -> None:
        """A pod namespace was created: serve it, at once while the node has SCTP."""
        await self.stack.serve(netns)

    async def detach(self, netns: str) -> None:
        """A pod namespace is about to be deleted: stop serving it first."""
        await self.stack.release(netns)
