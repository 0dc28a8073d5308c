"""The short-lived pods that read each node's sctp module state for ``sctpctl status``.

One pod per node, pinned by ``nodeName`` (so cordons and scheduling taints do not keep it away;
it tolerates every taint), runs ``sctpctl node-state`` from sctpctl's image with the node's
``/etc/modprobe.d``, ``/etc/modules-load.d`` and ``/lib/modules`` mounted read-only, prints one
JSON report and exits (:mod:`sctpctl.enable.nodestate`). The pods are unprivileged, drop every
capability and cannot write the host paths.

They carry the label ``sctpctl.io/status=<run id>`` and live in a namespace the run creates
(``sctpctl-status-<run id>``, removed at the end) or in the one given with ``-n``. Whatever
happens (success, a failure, a timeout, Ctrl-C) the pods are deleted by that label and the
created namespace with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sctpctl.enable.access import Access, check_access, naming
from sctpctl.enable.nodestate import ModuleReport
from sctpctl.enable.observe import Snapshot, Watched, observe
from sctpctl.k8s.client import Client, Obj
from sctpctl.k8s.errors import K8sError, NotFound
from sctpctl.manifests.verification import DEFAULT_IMAGE

log = logging.getLogger(__name__)

RUN_LABEL = "sctpctl.io/status"
MANAGED_BY = {"app.kubernetes.io/managed-by": "sctpctl"}
NAMESPACE_PREFIX = "sctpctl-status-"
CONTAINER = "node-state"
HOST_ROOT = "/host"
HOST_PATHS = (
    ("modprobe-d", "/etc/modprobe.d"),
    ("modules-load-d", "/etc/modules-load.d"),
    ("lib-modules", "/lib/modules"),
)
DEFAULT_TIMEOUT = 120.0
CREATE_AT_ONCE = 16
"Check pods created concurrently (a large cluster does not wait for them one by one)."
WAITING_FAILURES = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "CrashLoopBackOff",
    }
)
"Container waiting reasons that will not go away by waiting longer."


def check_command() -> list[str]:
    return ["sctpctl", "node-state", "--root", HOST_ROOT, "-o", "json"]


def check_pod(node: str, *, run_id: str, namespace: str, image: str = DEFAULT_IMAGE) -> Obj:
    """The pod that checks one node."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "sctpctl-node-state-",
            "namespace": namespace,
            "labels": {**MANAGED_BY, RUN_LABEL: run_id},
        },
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "command": check_command(),
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                    "volumeMounts": [
                        {"name": volume, "mountPath": HOST_ROOT + path, "readOnly": True}
                        for volume, path in HOST_PATHS
                    ],
                }
            ],
            # type Directory: a missing path fails the pod instead of being created on the node
            "volumes": [
                {"name": volume, "hostPath": {"path": path, "type": "Directory"}}
                for volume, path in HOST_PATHS
            ],
        },
    }


def run_namespace(run_id: str) -> Obj:
    """The namespace a run creates: hostPath volumes need the ``privileged`` Pod Security level
    (OpenShift's label synchroniser is told to leave that alone)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE_PREFIX + run_id,
            "labels": {
                **MANAGED_BY,
                RUN_LABEL: run_id,
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/audit": "privileged",
                "pod-security.kubernetes.io/warn": "privileged",
                "security.openshift.io/scc.podSecurityLabelSync": "false",
            },
        },
    }


def _waiting_reason(pod: Obj) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in WAITING_FAILURES:
            return f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    return ""


def _failure(pod: Obj) -> str:
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated:
            return (
                f"the check exited {terminated.get('exitCode')}"
                + (f" ({terminated['reason']})" if terminated.get("reason") else "")
                + (f": {terminated['message']}" if terminated.get("message") else "")
            )
    return str(status.get("message") or status.get("reason") or "the check pod failed")


def parse_report(text: str) -> ModuleReport:
    """The report in a check pod's output (a JSON document, possibly after other lines)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in the check's output")
    return ModuleReport.from_json(json.loads(text[start:]))


@dataclass
class _Waiter:
    pods: Watched
    names: Mapping[str, str]
    "The check pod of each node, by pod name."
    finished: dict[str, Obj] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    "Nodes whose pod was deleted before it finished (a drain deletes every pod but DaemonSets')."

    def decide(self, snapshot: Snapshot) -> bool | None:
        present = snapshot.by_name(self.pods)
        for node, name in self.names.items():
            pod = present.get(name)
            if pod is None:
                if node not in self.finished:
                    self.gone.add(node)
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed") or _waiting_reason(pod):
                self.finished[node] = pod
        return True if set(self.finished) | self.gone >= set(self.names) else None


async def _report_of(client: Client, pod: Obj) -> ModuleReport:
    meta = pod["metadata"]
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Succeeded":
        reason = _waiting_reason(pod) or _failure(pod)
        with contextlib.suppress(K8sError):
            tail = await client.logs(meta["namespace"], meta["name"], tail_lines=3)
            if tail.strip():
                reason += f"; output: {tail.strip()}"
        return ModuleReport.unknown(reason)
    with naming("get", "pods/log", meta["namespace"]):
        output = await client.logs(meta["namespace"], meta["name"])
    try:
        return parse_report(output)
    except ValueError as error:
        return ModuleReport.unknown(f"the check printed no report ({error}): {output[:200]!r}")


async def check_nodes(
    client: Client,
    nodes: Sequence[str],
    *,
    namespace: str | None = None,
    image: str = DEFAULT_IMAGE,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (bounds the pods' whole run)
) -> Mapping[str, ModuleReport]:
    """Run the check on every node in ``nodes`` and return each node's report; a node whose
    pod fails or does not finish in time gets an ``unknown`` report saying why."""
    if not nodes:
        return {}
    run_id = secrets.token_hex(4)
    created = namespace is None
    where = NAMESPACE_PREFIX + run_id if namespace is None else namespace
    needed = [Access("create", "namespaces")] if created else []
    needed += [
        Access("create", "pods", where),
        Access("watch", "pods", where),
        Access("get", "pods/log", where),
        Access("deletecollection", "pods", where),
    ]
    await check_access(client, needed)
    reports: dict[str, ModuleReport] = {}
    try:
        if created:
            with naming("create", "namespaces"):
                await client.create(run_namespace(run_id))
        names = await _create_pods(client, nodes, run_id=run_id, namespace=where, image=image)
        waiter = _Waiter(Watched("v1", "Pod", where, f"{RUN_LABEL}={run_id}"), names)
        with contextlib.suppress(TimeoutError), naming("watch", "pods", where):
            await observe(client, (waiter.pods,), waiter.decide, timeout=timeout)
        for node in nodes:
            pod = waiter.finished.get(node)
            if pod is not None:
                reports[node] = await _report_of(client, pod)
            elif node in waiter.gone:
                reports[node] = ModuleReport.unknown(
                    "the check pod was deleted before it finished (is the node being drained?)"
                )
            else:
                reports[node] = ModuleReport.unknown(
                    f"the check pod did not finish within {timeout:g} s"
                )
        return reports
    finally:
        await _clean_up(client, where, run_id, created)


async def _create_pods(
    client: Client, nodes: Sequence[str], *, run_id: str, namespace: str, image: str
) -> dict[str, str]:
    """Create every node's pod, a few at a time; returns the pod name of each node."""
    gate = asyncio.Semaphore(CREATE_AT_ONCE)

    async def create(node: str) -> tuple[str, str]:
        async with gate:
            with naming("create", "pods", namespace):
                made = await client.create(
                    check_pod(node, run_id=run_id, namespace=namespace, image=image)
                )
        return node, str(made["metadata"]["name"])

    # a TaskGroup: one refusal cancels the other creations before the cleanup runs
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(create(node)) for node in nodes]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return dict(task.result() for task in tasks)


async def _clean_up(client: Client, namespace: str, run_id: str, created: bool) -> None:
    """Delete the run's pods (and its namespace); never raises, since it runs on every way out
    and must not hide the error that brought it there."""
    try:
        await client.delete_collection(
            "v1", "Pod", namespace=namespace, label_selector=f"{RUN_LABEL}={run_id}"
        )
        if created:
            with contextlib.suppress(NotFound):
                await client.delete("v1", "Namespace", namespace)
    except (TimeoutError, K8sError, OSError) as error:
        log.warning(
            "could not remove the status check pods (label %s=%s in %s): %s",
            RUN_LABEL,
            run_id,
            namespace,
            error,
        )
