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

from sctpctl.lab.kinds import resource
from sctpctl.lab.registry import Registry, timestamp
from sctpctl.lab.runtime import ContainerNotAvailable, ExecRequest, ExecStreams, LogRequest
from sctpctl.lab.server import LabApiServer
from sctpctl.lab.state import LabState

T = TypeVar("T")
KUBECTL = "/usr/bin/kubectl"
NODES = ("master-0", "worker-0", "worker-1")


def node_object(name: str, index: int) -> dict[str, Any]:
    role = "master" if name.startswith("master") else "worker"
    now = timestamp(time.time())
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                f"node-role.kubernetes.io/{role}": "",
            },
        },
        "spec": {"podCIDR": f"10.128.{2 * index}.0/23"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                 "lastTransitionTime": now},
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"198.18.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Lab Linux",
                         "kernelVersion": "6.x", "containerRuntimeVersion": "lab://1.0"},
        },
    }  # fmt: skip


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
        now = timestamp(time.time())
        index = NODES.index(spec["nodeName"]) if spec["nodeName"] in NODES else 0
        for container in spec["containers"]:
            key = (meta["namespace"], meta["name"], container["name"])
            self.logs_by_container[key] = [
                (time.time(), f"{container['name']} started\n".encode()),
                (time.time(), b"listening on 30102\n"),
            ]
        status = dict(pod.get("status") or {})
        status.update(
            {
                "phase": "Running",
                "hostIP": f"198.18.0.{10 + index}",
                "podIP": f"10.128.{2 * index}.{10 + len(self.logs_by_container)}",
                "startTime": now,
                "conditions": [
                    {"type": t, "status": "True", "lastTransitionTime": now}
                    for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                              "ContainersReady", "PodScheduled")
                ],
                "containerStatuses": [
                    {"name": c["name"], "ready": True, "restartCount": 0, "started": True,
                     "image": c.get("image", ""), "state": {"running": {"startedAt": now}}}
                    for c in spec["containers"]
                ],
            }
        )  # fmt: skip
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
        nodes = resource("nodes")
        for index, name in enumerate(NODES):
            with contextlib.suppress(Exception):
                await self.server.registry.create(nodes, node_object(name, index))
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
