"""Defaulting and allocation: what a real API server fills in before an object is stored.

Defaults follow ``k8s.io/kubernetes/pkg/apis/*/v1/defaults.go`` for the fields clients read back
(``kubectl get -o yaml`` shows them; ``kubectl apply`` diffs against them). Allocation hands out
Service ClusterIPs from the service network and NodePorts from 30000-32767; both are computed from
the Services in the store, so nothing can leak across a restart and two Services never share one.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sctpctl.lab.errors import Cause, invalid
from sctpctl.lab.validation import NODE_PORT_RANGE


@dataclass(frozen=True)
class Networks:
    """The address plan of a lab (DESIGN.md section 5)."""

    service_network: str = "172.30.0.0/16"
    node_ports: range = NODE_PORT_RANGE

    @property
    def kubernetes_service_ip(self) -> str:
        """The first address of the service network belongs to ``default/kubernetes``."""
        return str(ipaddress.ip_network(self.service_network)[1])


def _image_pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    tag = tail.split(":", 1)[1] if ":" in tail else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image", "")))
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            volume["hostPath"].setdefault("type", "")


def _qos_class(spec: Mapping[str, Any]) -> str:
    """``pkg/apis/core/helper/qos``: Guaranteed when every container's requests equal limits
    for cpu and memory, BestEffort when none has any, Burstable otherwise."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set, all_guaranteed = False, True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                all_guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if all_guaranteed else "Burstable"


def default_pod(pod: dict[str, Any], *, creating: bool) -> None:
    spec = pod.setdefault("spec", {})
    default_pod_spec(spec)
    if creating:
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = spec["serviceAccount"] = name
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        tolerations = spec.setdefault("tolerations", [])
        # DefaultTolerationSeconds admission: evict from a NotReady/unreachable node after 5 min.
        for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == taint for t in tolerations):
                tolerations.append(
                    {
                        "key": taint,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                )
        pod["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def default_service(service: dict[str, Any]) -> None:
    spec = service.setdefault("spec", {})
    kind = spec.setdefault("type", "ClusterIP")
    if kind == "ExternalName":
        return
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    service.setdefault("status", {"loadBalancer": {}})


def keep_allocations(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    """On update, a Service keeps its ClusterIP and the NodePorts of ports it still has, when
    the new body leaves them out (``patchAllocatedValues`` in the real registry)."""
    spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        previous = {
            (p.get("port"), p.get("protocol")): p.get("nodePort")
            for p in old_spec.get("ports") or []
            if p.get("nodePort")
        }
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                kept = previous.get((port.get("port"), port.get("protocol")))
                if kept:
                    port["nodePort"] = kept


def allocate_service(
    service: dict[str, Any],
    others: Iterable[Mapping[str, Any]],
    networks: Networks,
) -> list[Cause]:
    """Give ``service`` a ClusterIP and NodePorts not used by ``others``; return the 422 causes
    when a requested address or port is taken or outside its range."""
    spec = service.setdefault("spec", {})
    used_ips: set[str] = set()
    used_ports: set[int] = set()
    for other in others:
        other_spec = other.get("spec") or {}
        if other_spec.get("clusterIP") not in (None, "", "None"):
            used_ips.add(other_spec["clusterIP"])
        for port in other_spec.get("ports") or []:
            if port.get("nodePort"):
                used_ports.add(port["nodePort"])
    causes: list[Cause] = []
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        spec.pop("clusterIP", None)
        return causes
    network = ipaddress.ip_network(networks.service_network)
    requested = spec.get("clusterIP")
    if requested == "None":
        spec["clusterIPs"] = ["None"]
    elif requested:
        if ipaddress.ip_address(requested) not in network:
            causes.append(
                invalid(
                    "spec.clusterIPs",
                    [requested],
                    f"failed to allocate IP {requested}: the provided IP "
                    f"({requested}) is not in the valid range. The range of valid "
                    f"IPs is {network}",
                )
            )
        elif requested in used_ips:
            causes.append(
                invalid(
                    "spec.clusterIPs",
                    [requested],
                    f"failed to allocate IP {requested}: provided IP is already allocated",
                )
            )
        spec["clusterIPs"] = [requested]
    else:
        free = next((str(ip) for ip in network.hosts() if str(ip) not in used_ips), None)
        if free is None:
            causes.append(invalid("spec.clusterIPs", [], "range is full"))
        else:
            spec["clusterIP"] = free
            spec["clusterIPs"] = [free]
    if requested != "None":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer"):
        mine: set[int] = set()
        for i, port in enumerate(spec.get("ports") or []):
            wanted = port.get("nodePort")
            if wanted:
                # One Service may reuse a NodePort across protocols of the same port.
                if wanted in used_ports:
                    causes.append(
                        invalid(
                            f"spec.ports[{i}].nodePort",
                            wanted,
                            "provided port is already allocated",
                        )
                    )
                mine.add(wanted)
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                free_port = next(
                    (p for p in networks.node_ports if p not in used_ports and p not in mine),
                    None,
                )
                if free_port is None:
                    causes.append(invalid("spec.ports", None, "node port range is full"))
                    break
                port["nodePort"] = free_port
                mine.add(free_port)
    else:
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    return causes


def default_namespace(namespace: dict[str, Any]) -> None:
    name = namespace["metadata"]["name"]
    namespace["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    namespace.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    namespace.setdefault("status", {})["phase"] = "Active"


def default_daemon_set(daemon_set: dict[str, Any]) -> None:
    spec = daemon_set.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "updateStrategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
    )
    default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))


def default_secret(secret: dict[str, Any]) -> None:
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None) or {}
    data = secret.setdefault("data", {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(value.encode()).decode()


def default_endpoint_slice(slice_: dict[str, Any]) -> None:
    for port in slice_.get("ports") or []:
        port.setdefault("protocol", "TCP")
