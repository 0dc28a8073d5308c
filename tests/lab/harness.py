"""A running lab API server for tests: its own thread and event loop, a fake kubelet, kubectl.

The fake kubelet does, through the registry's in-process API, what the lab's real kubelet will:
it binds new pods to a node, reports them Running, finishes graceful deletions, and serves exec
(by running the command on this machine) and logs (lines it keeps per container).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sctpctl.lab import nodes
from sctpctl.lab.kinds import resource
from sctpctl.lab.plan import NodePlan, make_plan
from sctpctl.lab.podstatus import ContainerStatus, pod_status
from sctpctl.lab.registry import Registry
from sctpctl.lab.runtime import ContainerNotAvailable, ExecRequest, ExecStreams, LogRequest
from sctpctl.lab.server import LabApiServer
from sctpctl.lab.state import LabState

T = TypeVar("T")
KUBECTL = "/usr/bin/kubectl"
PLAN = make_plan("test", masters=1, workers=2)
NODES = tuple(node.name for node in PLAN.nodes)


def node_object(node: NodePlan) -> dict[str, Any]:
    """The Node the lab's kubelet registers for ``node``, Ready."""
    registered = nodes.node_object(node)
    registered["status"] = nodes.node_status(
        node, ready="True", previous={}, boot_id=f"boot-{node.name}", now=time.time()
    )
    return registered


class FakeKubelet:
    """Runs pods in name only; exec runs the command on the host, logs come from memory."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.logs_by_container: dict[tuple[str, str, str], list[tuple[float, bytes]]] = {}
        self.exec_requests: list[ExecRequest] = []

    async def run(self) -> None:
        pods = resource("pods")
        async for event in self.registry.watch(pods):
            pod = event.object
            meta, spec = pod["metadata"], pod.get("spec") or {}
            if event.type == "DELETED":
                continue
            try:
                if meta.get("deletionTimestamp"):
                    await self.registry.delete(
                        pods, meta["name"], meta["namespace"], grace_period_seconds=0
                    )
                elif not spec.get("nodeName"):
                    await self.registry.bind(meta["namespace"], meta["name"], "worker-0")
                elif (pod.get("status") or {}).get("phase") == "Pending":
                    await self._start(pod)
            except Exception as error:
                print(f"fake kubelet: {error}")

    async def _start(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        node = next((n for n in PLAN.nodes if n.name == spec["nodeName"]), PLAN.nodes[0])
        for container in spec["containers"]:
            key = (meta["namespace"], meta["name"], container["name"])
            self.logs_by_container[key] = [
                (time.time(), f"{container['name']} started\n".encode()),
                (time.time(), b"listening on 30102\n"),
            ]
        containers = [ContainerStatus(c["name"], c.get("image", "")) for c in spec["containers"]]
        for container in containers:
            container.set_running(time.time())
        # The status the lab's kubelet publishes, so clients that check the shape (the
        # pydantic models of ``kubernetes`` 37) see what they would see on a lab.
        status = pod_status(
            previous=pod.get("status") or {},
            containers=containers,
            init=[],
            restart_policy=spec.get("restartPolicy", "Always"),
            sandbox_ready=True,
            host_ip=node.address,
            pod_ip=f"10.128.{2 * node.index}.{10 + len(self.logs_by_container)}",
            started=time.time(),
            now=time.time(),
        )
        body = dict(pod)
        body["status"] = status
        await self.registry.update(resource("pods"), body, meta["namespace"], subresource="status")

    async def exec(self, request: ExecRequest, streams: ExecStreams) -> int:
        self.exec_requests.append(request)
        if request.container == "stopped":
            raise ContainerNotAvailable(f"container {request.container} is not running")
        process = await asyncio.create_subprocess_exec(
            *request.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin and process.stdout and process.stderr

        async def feed() -> None:
            assert process.stdin
            while data := await streams.read_stdin():
                process.stdin.write(data)
                await process.stdin.drain()
            process.stdin.close()

        async def copy(
            source: asyncio.StreamReader, sink: Callable[[bytes], Coroutine[Any, Any, None]]
        ) -> None:
            while chunk := await source.read(65536):
                await sink(chunk)

        feeder = asyncio.create_task(feed())
        try:
            await asyncio.gather(
                copy(process.stdout, streams.write_stdout),
                copy(process.stderr, streams.write_stderr),
            )
            return await process.wait()
        finally:
            feeder.cancel()
            if process.returncode is None:
                process.kill()
                await process.wait()

    def logs(self, request: LogRequest) -> AsyncIterator[bytes]:
        # Refused at once, before any streaming, as the lab's kubelet does.
        if request.previous:
            raise ContainerNotAvailable(
                f'previous terminated container "{request.container}" in pod "{request.pod}" '
                "not found"
            )
        return self._lines(request)

    async def _lines(self, request: LogRequest) -> AsyncIterator[bytes]:
        key = (request.namespace, request.pod, request.container)
        lines = list(self.logs_by_container.get(key, []))
        if request.tail_lines is not None:
            lines = lines[len(lines) - request.tail_lines :] if request.tail_lines else []

        def render(when: float, line: bytes) -> bytes:
            if not request.timestamps:
                return line
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
            return f"{stamp}.{int(when % 1 * 1e9):09d}Z ".encode() + line

        for when, line in lines:
            yield render(when, line)
        if request.follow:
            # The container writes one more line and exits, which ends a followed stream.
            await asyncio.sleep(0.3)
            yield render(time.time(), b"finished\n")


class LabThread:
    """A lab API server with a fake kubelet and three nodes, in a background thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = LabState(root / "state")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = LabApiServer(self.state, port=0)
        self.kubelet: FakeKubelet | None = None
        self._kubelet_task: asyncio.Task[None] | None = None

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self, *, kubelet: bool = True) -> LabThread:
        self.thread.start()
        self.call(self._start(kubelet))
        return self

    async def _start(self, kubelet: bool) -> None:
        await self.server.start()
        for node in PLAN.nodes:
            with contextlib.suppress(Exception):
                await self.server.registry.create(resource("nodes"), node_object(node))
        if kubelet:
            self.kubelet = FakeKubelet(self.server.registry)
            self.server.set_runtime(self.kubelet)
            self._kubelet_task = asyncio.create_task(self.kubelet.run())

    async def _stop(self) -> None:
        if self._kubelet_task is not None:
            self._kubelet_task.cancel()
            with contextlib.suppress(BaseException):
                await self._kubelet_task
        await self.server.stop()

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    @property
    def registry(self) -> Registry:
        return self.server.registry

    def env(self) -> dict[str, str]:
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(self.state.kubeconfig),
            "KUBECACHEDIR": str(home / "cache"),
        }

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 30, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [KUBECTL, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            cwd=self.root,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result
