"""The machine-config daemon of one node: applies the node's ``desiredConfig``.

When the operator moves a node's ``machineconfiguration.openshift.io/desiredConfig`` away from its
``currentConfig``, the daemon, like OpenShift's:

1. sets ``state=Working``;
2. reads the desired rendered config (:func:`sctpctl.node.ignition.read_machineconfig`); a config
   it cannot apply sets ``state=Degraded`` with the ``reason`` and stops there (nothing on the
   node changes) until the desired config changes again;
3. cordons the node (``spec.unschedulable``) and drains it: every pod but DaemonSet pods is
   deleted with its grace period, as ``oc adm drain --force`` does for bare pods, and the
   daemon waits until they are gone;
4. writes the new files into the node's root filesystem and puts back the originals of files the
   new config no longer has;
5. reboots the node (every container and the SCTP service stop, the node is NotReady for the
   configured time, then boots from its root filesystem again);
6. sets ``currentConfig`` to the desired one, ``state=Done``, and uncordons the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.mco import CURRENT, DESIRED, MACHINECONFIGS, REASON, STATE, NodeState
from sctpctl.lab.nodes import NodeAgent
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import Registry
from sctpctl.lab.rootfs import NodeFiles
from sctpctl.node.ignition import IgnitionFile, read_machineconfig

log = logging.getLogger(__name__)

NODES = resource("nodes")
PODS = resource("pods")
DRAIN_TIMEOUT = 120.0


def _owned_by_daemon_set(pod: Mapping[str, Any]) -> bool:
    owners = pod["metadata"].get("ownerReferences") or []
    return any(o.get("kind") == "DaemonSet" and o.get("controller") for o in owners)


class MachineConfigDaemon:
    def __init__(
        self,
        registry: Registry,
        *,
        agent: NodeAgent,
        files: NodeFiles,
        reboot_seconds: float,
    ) -> None:
        self.registry = registry
        self.agent = agent
        self.node = agent.node.name
        self.files = files
        self.reboot_seconds = reboot_seconds
        self._refused: str | None = None
        "The desired config this daemon found it cannot apply (it waits for another one)."

    async def run(self) -> None:
        await reconcile_loop(
            self.registry,
            (NODES,),
            self.sync,
            name=f"machine-config-daemon-{self.node}",
            field_selector=f"metadata.name={self.node}",
        )

    async def _annotate(self, **annotations: str) -> None:
        await self.registry.patch(
            NODES, self.node, {"metadata": {"annotations": annotations}}, PatchType.MERGE
        )

    async def _cordon(self, unschedulable: bool) -> None:
        await self.registry.patch(
            NODES, self.node, {"spec": {"unschedulable": unschedulable or None}}, PatchType.MERGE
        )

    async def sync(self) -> None:
        node = await self.registry.get(NODES, self.node)
        notes = node["metadata"].get("annotations") or {}
        current, desired = notes.get(CURRENT), notes.get(DESIRED)
        state = notes.get(STATE)
        if not current or not desired:
            return
        if current == desired:
            if state != NodeState.DONE:
                # A degraded update was taken back, or an update finished before a restart.
                await self._annotate(**{STATE: NodeState.DONE, REASON: ""})
                if (node.get("spec") or {}).get("unschedulable"):
                    await self._cordon(False)
            return
        if state == NodeState.DEGRADED and self._refused == desired:
            return  # already refused this config; wait for another one
        await self.update(current, desired)

    async def update(self, current: str, desired: str) -> None:
        await self._annotate(**{STATE: NodeState.WORKING, REASON: ""})
        try:
            target = await self.registry.get(MACHINECONFIGS, desired)
        except StatusError as error:
            if error.code != 404:
                raise
            await self._degrade(
                desired, f'machineconfig.machineconfiguration.openshift.io "{desired}" not found'
            )
            return
        reading = read_machineconfig(target)
        if not reading.ok:
            await self._degrade(
                desired, f"can't reconcile config {current} with {desired}: {reading.reason()}"
            )
            return
        old_files: tuple[IgnitionFile, ...] = ()
        with contextlib.suppress(StatusError):
            old_files = read_machineconfig(await self.registry.get(MACHINECONFIGS, current)).files
        await self._cordon(True)
        await self.drain()
        new_paths = set()
        for file in reading.files:
            new_paths.add(file.path)
            if file.contents is not None:
                self.files.write_file(file.path, file.contents, file.mode)
        for file in old_files:
            if file.path not in new_paths:
                self.files.restore_file(file.path)
        await self.agent.reboot(self.reboot_seconds)
        await self._annotate(**{CURRENT: desired, STATE: NodeState.DONE, REASON: ""})
        await self._cordon(False)

    async def _degrade(self, desired: str, reason: str) -> None:
        log.warning("machine-config daemon on %s: %s", self.node, reason)
        self._refused = desired
        await self._annotate(**{STATE: NodeState.DEGRADED, REASON: reason})

    async def drain(self) -> None:
        """Delete every pod of the node but DaemonSet pods, and wait until they are gone."""
        selector = f"spec.nodeName={self.node}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_TIMEOUT
        while True:
            pods = (await self.registry.list(PODS, field_selector=selector)).items
            left = [p for p in pods if not _owned_by_daemon_set(p)]
            if not left:
                return
            force = loop.time() > deadline
            for pod in left:
                meta = pod["metadata"]
                if meta.get("deletionTimestamp") and not force:
                    continue
                with contextlib.suppress(StatusError):
                    await self.registry.delete(
                        PODS,
                        meta["name"],
                        meta["namespace"],
                        grace_period_seconds=0 if force else None,
                    )
            await asyncio.sleep(0.1)
