"""The lab daemon: the API server, the machines and the controllers, in one asyncio process.

``sctpctl lab up`` starts it detached (``sctpctl lab daemon``); it

1. reconciles the kernel with its state folder: ends the container and stack service
   processes an earlier run recorded (by PID and start time, nothing else) and removes that
   run's namespaces;
2. starts the API server (store, registry, HTTPS on 127.0.0.1);
3. builds the machine network, starts the external host's stack service, and boots every node
   (Node objects, kubelets, the SCTP decision and, where sctp loads, the node's stack service);
4. starts the controllers (scheduler, DaemonSets, endpoints, service proxy and network policy
   per node, machine-config operator and daemons);
5. writes ``daemon.json`` (PID, start time, port, ``ready``) once every node is Ready, which is
   what ``lab up`` waits for;
6. on SIGTERM or SIGINT stops everything it started and removes every namespace it made.

Its settings live in ``lab.json`` (written by ``lab up`` on first start): the lab id that
prefixes every namespace, the topology and the timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sctpctl.host.process import record_of
from sctpctl.lab import network
from sctpctl.lab.daemonsets import DaemonSetController
from sctpctl.lab.endpoints import EndpointsController
from sctpctl.lab.kubelet import Kubelet, KubeletConfig
from sctpctl.lab.mcd import MachineConfigDaemon
from sctpctl.lab.mco import MachineConfigOperator
from sctpctl.lab.netpolicy import PolicyController
from sctpctl.lab.nodes import NodeAgent
from sctpctl.lab.nodesctp import NodeSctpService, sctp_loads_at_boot
from sctpctl.lab.plan import POD_NETWORK, SERVICE_NETWORK, LabPlan, make_plan
from sctpctl.lab.processbook import ProcessBook
from sctpctl.lab.proxy import ProxyController
from sctpctl.lab.rootfs import NodeFiles
from sctpctl.lab.runtime import ContainerNotAvailable, ExecRequest, ExecStreams, LogRequest
from sctpctl.lab.scheduler import Scheduler
from sctpctl.lab.server import LabApiServer
from sctpctl.lab.stackprocess import StackProcess
from sctpctl.lab.state import LabState, write_private

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabConfig:
    lab_id: str
    masters: int = 1
    workers: int = 2
    port: int = 0
    "The API server's port on 127.0.0.1 (0: any free one, kept in daemon.json)."
    reboot_seconds: float = 2.0
    "How long a rebooting node stays NotReady."
    backoff_seconds: float = 10.0
    heartbeat_seconds: float = 300.0
    """How often an unchanged node status is written again: the kubelet's
    nodeStatusReportFrequency (5 min), so ``kubectl get nodes -w`` stays as quiet as on a real
    cluster."""

    @staticmethod
    def new(**settings: Any) -> LabConfig:
        return LabConfig(lab_id=secrets.token_hex(3), **settings)

    def plan(self) -> LabPlan:
        return make_plan(self.lab_id, masters=self.masters, workers=self.workers)


def config_path(state: LabState) -> Path:
    return state.root / "lab.json"


def daemon_path(state: LabState) -> Path:
    return state.root / "daemon.json"


def log_path(state: LabState) -> Path:
    return state.root / "daemon.log"


def read_config(state: LabState) -> LabConfig | None:
    try:
        data = json.loads(config_path(state).read_text())
    except FileNotFoundError:
        return None
    return LabConfig(**data)


def write_config(state: LabState, config: LabConfig) -> None:
    write_private(config_path(state), json.dumps(asdict(config), indent=2).encode())


def process_book(state: LabState) -> ProcessBook:
    return ProcessBook(state.root / "processes")


def node_files(state: LabState, node: str) -> NodeFiles:
    return NodeFiles(state.root / "nodes" / node)


def external_stack_socket(state: LabState) -> Path:
    """The control socket of the external host's stack service (its log: ``stack.log``)."""
    return state.root / "external" / "stack.sock"


class LabDaemon:
    def __init__(self, state: LabState, config: LabConfig) -> None:
        self.state = state
        self.config = config
        self.plan = config.plan()
        self.book = process_book(state)
        self.server = LabApiServer(state, port=config.port)
        self.agents: dict[str, NodeAgent] = {}
        self.external = StackProcess(
            control=external_stack_socket(state),
            book=self.book,
            what="stack service of the external host",
            namespaces=(self.plan.external_netns,),
        )
        self._external_start: asyncio.Task[None] | None = None
        self.policies: dict[str, PolicyController] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def start(self) -> None:
        ended = self.book.end_all()
        removed = await asyncio.to_thread(network.remove_pod_namespaces, self.plan)
        if ended or removed:
            log.info("reconciled: ended %d processes, removed %d namespaces", ended, len(removed))
        await self.server.start()
        await asyncio.to_thread(network.build, self.plan)
        # The external host stands for a machine outside the cluster that has SCTP; its service
        # starts while the nodes boot.
        self._external_start = asyncio.create_task(
            self.external.start(), name="external stack service"
        )
        registry = self.server.registry
        for node in self.plan.nodes:
            self.policies[node.name] = PolicyController(registry, node=node.name, netns=node.netns)
            files = node_files(self.state, node.name)
            sctp = NodeSctpService(
                files, sctp_loads_at_boot, node=node.name, netns=node.netns, book=self.book
            )
            kubelet = Kubelet(
                registry=registry,
                plan=self.plan,
                node=node,
                files=files,
                book=self.book,
                config=KubeletConfig(backoff=self.config.backoff_seconds),
                hooks=sctp,
                network_gate=self.policies[node.name].wait_applied,
            )
            agent = NodeAgent(
                registry=registry,
                node=node,
                files=files,
                kubelet=kubelet,
                sctp=sctp,
                heartbeat=self.config.heartbeat_seconds,
            )
            self.agents[node.name] = agent
            await agent.register()
        self.server.set_runtime(NodeRuntimes(self.agents))
        for agent in self.agents.values():
            await agent.boot()
        await self._external_start
        self.operator = MachineConfigOperator(registry)
        await self.operator.bootstrap()
        self._spawn("scheduler", Scheduler(registry).run)
        for name, controller in self.controllers():
            self._spawn(name, controller)

    def controllers(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        """The controllers besides the scheduler (each a coroutine that runs until cancelled)."""
        registry = self.server.registry
        found: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("endpoints", EndpointsController(registry).run),
            ("daemonsets", DaemonSetController(registry).run),
        ]
        for node in self.plan.nodes:
            proxy = ProxyController(
                registry,
                node=node.name,
                netns=node.netns,
                node_address=node.address,
                pod_network=str(POD_NETWORK),
                service_network=SERVICE_NETWORK,
            )
            found.append((f"proxy-{node.name}", proxy.run))
            found.append((f"policy-{node.name}", self.policies[node.name].run))
            agent = self.agents[node.name]
            mcd = MachineConfigDaemon(
                registry, agent=agent, files=agent.files, reboot_seconds=self.config.reboot_seconds
            )
            found.append((f"machine-config-daemon-{node.name}", mcd.run))
        found.append(("machine-config-operator", self.operator.run))
        return found

    def _spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            while True:
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("controller %s failed; restarting it", name)
                    await asyncio.sleep(1)

        self.tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(BaseException):
                await task
        for agent in self.agents.values():
            with contextlib.suppress(Exception):
                await agent.stop()
        if self._external_start is not None and not self._external_start.done():
            self._external_start.cancel()  # the lab failed to start: no one waits for it
        with contextlib.suppress(BaseException):
            if self._external_start is not None:
                await self._external_start
        with contextlib.suppress(Exception):
            await self.external.stop()
        self.book.end_all()
        await asyncio.to_thread(network.teardown, self.plan)
        await self.server.stop()

    def write_ready(self) -> None:
        me = record_of(os.getpid())
        data = {**me.to_json(), "port": self.server.port, "url": self.server.url, "ready": True}
        write_private(daemon_path(self.state), json.dumps(data).encode())

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop.set)
        try:
            await self.start()
            self.write_ready()
            log.info("lab %s ready on %s", self.config.lab_id, self.server.url)
            await self._stop.wait()
        finally:
            daemon_path(self.state).unlink(missing_ok=True)
            await self.stop()


class NodeRuntimes:
    """The API server's kubelet side: exec and logs go to the kubelet of the pod's node."""

    def __init__(self, agents: dict[str, NodeAgent]) -> None:
        self.agents = agents

    def _kubelet(self, node: str) -> Kubelet:
        agent = self.agents.get(node)
        if agent is None or not agent.up:
            raise ContainerNotAvailable(f"node {node} is not ready")
        return agent.kubelet

    async def exec(self, request: ExecRequest, streams: ExecStreams) -> int:
        return await self._kubelet(request.node).exec(request, streams)

    def logs(self, request: LogRequest) -> AsyncIterator[bytes]:
        return self._kubelet(request.node).logs(request)
