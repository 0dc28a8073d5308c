"""Nodes: the Node objects, their heartbeats, and booting and rebooting a node.

A :class:`NodeAgent` is one machine of the lab. It owns the node's files, its kubelet and its SCTP
service, and is the only writer of its Node's ``status``:

- ``boot``: read the root filesystem, decide whether ``sctp`` loads (:mod:`nodesctp`), start the
  kubelet, report ``Ready``;
- ``shutdown``: stop the kubelet (every container, every sandbox) and the SCTP service, and report
  the node as a real node controller does when a kubelet stops posting: ``Ready=Unknown``
  (``NodeStatusUnknown``), which ``kubectl get nodes`` shows as ``NotReady``;
- ``reboot``: shutdown, stay down for a while, boot;
- a heartbeat refreshes ``lastHeartbeatTime`` while the node is up.

Node objects follow the kubelet's registration: role labels (``node-role.kubernetes.io/<role>``),
hostname/os/arch labels, the master taint, ``podCIDR``, addresses, capacity and ``nodeInfo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sctpctl.lab import events
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.kubelet import Kubelet
from sctpctl.lab.nodesctp import NodeSctpService
from sctpctl.lab.patch import PatchType
from sctpctl.lab.plan import NodePlan
from sctpctl.lab.registry import Registry, timestamp
from sctpctl.lab.rootfs import NodeFiles

log = logging.getLogger(__name__)

NODES = resource("nodes")
PODS = resource("pods")
KUBELET_VERSION = "v1.32.4"
OS_IMAGE = "Red Hat Enterprise Linux CoreOS (sctpctl lab)"
MASTER_TAINT = {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}


def node_object(node: NodePlan) -> dict[str, Any]:
    """The Node a kubelet registers (metadata and spec; status comes from :func:`node_status`)."""
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        f"node-role.kubernetes.io/{node.role}": "",
        "node.openshift.io/os_id": "rhcos",
    }
    if node.role == "master":
        labels["node-role.kubernetes.io/control-plane"] = ""
    spec: dict[str, Any] = {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]}
    if node.role == "master":
        spec["taints"] = [dict(MASTER_TAINT)]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": labels},
        "spec": spec,
    }


_PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


def node_status(
    node: NodePlan,
    *,
    ready: str,
    previous: dict[str, Any],
    boot_id: str,
    now: float,
) -> dict[str, Any]:
    """``ready`` is ``True`` (kubelet up), ``Unknown`` (down, as the node controller reports it)."""
    stamp = timestamp(now)
    old = {c.get("type"): c for c in previous.get("conditions") or []}

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        before = old.get(kind) or {}
        changed = before.get("status") != status
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": stamp
            if ready == "True"
            else before.get("lastHeartbeatTime", stamp),
            "lastTransitionTime": stamp if changed else before.get("lastTransitionTime", stamp),
        }

    conditions = []
    for kind, reason, message in _PRESSURE:
        if ready == "True":
            conditions.append(condition(kind, "False", reason, message))
        else:
            conditions.append(
                condition(
                    kind, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
                )
            )
    if ready == "True":
        conditions.append(
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
        )
    else:
        conditions.append(
            condition(
                "Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
            )
        )
    capacity = {
        "cpu": "4",
        "ephemeral-storage": "104845292Ki",
        "memory": "16393012Ki",
        "pods": "250",
    }
    return {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": node.address},
            {"type": "Hostname", "address": node.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": boot_id,
            "containerRuntimeVersion": "lab://1.0",
            "kernelVersion": "6.x-lab",
            "kubeProxyVersion": KUBELET_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, node.name).hex,
            "operatingSystem": "linux",
            "osImage": OS_IMAGE,
            "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, node.name)),
        },
    }


class NodeAgent:
    def __init__(
        self,
        *,
        registry: Registry,
        node: NodePlan,
        files: NodeFiles,
        kubelet: Kubelet,
        sctp: NodeSctpService,
        heartbeat: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.node = node
        self.files = files
        self.kubelet = kubelet
        self.sctp = sctp
        self.heartbeat = heartbeat
        self.clock = clock
        self.up = False
        self.boot_id = str(uuid.uuid4())
        self._heartbeat_task: asyncio.Task[None] | None = None

    async def register(self) -> None:
        """Create the Node when missing (labels and spec of an existing one are kept)."""
        self.files.install()
        try:
            await self.registry.get(NODES, self.node.name)
        except StatusError as error:
            if error.code != 404:
                raise
            await self.registry.create(NODES, node_object(self.node))

    async def _report(self, ready: str) -> None:
        current = await self.registry.get(NODES, self.node.name)
        status = node_status(
            self.node,
            ready=ready,
            previous=current.get("status") or {},
            boot_id=self.boot_id,
            now=self.clock(),
        )
        await self.registry.patch(
            NODES, self.node.name, {"status": status}, PatchType.MERGE, subresource="status"
        )

    async def boot(self) -> None:
        self.boot_id = str(uuid.uuid4())
        await self.sctp.boot()
        self.kubelet.start()
        self.up = True
        await self._report("True")
        await self._event("NodeReady", f"Node {self.node.name} status is now: NodeReady")
        if self._heartbeat_task is None:
            self._heartbeat_task = asyncio.create_task(
                self._beat(), name=f"heartbeat-{self.node.name}"
            )

    async def shutdown(self) -> None:
        self.up = False
        await self.kubelet.shutdown()
        await self.sctp.shutdown()
        with contextlib.suppress(StatusError):
            await self._report("Unknown")
        await self._event("NodeNotReady", f"Node {self.node.name} status is now: NodeNotReady")
        await self._mark_pods_not_ready()

    async def _mark_pods_not_ready(self) -> None:
        """What the node lifecycle controller does for a node that stopped posting: its pods'
        ``Ready`` condition becomes False, so Services stop sending them traffic."""
        stamp = timestamp(self.clock())
        for pod in self.registry.peek(PODS):
            if (pod.get("spec") or {}).get("nodeName") != self.node.name:
                continue
            conditions = [dict(c) for c in (pod.get("status") or {}).get("conditions") or []]
            changed = False
            for condition in conditions:
                if (
                    condition.get("type") in ("Ready", "ContainersReady")
                    and condition.get("status") == "True"
                ):
                    condition.update(status="False", lastTransitionTime=stamp)
                    changed = True
            if changed:
                with contextlib.suppress(StatusError):
                    await self.registry.patch(
                        PODS, pod["metadata"]["name"], {"status": {"conditions": conditions}},
                        PatchType.MERGE, pod["metadata"]["namespace"], subresource="status",
                    )  # fmt: skip

    async def _event(self, reason: str, message: str) -> None:
        with contextlib.suppress(StatusError):
            node = await self.registry.get(NODES, self.node.name)
            await events.record(
                self.registry, node, reason, message, component="kubelet", host=self.node.name
            )

    async def reboot(self, down_for: float) -> None:
        await self.shutdown()
        await asyncio.sleep(down_for)
        await self.boot()

    async def stop(self) -> None:
        """The daemon is stopping: no more heartbeats, the node goes down."""
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(BaseException):
                await self._heartbeat_task
            self._heartbeat_task = None
        await self.shutdown()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            if self.up:
                try:
                    await self._report("True")
                except Exception:
                    log.exception("node %s: heartbeat failed", self.node.name)
