"""A node's kubelet: runs the pods bound to its node as processes in pod network namespaces.

One :class:`Kubelet` per node watches the pods whose ``spec.nodeName`` is its node and keeps one
:class:`PodWorker` per pod. A worker:

1. builds the sandbox (network namespace, routed veth, an address from the node's /23; a
   ``hostNetwork`` pod uses the node's namespace and address) and tells the node's SCTP service
   about the namespace;
2. runs init containers in order, then starts every container: the command and args run
   through :mod:`sctpctl.host.launcher` inside the namespace, with the container's environment,
   working directory, identity (``nobody`` unless the pod is privileged or asks for uid 0),
   hostPath volumes mapped into the node's root filesystem and the node's ``/sys/module``;
3. restarts exited containers as ``restartPolicy`` says, with the kubelet's back-off
   (``CrashLoopBackOff``), and publishes the pod status after every change (:mod:`podstatus`);
4. on deletion sends SIGTERM to every container's process group, SIGKILL after the grace period,
   removes the sandbox, and deletes the pod for good (grace period 0), as the real kubelet does.

Exec and logs (the :class:`~sctpctl.lab.runtime.PodRuntime` side) reach the worker of the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sctpctl.host.process import (
    Launch,
    Mount,
    ProcessRecord,
    container_process,
    launch,
    record_of,
    signal_group,
)
from sctpctl.host.process import tools_path as default_tools_path
from sctpctl.lab import containerlogs, events, sandbox
from sctpctl.lab.containerlogs import LogWriter
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.patch import PatchType
from sctpctl.lab.plan import LabPlan, NodePlan, allocate_pod_address
from sctpctl.lab.podstatus import ContainerStatus, next_backoff, pod_status
from sctpctl.lab.processbook import ProcessBook
from sctpctl.lab.registry import Registry
from sctpctl.lab.rootfs import NodeFiles, RootfsError
from sctpctl.lab.runtime import ContainerNotAvailable, ExecRequest, ExecStreams, LogRequest

log = logging.getLogger(__name__)

PODS = resource("pods")
NOBODY = 65534
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class PodNetworkHooks(Protocol):
    """What the node's SCTP service needs to know about pod namespaces."""

    async def attach(self, netns: str) -> None: ...

    async def detach(self, netns: str) -> None: ...


class NoHooks:
    async def attach(self, netns: str) -> None:
        return None

    async def detach(self, netns: str) -> None:
        return None


NetworkGate = Callable[[int], Awaitable[None]]
"Waits until the node's packet filters reflect the API at a resourceVersion."

GATE_TIMEOUT = 5.0
RETRY_SECONDS = 2.0
"How long the kubelet waits before building a pod again after a failure."


@dataclass(frozen=True)
class KubeletConfig:
    backoff: float = 10.0
    "The first restart back-off (it doubles up to five minutes, as the real kubelet's)."
    tools_path: str = ""
    "Put first on every container's PATH (sctpctl's own tools); default: this interpreter's."
    service_host: str = "172.30.0.1"
    dns_service: str = "172.30.0.10"
    "The cluster DNS Service address pods are told about (OpenShift's default)."


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` references (``$$`` escapes); unknown references stay as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def _field_value(pod: dict[str, Any], path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    return ""


@dataclass
class Run:
    """One run of a container."""

    process: asyncio.subprocess.Process
    record: ProcessRecord
    writer: LogWriter
    started: float
    pumps: list[asyncio.Task[None]]


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        spec = pod.get("spec") or {}
        self.spec = spec
        self.host_network = bool(spec.get("hostNetwork"))
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.netns: str | None = None
        self.address: str | None = None
        self.started = kubelet.clock()
        self.init = [
            ContainerStatus(c["name"], c.get("image", ""), init=True)
            for c in spec.get("initContainers") or []
        ]
        self.containers = [
            ContainerStatus(c["name"], c.get("image", "")) for c in spec.get("containers") or []
        ]
        previous = {
            s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []
        }
        for status in self.containers:
            old = previous.get(status.name)
            if old:  # a restart of the node: the count goes on
                status.restart_count = int(old.get("restartCount", 0)) + (
                    1 if "running" in (old.get("state") or {}) else 0
                )
        self.runs: dict[str, Run] = {}
        self.previous_logs: dict[str, Path] = {}
        self.launches: dict[str, Launch] = {}
        self.sandbox_ready = False
        self.changed = asyncio.Event()
        self.stopping: asyncio.Event = asyncio.Event()
        self.grace = 30.0
        self.deleted = False
        "No more status writes: the pod is gone, or the node is going down."
        self.removed = False
        "The pod is gone for good: its files go too."
        self.task: asyncio.Task[None] | None = None
        self._exec_processes: set[asyncio.subprocess.Process] = set()

    # --- the pod's life -----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self._live()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # As the real kubelet does with a sandbox it could not build: clean up
                    # and try again a little later.
                    log.exception("pod %s/%s failed in the kubelet", self.namespace, self.name)
                    await self._stop_containers(0.0)
                    await self._teardown()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), RETRY_SECONDS)
                    if self.stopping.is_set():
                        return
        finally:
            await self._stop_containers(self.grace if not self.deleted else 0.0)
            await self._teardown()

    async def _live(self) -> None:
        phase = (self.pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") and not self.pod["metadata"].get("deletionTimestamp"):
            await self.stopping.wait()  # a finished pod is not run again
            return
        await self._setup_sandbox()
        await self.publish()
        await self._wait_for_network_rules()
        for index, container in enumerate(self.spec.get("initContainers") or []):
            if not await self._run_init(index, container):
                return
        for index, container in enumerate(self.spec.get("containers") or []):
            await self._start(self.containers[index], container)
        await self.publish()
        await self._supervise()

    async def _setup_sandbox(self) -> None:
        kubelet = self.kubelet
        node = kubelet.node
        if self.host_network:
            self.netns, self.address = node.netns, node.address
        else:
            wanted = (self.pod.get("status") or {}).get("podIP")
            used = kubelet.addresses_in_use(exclude=self.uid)
            if not wanted or wanted in used or not _in_cidr(wanted, node.pod_cidr):
                wanted = allocate_pod_address(node.pod_cidr, used)
            self.address = wanted
            kubelet.reserve(self.uid, wanted)
            self.netns = await asyncio.to_thread(
                sandbox.create, kubelet.plan, node, self.uid, wanted
            )
            await kubelet.hooks.attach(self.netns)
        self.sandbox_ready = True

    async def _wait_for_network_rules(self) -> None:
        """Start containers only once the node's policy rules know this pod's address."""
        gate = self.kubelet.network_gate
        if gate is None or self.host_network:
            return
        version = int(self.pod["metadata"].get("resourceVersion") or 0)
        try:
            await asyncio.wait_for(gate(version), GATE_TIMEOUT)
        except TimeoutError:
            log.warning(
                "pod %s/%s: policy rules not confirmed after %.0f s; starting anyway",
                self.namespace, self.name, GATE_TIMEOUT,
            )  # fmt: skip

    async def _teardown(self) -> None:
        if self.netns and not self.host_network:
            with contextlib.suppress(Exception):
                await self.kubelet.hooks.detach(self.netns)
            try:
                await asyncio.to_thread(
                    sandbox.destroy, self.kubelet.plan, self.kubelet.node, self.uid
                )
            except Exception:
                log.exception("removing the sandbox of %s/%s", self.namespace, self.name)
        self.kubelet.release(self.uid)
        self.sandbox_ready = False

    async def _run_init(self, index: int, container: dict[str, Any]) -> bool:
        status = self.init[index]
        backoff = 0.0
        while not self.stopping.is_set():
            await self._start(status, container)
            code = await self._wait_exit(status)
            await self.publish()
            if code == 0:
                return True
            if self.restart_policy == "Never":
                return False
            backoff = next_backoff(backoff, self.kubelet.config.backoff)
            status.restart_count += 1
            status.last_state = status.state
            status.set_waiting(
                "CrashLoopBackOff", f"back-off restarting failed container {status.name}"
            )
            await self.publish()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), backoff)
        return False

    async def _wait_exit(self, status: ContainerStatus) -> int:
        run = self.runs.get(status.name)
        if run is None:
            terminated = status.terminated or {}
            return int(terminated.get("exitCode", 128))
        code = await run.process.wait()
        await self._finish(status, run, code)
        return code

    async def _supervise(self) -> None:
        """Restart containers as the policy says, until the pod stops or ends."""
        backoffs: dict[str, float] = {}
        specs = {c["name"]: c for c in self.spec.get("containers") or []}
        restart_at: dict[str, float] = {}
        while not self.stopping.is_set():
            waits: dict[asyncio.Task[int], ContainerStatus] = {}
            for status in self.containers:
                run = self.runs.get(status.name)
                if run is not None:
                    waits[asyncio.ensure_future(run.process.wait())] = status
            stop = asyncio.ensure_future(self.stopping.wait())
            timeout = None
            if restart_at:
                timeout = max(0.0, min(restart_at.values()) - time.monotonic())
            if not waits and not restart_at:
                await stop
                return
            done, pending = await asyncio.wait(
                {*waits, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if self.stopping.is_set():
                return
            for task in done:
                if task is stop:
                    continue
                status = waits[task]
                run = self.runs[status.name]
                code = task.result()
                await self._finish(status, run, code)
                if self.restart_policy == "Always" or (
                    self.restart_policy == "OnFailure" and code != 0
                ):
                    ran = time.monotonic() - run.started
                    previous = backoffs.get(status.name, 0.0)
                    if ran > 600:  # ran long enough: the back-off starts over
                        previous = 0.0
                    delay = next_backoff(previous, self.kubelet.config.backoff)
                    backoffs[status.name] = delay
                    if code != 0 or previous > 0:
                        status.last_state = status.state
                        await self._event(
                            "BackOff",
                            f"Back-off restarting failed container {status.name} in pod "
                            f"{self.name}_{self.namespace}({self.uid})",
                            warning=True,
                        )
                        status.set_waiting(
                            "CrashLoopBackOff",
                            f"back-off {int(delay)}s restarting failed container="
                            f"{status.name} pod={self.name}_{self.namespace}({self.uid})",
                        )
                        restart_at[status.name] = time.monotonic() + delay
                    else:
                        restart_at[status.name] = time.monotonic()
            now = time.monotonic()
            for name, when in list(restart_at.items()):
                if when <= now:
                    del restart_at[name]
                    status = next(s for s in self.containers if s.name == name)
                    if status.terminated is not None:
                        status.last_state = status.state
                    status.restart_count += 1
                    await self._start(status, specs[name])
            await self.publish()

    # --- containers ---------------------------------------------------------------------------

    def _identity(self, container: dict[str, Any]) -> tuple[int, int, tuple[int, ...]]:
        pod_context = self.spec.get("securityContext") or {}
        context = container.get("securityContext") or {}
        user = context.get("runAsUser", pod_context.get("runAsUser"))
        group = context.get("runAsGroup", pod_context.get("runAsGroup"))
        if context.get("privileged") and user is None:
            user = 0
        uid = NOBODY if user is None else int(user)
        gid = int(group) if group is not None else (0 if uid == 0 else NOBODY)
        groups = tuple(int(g) for g in pod_context.get("supplementalGroups") or [])
        if pod_context.get("fsGroup") is not None:
            groups += (int(pod_context["fsGroup"]),)
        return uid, gid, groups

    def _environment(self, container: dict[str, Any], uid: int) -> dict[str, str]:
        kubelet = self.kubelet
        env = {
            "PATH": f"{kubelet.tools_path}:{SYSTEM_PATH}",
            "HOSTNAME": self.name if not self.host_network else kubelet.node.name,
            "HOME": "/root" if uid == 0 else "/",
            "KUBERNETES_SERVICE_HOST": kubelet.config.service_host,
            "KUBERNETES_SERVICE_PORT": "443",
            "KUBERNETES_SERVICE_PORT_HTTPS": "443",
            "KUBERNETES_PORT": f"tcp://{kubelet.config.service_host}:443",
        }
        for item in container.get("env") or []:
            name = item.get("name")
            if not name:
                continue
            if "value" in item:
                env[name] = expand(str(item.get("value") or ""), env)
            elif (item.get("valueFrom") or {}).get("fieldRef"):
                env[name] = _field_value(
                    self.pod, item["valueFrom"]["fieldRef"].get("fieldPath", "")
                )
        return env

    def _mounts(self, container: dict[str, Any]) -> tuple[Mount, ...]:
        files = self.kubelet.files
        volumes = {v.get("name"): v for v in self.spec.get("volumes") or []}
        mounts = []
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"))
            if volume is None:
                raise ContainerConfigError(f'volume "{mount.get("name")}" not found')
            if "hostPath" in volume:
                source = files.host_path(volume["hostPath"].get("path", ""))
                kind = volume["hostPath"].get("type") or ""
                if not source.exists():
                    if kind in ("", "DirectoryOrCreate"):
                        source.mkdir(parents=True, exist_ok=True)
                    elif kind == "FileOrCreate":
                        source.parent.mkdir(parents=True, exist_ok=True)
                        source.touch()
                    else:
                        raise ContainerConfigError(
                            f"hostPath type check failed: {volume['hostPath'].get('path')} "
                            f"is not a {kind}"
                        )
            elif "emptyDir" in volume:
                source = files.pod_dir(self.uid) / "volumes" / str(volume.get("name"))
                source.mkdir(parents=True, exist_ok=True)
                source.chmod(0o777)
            else:
                kinds = sorted(k for k in volume if k != "name")
                raise ContainerConfigError(
                    f"volume {volume.get('name')}: {', '.join(kinds)} volumes are not supported "
                    "in the lab (hostPath and emptyDir are)"
                )
            if mount.get("subPath"):
                source = source / str(mount["subPath"]).lstrip("/")
                source.mkdir(parents=True, exist_ok=True)
            mounts.append(
                Mount(str(source), str(mount.get("mountPath")), bool(mount.get("readOnly")))
            )
        return tuple(mounts)

    def _launch_spec(self, container: dict[str, Any]) -> Launch:
        uid, gid, groups = self._identity(container)
        env = self._environment(container, uid)
        command = [expand(str(c), env) for c in container.get("command") or []]
        args = [expand(str(a), env) for a in container.get("args") or []]
        argv = command + args if command else args
        if not argv:
            raise ContainerConfigError(
                "no command specified: the lab runs no images, so a container needs a command"
            )
        assert self.netns is not None
        return Launch(
            argv=tuple(argv),
            env=env,
            netns=self.netns,
            cwd=container.get("workingDir") or "/",
            uid=uid,
            gid=gid,
            groups=groups,
            hostname=None if self.host_network else self.name,
            mounts=self._name_files() + self._mounts(container),
            sys_module=str(self.kubelet.files.host_path("/sys/module")),
        )

    def _name_files(self) -> tuple[Mount, ...]:
        """The ``/etc/hosts`` and ``/etc/resolv.conf`` a kubelet gives each pod: its own name
        and address, and the cluster DNS service (the lab runs none, so lookups fail at once
        with port-unreachable instead of waiting on an address outside the lab)."""
        if self.host_network or self.address is None:
            return ()
        folder = self.kubelet.files.pod_dir(self.uid)
        folder.mkdir(parents=True, exist_ok=True)
        hosts, resolv = folder / "etc-hosts", folder / "resolv.conf"
        hosts.write_text(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{self.address}\t{self.name}\n"
        )
        resolv.write_text(
            f"search {self.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            f"nameserver {self.kubelet.config.dns_service}\noptions ndots:5\n"
        )
        return (
            Mount(str(hosts), "/etc/hosts", readonly=True),
            Mount(str(resolv), "/etc/resolv.conf", readonly=True),
        )

    async def _start(self, status: ContainerStatus, container: dict[str, Any]) -> None:
        kubelet = self.kubelet
        try:
            spec = self._launch_spec(container)
        except (ContainerConfigError, RootfsError) as error:
            status.set_waiting("CreateContainerConfigError", str(error))
            await self._event("Failed", f"Error: {error}", warning=True)
            return
        self.launches[status.name] = spec
        path = kubelet.files.pod_dir(self.uid) / status.name / f"{status.restart_count}.log"
        writer = LogWriter(path, kubelet.clock)
        process = await launch(spec)
        record = record_of(process.pid)
        kubelet.book.add(record, f"container {self.namespace}/{self.name}/{status.name}")
        assert process.stdout is not None and process.stderr is not None
        pumps = [
            asyncio.create_task(writer.pump("stdout", process.stdout)),
            asyncio.create_task(writer.pump("stderr", process.stderr)),
        ]
        self.runs[status.name] = Run(process, record, writer, time.monotonic(), pumps)
        status.set_running(kubelet.clock())
        self.changed.set()
        image = container.get("image", "")
        await self._event("Pulled", f'Container image "{image}" already present on machine')
        await self._event("Created", f"Created container: {status.name}")
        await self._event("Started", f"Started container {status.name}")

    async def _event(self, reason: str, message: str, *, warning: bool = False) -> None:
        if not self.deleted:
            await events.record(
                self.kubelet.registry, self.pod, reason, message,
                component="kubelet", host=self.kubelet.node.name, warning=warning,
            )  # fmt: skip

    async def _finish(self, status: ContainerStatus, run: Run, code: int) -> None:
        if code < 0:  # killed by a signal: the shell's convention
            code = 128 - code
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*run.pumps), 2)
        run.writer.close()
        self.kubelet.book.remove(run.record)
        if self.runs.get(status.name) is run:
            del self.runs[status.name]
        self.previous_logs[status.name] = run.writer.path
        status.set_terminated(
            code, self.kubelet.clock(), run.started - time.monotonic() + self.kubelet.clock()
        )
        self.changed.set()

    async def _stop_containers(self, grace: float) -> None:
        """SIGTERM every container's group, SIGKILL what is left after ``grace`` seconds."""
        runs = list(self.runs.items())
        for name, run in runs:
            await self._event("Killing", f"Stopping container {name}")
            signal_group(run.record, signal.SIGTERM)
        for process in list(self._exec_processes):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        if runs:
            waits = [asyncio.ensure_future(run.process.wait()) for _n, run in runs]
            _done, pending = await asyncio.wait(waits, timeout=grace)
            for task in pending:
                task.cancel()
            for _name, run in runs:
                if run.process.returncode is None:
                    signal_group(run.record, signal.SIGKILL)
            for name, run in runs:
                code = await run.process.wait()
                status = next((s for s in self.containers + self.init if s.name == name), None)
                if status is not None:
                    await self._finish(status, run, code)

    # --- status -------------------------------------------------------------------------------

    async def publish(self) -> None:
        """Write the pod's status (a merge patch of ``status``: never conflicts)."""
        if self.deleted:
            return
        status = pod_status(
            previous=self.pod.get("status") or {},
            containers=self.containers,
            init=self.init,
            restart_policy=self.restart_policy,
            sandbox_ready=self.sandbox_ready,
            host_ip=self.kubelet.node.address,
            pod_ip=self.address,
            started=self.started,
            now=self.kubelet.clock(),
        )
        try:
            updated, _ = await self.kubelet.registry.patch(
                PODS,
                self.name,
                {"status": status},
                PatchType.MERGE,
                self.namespace,
                subresource="status",
            )
        except StatusError as error:
            if error.code != 404:
                raise
            return
        self.pod = updated

    def stop(self, grace: float) -> None:
        self.grace = grace
        self.stopping.set()

    # --- exec and logs ------------------------------------------------------------------------

    async def exec(self, request: ExecRequest, streams: ExecStreams) -> int:
        spec = self.launches.get(request.container)
        first = await self._first_process(request.container)
        if spec is None or first is None:
            raise ContainerNotAvailable(
                f"container {request.container} is not running in pod {request.pod}"
            )
        command = Launch(
            argv=request.command,
            env=spec.env,
            netns=spec.netns,
            cwd=spec.cwd,
            uid=spec.uid,
            gid=spec.gid,
            groups=spec.groups,
            join=first,
        )
        process = await launch(command, stdin=True)
        record = record_of(process.pid)
        self.kubelet.book.add(record, f"exec {request.namespace}/{request.pod}")
        self._exec_processes.add(process)
        assert process.stdin and process.stdout and process.stderr

        async def feed() -> None:
            assert process.stdin
            with contextlib.suppress(ConnectionError, BrokenPipeError):
                while data := await streams.read_stdin():
                    process.stdin.write(data)
                    await process.stdin.drain()
            process.stdin.close()

        async def copy(
            source: asyncio.StreamReader, sink: Callable[[bytes], Awaitable[None]]
        ) -> None:
            while chunk := await source.read(65536):
                await sink(chunk)

        feeder = asyncio.create_task(feed())
        try:
            await asyncio.gather(
                copy(process.stdout, streams.write_stdout),
                copy(process.stderr, streams.write_stderr),
            )
            code = await process.wait()
            return 128 - code if code < 0 else code
        finally:
            feeder.cancel()
            if process.returncode is None:
                signal_group(record, signal.SIGKILL)
                await process.wait()
            self._exec_processes.discard(process)
            self.kubelet.book.remove(record)

    async def _first_process(self, container: str) -> int | None:
        """The container's PID 1; a container started a moment ago may still be setting up
        its namespaces, so wait for it a little."""
        for _ in range(40):
            run = self.runs.get(container)
            if run is None or run.process.returncode is not None:
                return None
            first = container_process(run.record)
            if first is not None:
                return first
            await asyncio.sleep(0.05)
        return None

    def logs(self, request: LogRequest) -> AsyncIterator[bytes]:
        status = next((s for s in self.containers + self.init if s.name == request.container), None)
        if status is None:
            raise ContainerNotAvailable(f"container {request.container} is not valid")
        folder = self.kubelet.files.pod_dir(self.uid) / request.container
        since = None
        if request.since_seconds is not None:
            since = self.kubelet.clock() - request.since_seconds
        if request.previous:
            path = folder / f"{status.restart_count - 1}.log"
            if status.restart_count == 0 or not path.exists():
                raise ContainerNotAvailable(
                    f'previous terminated container "{request.container}" in pod '
                    f'"{request.pod}" not found'
                )
            return containerlogs.follow(
                path, tail_lines=request.tail_lines, since=since,
                timestamps=request.timestamps, running=lambda: None,
            )  # fmt: skip
        run = self.runs.get(request.container)
        if run is not None:
            path = run.writer.path
        else:
            # The last run: this worker's, or (after the daemon restarted) the newest file.
            found = self.previous_logs.get(request.container) or _newest_log(folder)
            if found is None:
                raise ContainerNotAvailable(
                    f'container "{request.container}" in pod "{request.pod}" is waiting to start'
                )
            path = found
        name = request.container

        def running() -> LogWriter | None:
            current = self.runs.get(name)
            return current.writer if current is not None and request.follow else None

        return containerlogs.follow(
            path, tail_lines=request.tail_lines, since=since,
            timestamps=request.timestamps, running=running,
        )  # fmt: skip


def _newest_log(folder: Path) -> Path | None:
    runs = [p for p in folder.glob("*.log") if p.stem.isdigit()]
    return max(runs, key=lambda p: int(p.stem), default=None)


class ContainerConfigError(Exception):
    """A container the kubelet cannot create (shown as ``CreateContainerConfigError``)."""


def _in_cidr(address: str, cidr: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(address) in ipaddress.ip_network(cidr)


class Kubelet:
    def __init__(
        self,
        *,
        registry: Registry,
        plan: LabPlan,
        node: NodePlan,
        files: NodeFiles,
        book: ProcessBook,
        config: KubeletConfig | None = None,
        hooks: PodNetworkHooks | None = None,
        network_gate: NetworkGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.plan = plan
        self.node = node
        self.files = files
        self.book = book
        self.config = config or KubeletConfig()
        self.hooks: PodNetworkHooks = hooks or NoHooks()
        self.network_gate = network_gate
        self.clock = clock
        self.tools_path = self.config.tools_path or default_tools_path()
        self.workers: dict[str, PodWorker] = {}
        self._addresses: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    # addresses of this node's pods (reserved while a worker holds them)
    def addresses_in_use(self, *, exclude: str) -> set[str]:
        return {a for uid, a in self._addresses.items() if uid != exclude}

    def reserve(self, uid: str, address: str) -> None:
        self._addresses[uid] = address

    def release(self, uid: str) -> None:
        self._addresses.pop(uid, None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._collect_garbage()
            self._task = asyncio.create_task(self._watch(), name=f"kubelet-{self.node.name}")

    async def shutdown(self) -> None:
        """Stop watching and stop every pod (a node going down): containers get SIGTERM with a
        short grace, sandboxes go; the pods stay in the API."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        workers = list(self.workers.values())
        self.workers.clear()
        for worker in workers:
            worker.deleted = True  # no status writes while the node is down
            worker.stop(1.0)
        for worker in workers:
            if worker.task is not None:
                with contextlib.suppress(BaseException):
                    await worker.task

    async def _watch(self) -> None:
        selector = f"spec.nodeName={self.node.name}"
        while True:
            try:
                async for event in self.registry.watch(PODS, field_selector=selector):
                    await self._handle(event.type, event.object)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("kubelet %s: watch failed; starting over", self.node.name)
                await asyncio.sleep(0.5)

    async def _handle(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        worker = self.workers.get(uid)
        if kind == "ERROR":
            return
        if kind == "DELETED":
            if worker is not None:
                worker.deleted = worker.removed = True
                worker.stop(0.0)
                self.workers.pop(uid, None)
            else:
                self._forget(uid)
            return
        if worker is None:
            if meta.get("deletionTimestamp"):
                # Never started here (or the node restarted): nothing to stop.
                await self._finalize(pod)
                self._forget(uid)
                return
            worker = PodWorker(self, pod)
            self.workers[uid] = worker
            worker.task = asyncio.create_task(self._run_worker(worker), name=f"pod-{meta['name']}")
            return
        worker.pod["metadata"] = meta
        if meta.get("deletionTimestamp") and not worker.stopping.is_set():
            worker.stop(float(meta.get("deletionGracePeriodSeconds") or 0))

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        finally:
            if self.workers.get(worker.uid) is worker:
                del self.workers[worker.uid]
            if worker.stopping.is_set() and not worker.deleted:
                await self._finalize(worker.pod)
                worker.removed = True
            if worker.removed:
                self._forget(worker.uid)

    def _forget(self, uid: str) -> None:
        """Remove a deleted pod's folder (logs, emptyDir volumes, hosts files), as the kubelet
        garbage-collects them."""
        shutil.rmtree(self.files.pod_dir(uid), ignore_errors=True)

    def _collect_garbage(self) -> None:
        """At start: the folders of pods that were deleted while this kubelet was not running."""
        if not self.files.pods.is_dir():
            return
        known = {
            p["metadata"]["uid"]
            for p in self.registry.peek(PODS)
            if (p.get("spec") or {}).get("nodeName") == self.node.name
        }
        for folder in self.files.pods.iterdir():
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)

    async def _finalize(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        try:
            await self.registry.delete(
                PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                preconditions={"uid": meta["uid"]},
            )  # fmt: skip
        except StatusError as error:
            if error.code not in (404, 409):
                raise

    # --- the PodRuntime side ------------------------------------------------------------------

    def worker_for(self, namespace: str, name: str) -> PodWorker:
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == name:
                return worker
        raise ContainerNotAvailable(f"pod {namespace}/{name} is not running on {self.node.name}")

    async def exec(self, request: ExecRequest, streams: ExecStreams) -> int:
        return await self.worker_for(request.namespace, request.pod).exec(request, streams)

    def logs(self, request: LogRequest) -> AsyncIterator[bytes]:
        return self.worker_for(request.namespace, request.pod).logs(request)
