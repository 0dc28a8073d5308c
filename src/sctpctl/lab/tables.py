"""``meta.k8s.io/v1`` Table responses: the columns ``kubectl get`` prints, computed by the server.

kubectl asks for a Table in its human-readable modes and prints the cells as given, so every
column here is the one the real server prints (``pkg/printers/internalversion/printers.go``, and
the CRDs' ``additionalPrinterColumns`` for MachineConfig and MachineConfigPool). Columns with
``priority`` 1 appear only with ``-o wide``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sctpctl.lab.kinds import ResourceType
from sctpctl.lab.selectors import label_selector_text


@dataclass(frozen=True)
class Column:
    name: str
    cell: Callable[[Mapping[str, Any], float], Any]
    priority: int = 0
    type: str = "string"
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": "",
            "priority": self.priority,
        }


def human_duration(seconds: float) -> str:
    """``apimachinery/pkg/util/duration.HumanDuration``: ``5s``, ``2m30s``, ``3h``, ``4d``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _age(obj: Mapping[str, Any], now: float) -> str:
    created = _parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration(now - created)


def _name(obj: Mapping[str, Any], _now: float) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _none(value: Any) -> Any:
    return "<none>" if value in (None, "", [], {}) else value


NAME = Column("Name", _name, format="name")
AGE = Column("Age", _age)


# --- nodes ------------------------------------------------------------------------------------


def _condition(obj: Mapping[str, Any], kind: str) -> str | None:
    for condition in _get(obj, "status", "conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _node_status(obj: Mapping[str, Any], _now: float) -> str:
    ready = _condition(obj, "Ready")
    status = (
        "Ready" if ready == "True" else "NotReady" if ready in ("False", "Unknown") else "Unknown"
    )
    if _get(obj, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_roles(obj: Mapping[str, Any], _now: float) -> str:
    prefix = "node-role.kubernetes.io/"
    labels = _get(obj, "metadata", "labels") or {}
    roles = sorted(k[len(prefix) :] for k in labels if k.startswith(prefix) and k[len(prefix) :])
    if "kubernetes.io/role" in labels:
        roles.append(labels["kubernetes.io/role"])
    return ",".join(sorted(set(roles))) or "<none>"


def _address(kind: str) -> Callable[[Mapping[str, Any], float], str]:
    def cell(obj: Mapping[str, Any], _now: float) -> str:
        for address in _get(obj, "status", "addresses") or []:
            if address.get("type") == kind:
                return str(address.get("address"))
        return "<none>"

    return cell


def _node_info(field: str) -> Callable[[Mapping[str, Any], float], str]:
    return lambda obj, _now: str(_none(_get(obj, "status", "nodeInfo", field)))


NODE = (
    NAME,
    Column("Status", _node_status),
    Column("Roles", _node_roles),
    AGE,
    Column("Version", _node_info("kubeletVersion")),
    Column("Internal-IP", _address("InternalIP"), 1),
    Column("External-IP", _address("ExternalIP"), 1),
    Column("OS-Image", _node_info("osImage"), 1),
    Column("Kernel-Version", _node_info("kernelVersion"), 1),
    Column("Container-Runtime", _node_info("containerRuntimeVersion"), 1),
)


# --- pods -------------------------------------------------------------------------------------


def _pod_ready(obj: Mapping[str, Any], _now: float) -> str:
    statuses = _get(obj, "status", "containerStatuses") or []
    total = len(_get(obj, "spec", "containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(obj: Mapping[str, Any], _now: float) -> str:
    """The STATUS column: reason, else a waiting or terminated container's reason, else phase;
    ``Terminating`` while a deletion is under way (``printPod`` in the real printer)."""
    if _get(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    reason = _get(obj, "status", "reason") or _get(obj, "status", "phase") or "Pending"
    for status in _get(obj, "status", "initContainerStatuses") or []:
        state = status.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode", 0) != 0:
            return "Init:" + str(state["terminated"].get("reason") or "Error")
        if (state.get("waiting") or {}).get("reason") not in (None, "PodInitializing"):
            return "Init:" + str(state["waiting"]["reason"])
    for status in reversed(_get(obj, "status", "containerStatuses") or []):
        state = status.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    return str(reason)


def _pod_restarts(obj: Mapping[str, Any], _now: float) -> int:
    return sum(
        int(s.get("restartCount", 0)) for s in _get(obj, "status", "containerStatuses") or []
    )


def _readiness_gates(obj: Mapping[str, Any], _now: float) -> str:
    gates = _get(obj, "spec", "readinessGates") or []
    if not gates:
        return "<none>"
    ready = sum(1 for g in gates if _condition(obj, g.get("conditionType", "")) == "True")
    return f"{ready}/{len(gates)}"


POD = (
    NAME,
    Column("Ready", _pod_ready),
    Column("Status", _pod_status),
    Column("Restarts", _pod_restarts, type="integer"),
    AGE,
    Column("IP", lambda o, _n: _none(_get(o, "status", "podIP")), 1),
    Column("Node", lambda o, _n: _none(_get(o, "spec", "nodeName")), 1),
    Column("Nominated Node", lambda o, _n: _none(_get(o, "status", "nominatedNodeName")), 1),
    Column("Readiness Gates", _readiness_gates, 1),
)


# --- services ---------------------------------------------------------------------------------


def _service_ports(obj: Mapping[str, Any], _now: float) -> str:
    parts = []
    for port in _get(obj, "spec", "ports") or []:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _external_ip(obj: Mapping[str, Any], _now: float) -> str:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    ips = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = _get(obj, "status", "loadBalancer", "ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress] + ips
        return ",".join(ips) if ips else "<pending>"
    return ",".join(ips) if ips else "<none>"


def _selector(obj: Mapping[str, Any], _now: float) -> str:
    selector = _get(obj, "spec", "selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


SERVICE = (
    NAME,
    Column("Type", lambda o, _n: _get(o, "spec", "type") or "ClusterIP"),
    Column("Cluster-IP", lambda o, _n: _none(_get(o, "spec", "clusterIP"))),
    Column("External-IP", _external_ip),
    Column("Port(s)", _service_ports),
    AGE,
    Column("Selector", _selector, 1),
)


# --- the others -------------------------------------------------------------------------------


def _endpoints(obj: Mapping[str, Any], _now: float) -> str:
    found = []
    for subset in obj.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                found.append(f"{address.get('ip')}:{port}" if port else str(address.get("ip")))
    if not found:
        return "<none>"
    text = ",".join(found[:3])
    return text + (f" + {len(found) - 3} more..." if len(found) > 3 else "")


def _slice_ports(obj: Mapping[str, Any], _now: float) -> str:
    ports = [str(p.get("port")) for p in obj.get("ports") or [] if p.get("port") is not None]
    return ",".join(ports) or "<unset>"


def _slice_endpoints(obj: Mapping[str, Any], _now: float) -> str:
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    if not addresses:
        return "<unset>"
    text = ",".join(addresses[:3])
    return text + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")


def _mcp_condition(kind: str) -> Callable[[Mapping[str, Any], float], str]:
    return lambda obj, _now: _condition(obj, kind) or ""


def _count(*path: str) -> Callable[[Mapping[str, Any], float], Any]:
    return lambda obj, _now: _get(obj, *path) if _get(obj, *path) is not None else ""


def _daemon(field: str) -> Callable[[Mapping[str, Any], float], Any]:
    return lambda obj, _now: int(_get(obj, "status", field) or 0)


def _containers(field: str) -> Callable[[Mapping[str, Any], float], str]:
    return lambda obj, _now: ",".join(
        str(c.get(field, "")) for c in _get(obj, "spec", "template", "spec", "containers") or []
    )


def _event_object(obj: Mapping[str, Any], _now: float) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_last_seen(obj: Mapping[str, Any], now: float) -> str:
    seen = _parse_time(obj.get("lastTimestamp") or obj.get("eventTime"))
    return "<unknown>" if seen is None else human_duration(now - seen)


COLUMNS: dict[str, Sequence[Column]] = {
    "Node": NODE,
    "Pod": POD,
    "Service": SERVICE,
    "Namespace": (NAME, Column("Status", lambda o, _n: _get(o, "status", "phase") or ""), AGE),
    "Endpoints": (NAME, Column("Endpoints", _endpoints), AGE),
    "EndpointSlice": (
        NAME,
        Column("AddressType", lambda o, _n: o.get("addressType", "")),
        Column("Ports", _slice_ports),
        Column("Endpoints", _slice_endpoints),
        AGE,
    ),
    "ConfigMap": (
        NAME,
        Column(
            "Data",
            lambda o, _n: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            type="integer",
        ),
        AGE,
    ),
    "Secret": (
        NAME,
        Column("Type", lambda o, _n: o.get("type", "")),
        Column("Data", lambda o, _n: len(o.get("data") or {}), type="integer"),
        AGE,
    ),
    "ServiceAccount": (
        NAME,
        Column("Secrets", lambda o, _n: len(o.get("secrets") or []), type="integer"),
        AGE,
    ),
    "NetworkPolicy": (
        NAME,
        Column("Pod-Selector", lambda o, _n: label_selector_text(_get(o, "spec", "podSelector"))),
        AGE,
    ),
    "DaemonSet": (
        NAME,
        Column("Desired", _daemon("desiredNumberScheduled"), type="integer"),
        Column("Current", _daemon("currentNumberScheduled"), type="integer"),
        Column("Ready", _daemon("numberReady"), type="integer"),
        Column("Up-to-date", _daemon("updatedNumberScheduled"), type="integer"),
        Column("Available", _daemon("numberAvailable"), type="integer"),
        Column(
            "Node Selector",
            lambda o, _n: (
                ",".join(
                    f"{k}={v}"
                    for k, v in sorted(
                        (_get(o, "spec", "template", "spec", "nodeSelector") or {}).items()
                    )
                )
                or "<none>"
            ),
        ),
        AGE,
        Column("Containers", _containers("name"), 1),
        Column("Images", _containers("image"), 1),
        Column("Selector", lambda o, _n: label_selector_text(_get(o, "spec", "selector")), 1),
    ),
    "Event": (
        Column("Last Seen", _event_last_seen),
        Column("Type", lambda o, _n: o.get("type", "")),
        Column("Reason", lambda o, _n: o.get("reason", "")),
        Column("Object", _event_object),
        Column("Message", lambda o, _n: str(o.get("message", "")).strip()),
    ),
    "MachineConfig": (
        NAME,
        Column(
            "GeneratedByController",
            lambda o, _n: (
                _get(
                    o,
                    "metadata",
                    "annotations",
                    ("machineconfiguration.openshift.io/generated-by-controller-version"),
                )
                or ""
            ),
        ),
        Column(
            "IgnitionVersion", lambda o, _n: _get(o, "spec", "config", "ignition", "version") or ""
        ),
        AGE,
    ),
    "MachineConfigPool": (
        NAME,
        Column("Config", lambda o, _n: _get(o, "status", "configuration", "name") or ""),
        Column("Updated", _mcp_condition("Updated")),
        Column("Updating", _mcp_condition("Updating")),
        Column("Degraded", _mcp_condition("Degraded")),
        Column("MachineCount", _count("status", "machineCount"), type="integer"),
        Column("ReadyMachineCount", _count("status", "readyMachineCount"), type="integer"),
        Column("UpdatedMachineCount", _count("status", "updatedMachineCount"), type="integer"),
        Column("DegradedMachineCount", _count("status", "degradedMachineCount"), type="integer"),
        AGE,
    ),
}
"Printer columns per kind; kinds not listed get Name and Age."


def columns(rt: ResourceType) -> Sequence[Column]:
    return COLUMNS.get(rt.kind, (NAME, AGE))


def partial_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def table(
    rt: ResourceType,
    objects: Sequence[Mapping[str, Any]],
    *,
    now: float,
    resource_version: str = "",
    include_object: str = "Metadata",
    headers: bool = True,
) -> dict[str, Any]:
    """A Table of ``objects``; ``include_object`` is ``Metadata`` (default), ``Object`` or
    ``None``; ``headers=False`` leaves out the column definitions (watch events after the
    first, as the real server does)."""
    cols = columns(rt)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [c.cell(obj, now) for c in cols]}
        if include_object == "Object":
            row["object"] = dict(obj)
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    result: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [c.definition() for c in cols] if headers else [],
        "rows": rows,
    }
    return result
