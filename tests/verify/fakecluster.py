"""An in-memory cluster behind sctpctl's Client interface, with a network that obeys policies.

Objects are kept as the API server would (pods are Running with an address at once, Services
get a ClusterIP and a NodePort, EndpointSlices follow the Service's pods), and ``exec`` runs a
model of ``sctpctl connect`` and ``sctpctl probe``: the answer depends on the NetworkPolicy
engine evaluated on the objects (so a policy the test adds really drops traffic), on whether
the target pod's node has SCTP, and on whether the target runs a listener on that port. Hooks
let a test break things: a plugin that ignores policies, exec transport failures, a node
without SCTP.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from sctpctl.k8s.client import ExecResult, Obj, ResourceInfo, WatchEvent
from sctpctl.k8s.errors import AlreadyExists, K8sError
from sctpctl.netpol import Protocol, Traffic, cluster_from_objects, evaluate, pod_endpoint
from sctpctl.netpol.selectors import Selector
from sctpctl.netpol.traffic import Endpoint
from sctpctl.outcomes import Outcome
from tests.fakestore import ObjectStore, labels_match

NODES = {"master-0": "198.18.0.10", "worker-0": "198.18.0.11", "worker-1": "198.18.0.12"}


def node_object(name: str, address: str) -> Obj:
    role = "master" if name.startswith("master") else "worker"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {f"node-role.kubernetes.io/{role}": ""}},
        "spec": {},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


class FakeCluster(ObjectStore):
    def __init__(self, nodes: dict[str, str] | None = None) -> None:
        super().__init__()
        self.pod_ips = itertools.count(2)
        self.sctp_nodes: set[str] = {"worker-0", "worker-1"}
        self.enforce_policies = True
        self.exec_failures = 0
        "The next N execs fail in transport (the API server dropped them)."
        self.execs: list[list[str]] = []
        self.on_create: list[Callable[[Obj], None]] = []
        self.created: list[Obj] = []
        "Every object created, kept after deletion."
        self.forbidden: set[tuple[str, str]] = set()
        "(verb, resource) pairs access reviews refuse."
        for name, address in (nodes or NODES).items():
            self._store(node_object(name, address))

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        return ResourceInfo(
            api_version, kind, kind.lower() + "s", kind not in ("Node", "Namespace")
        )

    async def create(
        self, body: Obj, *, namespace: str | None = None, dry_run: bool = False
    ) -> Obj:
        obj = copy.deepcopy(body)
        if body["kind"] == "SelfSubjectAccessReview":
            wanted = obj["spec"]["resourceAttributes"]
            resource = wanted["resource"] + (f"/{wanted['subresource']}" if wanted.get(
                "subresource") else "")  # fmt: skip
            obj["status"] = {"allowed": (wanted["verb"], resource) not in self.forbidden}
            return obj
        if namespace and not obj["metadata"].get("namespace"):
            obj["metadata"]["namespace"] = namespace
        if self.key(obj) in self.objects:
            raise AlreadyExists({"code": 409, "reason": "AlreadyExists"}, code=409)
        kind = obj["kind"]
        if kind == "Namespace":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
                "metadata"
            ]["name"]
        elif kind == "Pod":
            self._start(obj)
        elif kind == "Service":
            obj["spec"]["clusterIP"] = "172.30.0.10"
            for port in obj["spec"]["ports"]:
                port["nodePort"] = 30500
        stored = self._store(obj)
        self.created.append(copy.deepcopy(obj))
        if kind == "Pod":
            self._endpoints()
        for hook in self.on_create:
            hook(copy.deepcopy(obj))
        return stored

    def _start(self, pod: Obj) -> None:
        spec = pod["spec"]
        node = spec.get("nodeName") or "worker-0"
        spec["nodeName"] = node
        ip = (
            NODES[node]
            if spec.get("hostNetwork")
            else f"10.128.{2 + list(NODES).index(node) * 2}.{next(self.pod_ips)}"
        )
        statuses = []
        for container in spec["containers"]:
            args = [*container.get("command", []), *container.get("args", [])]
            if "listen" in args and node not in self.sctp_nodes:
                state: dict[str, Any] = {"terminated": {"exitCode": 14, "reason": "Error"}}
            else:
                state = {"running": {"startedAt": "2026-11-27T08:00:00Z"}}
            statuses.append(
                {"name": container["name"], "state": state, "ready": "running" in state}
            )
        pod["status"] = {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": NODES[node],
            "containerStatuses": statuses,
        }

    def _selected_pods(self, service: Obj) -> list[Obj]:
        selector = Selector.from_label_selector({"matchLabels": service["spec"].get("selector")})
        namespace = service["metadata"]["namespace"]
        return [
            p
            for p in self.of_kind("Pod", namespace)
            if selector.matches(p["metadata"].get("labels"))
        ]

    def _endpoints(self) -> None:
        for service in self.of_kind("Service"):
            namespace = service["metadata"]["namespace"]
            pods = self._selected_pods(service)
            name = service["metadata"]["name"]
            self._store(
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": f"{name}-abcde",
                        "namespace": namespace,
                        "labels": {"kubernetes.io/service-name": name},
                    },
                    "endpoints": [
                        {"addresses": [p["status"]["podIP"]], "conditions": {"ready": True}}
                        for p in pods
                    ],
                }
            )

    async def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        # Everything here happens at once: the list already showed the final state.
        for obj in self.of_kind(kind, namespace):
            if labels_match(obj, label_selector):
                yield WatchEvent("MODIFIED", copy.deepcopy(obj))

    async def logs(self, namespace: str, pod: str, **kwargs: Any) -> str:
        return ""

    # --- the network ----------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        return [o["metadata"]["name"] for o in self.of_kind("Namespace")]

    def _pod_at(self, address: str) -> Obj | None:
        for pod in self.of_kind("Pod"):
            if pod["status"].get("podIP") == address and not pod["spec"].get("hostNetwork"):
                return pod
        return None

    def _destination(self, host: str, port: int) -> tuple[Obj | None, int]:
        """Where a packet to host:port ends: Service addresses lead to the server."""
        for service in self.of_kind("Service"):
            for entry in service["spec"]["ports"]:
                if (host == service["spec"]["clusterIP"] and port == entry["port"]) or (
                    host in NODES.values() and port == entry.get("nodePort")
                ):
                    pods = self._selected_pods(service)
                    return (pods[0] if pods else None), entry["targetPort"]
        return self._pod_at(host), port

    def outcome(self, source: Obj, host: str, port: int, protocol: str) -> str:
        target, target_port = self._destination(host, port)
        if protocol == "SCTP" and source["spec"]["nodeName"] not in self.sctp_nodes:
            return Outcome.NO_SCTP_LOCAL.value
        if target is None:
            return Outcome.REJECTED.value
        if self.enforce_policies:
            cluster = cluster_from_objects(
                [*self.of_kind("Namespace"), *self.of_kind("Pod"), *self.of_kind("NetworkPolicy")]
            )
            src = next(
                p
                for p in cluster.pods
                if p.name == source["metadata"]["name"]
                and p.namespace == source["metadata"]["namespace"]
            )
            dst = next(
                p
                for p in cluster.pods
                if p.name == target["metadata"]["name"]
                and p.namespace == target["metadata"]["namespace"]
            )
            source_end = (
                Endpoint(None, ipaddress.ip_address(NODES[source["spec"]["nodeName"]]))
                if source["spec"].get("hostNetwork")
                else pod_endpoint(src)
            )
            flow = Traffic(source_end, pod_endpoint(dst), Protocol(protocol), target_port)
            if not evaluate(cluster, flow).allowed:
                return Outcome.FILTERED.value
        if protocol == "TCP":
            return Outcome.CLOSED.value
        if target["spec"]["nodeName"] not in self.sctp_nodes:
            return Outcome.NO_SCTP_ON_TARGET.value
        for container in target["spec"]["containers"]:
            args = [*container.get("command", []), *container.get("args", [])]
            if ("listen" in args or "server" in args) and str(target_port) in args:
                return Outcome.OPEN.value
        return Outcome.CLOSED.value

    async def exec(
        self,
        namespace: str,
        pod: str,
        command: Sequence[str],
        *,
        container: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ExecResult:
        self.execs.append(list(command))
        if self.exec_failures:
            self.exec_failures -= 1
            raise K8sError("exec ended without a status from the server")
        source = self.objects[("Pod", namespace, pod)]
        argv = list(command)
        assert argv[0] == "sctpctl"
        if argv[1] == "probe":
            hosts, ports = argv[2].split(","), argv[argv.index("-p") + 1].split(",")
            protocol = "TCP" if "--tcp" in argv else "SCTP"
            rows = [
                {"host": h, "port": int(p), "outcome": self.outcome(source, h, int(p), protocol)}
                for h in hosts
                for p in ports
            ]
            if any(r["outcome"] == "no-sctp-local" for r in rows):
                return ExecResult(
                    14, b"", b"error: SCTP is not available in this network namespace\n"
                )
            words = {r["outcome"] for r in rows}
            code = Outcome(words.pop()).exit_code if len(words) == 1 else 1
            return ExecResult(int(code), json.dumps(rows).encode(), b"")
        if argv[1] == "connect":
            host, _, port = argv[2].rpartition(":")
            word = self.outcome(source, host.strip("[]"), int(port), "SCTP")
            if word == "no-sctp-local":
                return ExecResult(
                    14, b"", b"error: SCTP is not available in this network namespace\n"
                )
            size = int(argv[argv.index("--size") + 1]) if "--size" in argv else len(stdin or b"")
            data = stdin or b""
            messages = (
                [
                    {
                        "stream": int(argv[argv.index("--stream") + 1])
                        if "--stream" in argv
                        else 0,
                        "ppid": int(argv[argv.index("--ppid") + 1]) if "--ppid" in argv else 0,
                        "unordered": "--unordered" in argv,
                        "bytes": len(data[i : i + size]),
                    }
                    for i in range(0, len(data), size)
                ]
                if word == "open"
                else []
            )
            document = {"outcome": word, "detail": "", "messages": messages}
            return ExecResult(int(Outcome(word).exit_code), json.dumps(document).encode(), b"")
        if argv[1:3] == ["perf", "client"]:
            host, _, port = argv[3].rpartition(":")
            word = self.outcome(source, host, int(port), "SCTP")
            if word != "open":
                return ExecResult(int(Outcome(word).exit_code), b"", b"error: " + word.encode())
            document = {
                "seconds": 3.0,
                "bytesPerSecond": 12_500_000.0,
                "receiver": {"bytesPerSecond": 12_400_000.0},
                "latency": {"samples": 900, "p50Ms": 0.8, "p90Ms": 1.1, "p99Ms": 2.5},
            }
            return ExecResult(0, json.dumps(document).encode(), b"")
        return ExecResult(127, b"", b"unknown command\n")
