"""What a run knows while it runs: the client, its options, the nodes and the live objects.

Scenarios read addresses from here (pod IPs, the Service's ClusterIP and NodePort, node
addresses), which exist only once the run's objects are up, so actions are built late.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sctpctl.k8s.client import Client, Obj
from sctpctl.manifests.verification import DEFAULT_IMAGE, DEFAULT_PORT

LABEL = "sctpctl.io/verify"
"Every object of a run carries ``sctpctl.io/verify=<run id>``."
ROLE_LABEL = "sctpctl.io/verify-namespace"
"On the run's namespaces: ``main`` (the procedure's objects) or ``policy`` (the policy checks)."
NAMESPACE_PREFIX = "sctpctl-verify-"

_RUN_ID = re.compile(r"^[a-z0-9]{4,12}$")


def new_run_id() -> str:
    """Six lower-case hex digits: short enough to type, random enough not to collide."""
    return secrets.token_hex(3)


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r}: 4 to 12 lower-case letters and digits")
    return run_id


@dataclass(frozen=True, slots=True)
class PodRef:
    namespace: str
    name: str
    container: str | None = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked for."""

    image: str = DEFAULT_IMAGE
    port: int = DEFAULT_PORT
    probe_timeout: float = 3.0
    "Seconds a probe waits for an answer before the target counts as filtered."
    setup_timeout: float = 180.0
    "Seconds the run's pods may take to start (image pulls on a real cluster)."
    settle: float = 10.0
    """Seconds a check keeps trying actions that fail, while Service and policy rules are
    programmed (a plugin does that some time after the API accepted the objects)."""
    retries: int = 3
    "Attempts for an inconclusive probe (the exec transport failed)."
    concurrency: int = 8
    """Probes running at once: each starts a process in a pod, and most of a run is probes
    waiting for an answer that does not come (filtered)."""
    nodes: tuple[str, ...] = ()
    "Nodes to verify; empty: every worker node (every node when none has the worker role)."
    perf: bool = False
    perf_seconds: float = 3.0
    keep: bool = False


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    addresses: tuple[str, ...]
    "InternalIP first, then ExternalIP addresses."
    roles: frozenset[str]
    ready: bool
    schedulable: bool

    @property
    def internal_ip(self) -> str | None:
        return self.addresses[0] if self.addresses else None


@dataclass(frozen=True, slots=True)
class NodeModule:
    """A node's SCTP module state as ``sctpctl status`` reads it."""

    state: str
    "``loaded``, ``blacklisted``, ``not-loaded``, ``absent`` or ``unknown``."
    detail: str = ""

    @property
    def has_sctp(self) -> bool:
        return self.state == "loaded"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the run's pods go."""

    server: str
    "The server's node; the same-node client shares it."
    client: str
    "The cross-node client's node (the server's when only one node has SCTP)."
    no_sctp: str | None = None
    "A node without SCTP for the negative check, if there is one."


@dataclass
class RunContext:
    client: Client
    run_id: str
    options: Options
    nodes: Sequence[NodeInfo] = ()
    selected: Sequence[str] = ()
    modules: Mapping[str, NodeModule] = field(default_factory=dict)
    placement: Placement | None = None
    pods: dict[str, Obj] = field(default_factory=dict)
    "The run's pods as last read, by ``namespace/name``."
    service: Obj | None = None
    semaphore: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))

    @property
    def namespace(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.run_id}"

    @property
    def policy_namespace(self) -> str:
        """The second namespace: the policy checks' server and a peer live here."""
        return f"{NAMESPACE_PREFIX}{self.run_id}-policy"

    @property
    def namespaces(self) -> tuple[str, str]:
        return self.namespace, self.policy_namespace

    @property
    def selector(self) -> str:
        return f"{LABEL}={self.run_id}"

    def short(self, ref: PodRef | str) -> str:
        """A pod's name as reports show it: the main namespace's pods by name alone, the
        policy namespace's as ``policy/<name>``, others as ``namespace/name``."""
        namespace, _, name = str(ref).partition("/")
        if namespace == self.namespace:
            return name
        if namespace == self.policy_namespace:
            return f"policy/{name}"
        return str(ref)

    def node(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def pod(self, ref: PodRef | str) -> Obj | None:
        key = str(ref) if isinstance(ref, PodRef) else ref
        return self.pods.get(key)

    def pod_ip(self, ref: PodRef) -> str | None:
        pod = self.pod(ref)
        if pod is None:
            return None
        ip = (pod.get("status") or {}).get("podIP")
        return str(ip) if ip else None

    def pod_node(self, ref: PodRef) -> str | None:
        pod = self.pod(ref)
        return None if pod is None else (pod.get("spec") or {}).get("nodeName")

    @property
    def cluster_ip(self) -> str | None:
        spec: Mapping[str, Any] = (self.service or {}).get("spec") or {}
        ip = spec.get("clusterIP")
        return str(ip) if ip and ip != "None" else None

    @property
    def node_port(self) -> int | None:
        spec: Mapping[str, Any] = (self.service or {}).get("spec") or {}
        for port in spec.get("ports") or []:
            if port.get("protocol") == "SCTP" and port.get("nodePort"):
                return int(port["nodePort"])
        return None

    def sctp_nodes(self) -> list[str]:
        return [n for n in self.selected if self.modules.get(n, NodeModule("unknown")).has_sctp]


def host_port(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
