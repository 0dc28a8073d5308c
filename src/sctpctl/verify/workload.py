"""The run's objects: two namespaces, the procedure's pods and Service, and the policy checks' pods.

Namespace ``sctpctl-verify-<run id>`` (role ``main``) holds the procedure's objects, from
:func:`sctpctl.manifests.verification.verification_objects` (the same ones ``sctpctl render
verify`` prints), pinned to nodes so that the cross-node path is really crossed:

============================  ===========  ================================================
pod                           node         runs
============================  ===========  ================================================
``sctpserver``                server       ``sctpctl listen PORT --echo --keep-open``
``sctpclient``                client       idles; probes run in it with ``kubectl exec``
``sctpclient-local``          server       idles (the same-node client)
``sctphost``                  client       idles on the node's host network
``sctpserver-nosctp``         no SCTP      ``sctpctl listen PORT`` (must fail), and an idle
                                           container that keeps the pod's address alive
============================  ===========  ================================================

and the NodePort Service ``sctpservice``. Namespace ``sctpctl-verify-<run id>-policy`` holds
``web`` (label ``role: web`` as in the procedure's ``allow-sctp-on-http``, SCTP listeners on 80
and 81) and ``peer`` (an idle client labelled like the procedure's client, in the other
namespace). The policy checks put their NetworkPolicies there, so they never touch the first
namespace's traffic and can run while the other checks do.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sctpctl.k8s.client import Obj
from sctpctl.manifests.verification import (
    APP_LABEL,
    CLIENT,
    GRACE_SECONDS,
    IDLE_COMMAND,
    SERVER,
    verification_objects,
)
from sctpctl.verify.context import LABEL, ROLE_LABEL, Placement, PodRef, RunContext

LOCAL_CLIENT = "sctpclient-local"
HOST_CLIENT = "sctphost"
NO_SCTP_SERVER = "sctpserver-nosctp"
LISTENER = "sctpserver"
"The listener container's name in the server pods."
IDLE = "idle"
WEB = "web"
PEER = "peer"
PERF_SERVER = "sctpperf"
PERF_PORT = 5201
POLICY_PORTS = (80, 81)
"The SCTP ports ``web`` listens on (the upstream e2e tests' 80 and 81)."

TOLERATE_ALL = [{"operator": "Exists"}]
"""Pods are pinned with ``nodeName``; tolerating every taint lets the negative check use a
control-plane node when that is the node without SCTP."""


def server(ctx: RunContext) -> PodRef:
    return PodRef(ctx.namespace, SERVER, LISTENER)


def client(ctx: RunContext) -> PodRef:
    return PodRef(ctx.namespace, CLIENT, CLIENT)


def local_client(ctx: RunContext) -> PodRef:
    return PodRef(ctx.namespace, LOCAL_CLIENT, CLIENT)


def host_client(ctx: RunContext) -> PodRef:
    return PodRef(ctx.namespace, HOST_CLIENT, CLIENT)


def no_sctp_server(ctx: RunContext) -> PodRef:
    return PodRef(ctx.namespace, NO_SCTP_SERVER, IDLE)


def web(ctx: RunContext) -> PodRef:
    return PodRef(ctx.policy_namespace, WEB, f"sctp-{POLICY_PORTS[0]}")


def peer(ctx: RunContext) -> PodRef:
    return PodRef(ctx.policy_namespace, PEER, CLIENT)


def perf_server(ctx: RunContext) -> PodRef:
    return PodRef(ctx.namespace, PERF_SERVER, PERF_SERVER)


def policy_sources(ctx: RunContext) -> list[PodRef]:
    """Who the policy checks probe ``web`` from: both clients and the server of the main
    namespace (the server is not labelled like a client), and the peer of the policy one."""
    return [client(ctx), local_client(ctx), server(ctx), peer(ctx)]


PRIVILEGED = {"pod-security.kubernetes.io/enforce": "privileged"}
"""The main namespace holds a host-network pod, which Pod Security's baseline level refuses."""


def namespace_objects(ctx: RunContext) -> list[Obj]:
    labels = {LABEL: ctx.run_id}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ctx.namespace,
                "labels": {**labels, ROLE_LABEL: "main", **PRIVILEGED},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ctx.policy_namespace, "labels": {**labels, ROLE_LABEL: "policy"}},
        },
    ]


def run_objects(ctx: RunContext, placement: Placement) -> list[Obj]:
    """The Service and every pod of the run, in the order to create them."""
    labels = {LABEL: ctx.run_id}
    options = ctx.options
    server_pod, service, client_pod = verification_objects(
        image=options.image, port=options.port, namespace=ctx.namespace, labels=labels
    )
    _pin(server_pod, placement.server)
    _pin(client_pod, placement.client)
    local = _renamed(client_pod, LOCAL_CLIENT, placement.server)
    host = _renamed(client_pod, HOST_CLIENT, placement.client)
    host["metadata"]["labels"][APP_LABEL] = HOST_CLIENT
    host["spec"]["hostNetwork"] = True
    objects = [service, server_pod, client_pod, local, host]
    if placement.no_sctp is not None:
        objects.append(_no_sctp_server(ctx, server_pod, placement.no_sctp))
    if ctx.options.perf:
        objects.append(_perf_server(ctx, server_pod, placement.server))
    objects += _policy_pods(ctx, placement, labels)
    return objects


def expected_pods(ctx: RunContext, placement: Placement) -> set[str]:
    return {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}"
        for o in run_objects(ctx, placement)
        if o["kind"] == "Pod"
    }


def _pin(pod: Obj, node: str) -> None:
    pod["spec"]["nodeName"] = node
    pod["spec"]["tolerations"] = copy.deepcopy(TOLERATE_ALL)


def _renamed(pod: Obj, name: str, node: str) -> Obj:
    twin = copy.deepcopy(pod)
    twin["metadata"]["name"] = name
    _pin(twin, node)
    return twin


def _idle_container(image: str, name: str = IDLE) -> dict[str, Any]:
    return {"name": name, "image": image, "command": list(IDLE_COMMAND)}


def _no_sctp_server(ctx: RunContext, server_pod: Obj, node: str) -> Obj:
    """The procedure's server on a node without SCTP: its listener must fail (cnf-tests'
    "Should NOT start a server pod"); the idle container keeps the address for the INIT."""
    pod = copy.deepcopy(server_pod)
    pod["metadata"]["name"] = NO_SCTP_SERVER
    pod["metadata"]["labels"][APP_LABEL] = NO_SCTP_SERVER
    _pin(pod, node)
    pod["spec"]["restartPolicy"] = "Never"
    pod["spec"]["containers"].append(_idle_container(ctx.options.image))
    return pod


def _perf_server(ctx: RunContext, server_pod: Obj, node: str) -> Obj:
    pod = _renamed(server_pod, PERF_SERVER, node)
    pod["metadata"]["labels"][APP_LABEL] = PERF_SERVER
    pod["spec"]["containers"] = [
        {
            "name": PERF_SERVER,
            "image": ctx.options.image,
            "command": ["sctpctl"],
            "args": ["perf", "server", "--port", str(PERF_PORT)],
            "ports": [{"containerPort": PERF_PORT, "name": "perf", "protocol": "SCTP"}],
        }
    ]
    return pod


def _policy_pods(ctx: RunContext, placement: Placement, labels: Mapping[str, str]) -> list[Obj]:
    image = ctx.options.image
    listeners = [
        {
            "name": f"sctp-{port}",
            "image": image,
            "command": ["sctpctl"],
            "args": ["listen", str(port), "--keep-open"],
            "ports": [{"containerPort": port, "name": f"sctp-{port}", "protocol": "SCTP"}],
        }
        for port in POLICY_PORTS
    ]
    web_pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": WEB,
            "namespace": ctx.policy_namespace,
            "labels": {**labels, "role": "web", APP_LABEL: WEB},
        },
        "spec": {
            "nodeName": placement.server,
            "tolerations": copy.deepcopy(TOLERATE_ALL),
            "terminationGracePeriodSeconds": GRACE_SECONDS,
            # Ports below 1024 without privileges: a "safe" sysctl every kubelet allows.
            "securityContext": {
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
            },
            "containers": listeners,
        },
    }
    peer_pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": PEER,
            "namespace": ctx.policy_namespace,
            "labels": {**labels, APP_LABEL: CLIENT},
        },
        "spec": {
            "nodeName": placement.client,
            "tolerations": copy.deepcopy(TOLERATE_ALL),
            "terminationGracePeriodSeconds": GRACE_SECONDS,
            "containers": [_idle_container(image, CLIENT)],
        },
    }
    return [web_pod, peer_pod]


def pod_problem(pod: Mapping[str, Any]) -> str | None:
    """Why a pod will not start by itself (a pull error, a crash loop), or ``None``."""
    status = pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in _HOPELESS:
            message = waiting.get("message") or ""
            return f"pod {name}, container {container.get('name')}: {reason} {message}".strip()
    for condition in status.get("conditions") or []:
        scheduled = condition.get("type") == "PodScheduled"
        if scheduled and condition.get("reason") == "Unschedulable":
            return f"pod {name} cannot be scheduled: {condition.get('message', '')}"
    return None


_HOPELESS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


def pod_started(pod: Mapping[str, Any]) -> bool:
    """Running, with every container started at least once: running, ended (the negative
    listener), or restarting (a listener that fails is the checks' business, not setup's)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    containers = status.get("containerStatuses") or []
    wanted = len((pod.get("spec") or {}).get("containers") or [])
    if len(containers) < wanted:
        return False
    return all(
        (c.get("state") or {}).get("running")
        or (c.get("state") or {}).get("terminated")
        or (c.get("lastState") or {}).get("terminated")
        for c in containers
    )


def listener_trouble(pod: Mapping[str, Any] | None) -> str:
    """Why a pod's listeners are not listening, from their containers' exits ("" if running)."""
    notes = []
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        ended = state.get("terminated") or (status.get("lastState") or {}).get("terminated")
        if state.get("running") and not status.get("restartCount"):
            continue
        if ended:
            restarts = status.get("restartCount") or 0
            again = f", restarted {restarts} times" if restarts else ""
            notes.append(f"container {status.get('name')} exited {ended.get('exitCode')}{again}")
    return "; ".join(notes)


def container_state(pod: Mapping[str, Any] | None, container: str) -> Mapping[str, Any]:
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            state: Mapping[str, Any] = status.get("state") or {}
            return state
    return {}
