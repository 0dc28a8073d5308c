"""Validation of objects before they are stored: the 422 causes a real API server would give.

Each validator returns a list of :class:`~sctpctl.lab.errors.Cause` (empty when the object is
valid), using the field paths and messages of ``k8s.io/kubernetes/pkg/apis/core/validation`` so
kubectl prints the same lines (``spec.containers: Required value``). Only what sctpctl's lab needs
to be faithful about is checked: names, ports and protocols (SCTP is the point of the project),
selectors, and the few update rules clients trip over.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from sctpctl.lab.errors import Cause, duplicate, forbidden, invalid, not_supported, required
from sctpctl.lab.kinds import NameRule
from sctpctl.netpol.selectors import Selector, SelectorError

PROTOCOLS = ("SCTP", "TCP", "UDP")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
POLICY_TYPES = ("Egress", "Ingress")
NODE_PORT_RANGE = range(30000, 32768)

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_LABEL_1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_IANA_SVC_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
LABEL_1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)


def name_problems(name: str, rule: NameRule) -> list[str]:
    """Why ``name`` is not a valid object name under ``rule`` (empty when it is)."""
    if rule is NameRule.ANY_PATH_SEGMENT:
        bad = name in (".", "..") or "/" in name or "%" in name
        return ["may not contain '/' or '%', or be '.' or '..'"] if bad else []
    if rule is NameRule.LABEL:
        problems = [] if _LABEL_RE.match(name) else [LABEL_MSG]
        return problems + (["must be no more than 63 characters"] if len(name) > 63 else [])
    if rule is NameRule.LABEL_1035:
        problems = [] if _LABEL_1035_RE.match(name) else [LABEL_1035_MSG]
        return problems + (["must be no more than 63 characters"] if len(name) > 63 else [])
    problems = [] if _SUBDOMAIN_RE.match(name) else [SUBDOMAIN_MSG]
    return problems + (["must be no more than 253 characters"] if len(name) > 253 else [])


def validate_metadata(meta: Mapping[str, Any], rule: NameRule) -> list[Cause]:
    causes: list[Cause] = []
    name = meta.get("name") or ""
    if not name:
        causes.append(
            Cause("FieldValueRequired", "name or generateName is required", "metadata.name")
        )
    else:
        causes += [invalid("metadata.name", name, p) for p in name_problems(name, rule)]
    for key, value in (meta.get("labels") or {}).items():
        causes += _label_key("metadata.labels", key)
        if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
            causes.append(
                invalid(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character",
                )
            )
    for key in meta.get("annotations") or {}:
        causes += _label_key("metadata.annotations", key)
    return causes


def _label_key(path: str, key: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    problems = []
    if prefix and not _SUBDOMAIN_RE.match(prefix):
        problems.append("prefix part " + SUBDOMAIN_MSG)
    if not name or len(name) > 63 or not _QUALIFIED_NAME_RE.match(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )
    return [invalid(path, key, p) for p in problems]


def _port(path: str, value: Any, *, allow_zero: bool = False) -> list[Cause]:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or not low <= value <= 65535:
        return [invalid(path, value, f"must be between {low} and 65535, inclusive")]
    return []


def _protocol(path: str, value: Any) -> list[Cause]:
    if value is None:
        return [required(path)]
    return [] if value in PROTOCOLS else [not_supported(path, value, PROTOCOLS)]


def _iana_service_name(path: str, value: str) -> list[Cause]:
    if len(value) > 15:
        return [invalid(path, value, "must be no more than 15 characters")]
    if not _IANA_SVC_RE.match(value) or "--" in value:
        return [
            invalid(
                path,
                value,
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            )
        ]
    if not any(c.isalpha() for c in value):
        return [invalid(path, value, "must contain at least one letter (a-z)")]
    return []


# --- pods -------------------------------------------------------------------------------------


def validate_pod_spec(spec: Mapping[str, Any] | None, path: str) -> list[Cause]:
    if not spec:
        return [required(f"{path}.containers")]
    causes: list[Cause] = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append(required(f"{path}.containers"))
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            causes += _container(container, f"{path}.{group}[{i}]", names)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in RESTART_POLICIES:
        causes.append(not_supported(f"{path}.restartPolicy", policy, RESTART_POLICIES))
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        causes.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"
            )
        )
    volumes: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        name = volume.get("name") or ""
        if not name:
            causes.append(required(f"{path}.volumes[{i}].name"))
        elif name in volumes:
            causes.append(duplicate(f"{path}.volumes[{i}].name", name))
        volumes.add(name)
        host_path = volume.get("hostPath")
        if host_path is not None and not host_path.get("path"):
            causes.append(required(f"{path}.volumes[{i}].hostPath.path"))
    return causes


def _container(container: Mapping[str, Any], path: str, names: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    name = container.get("name") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    elif not _LABEL_RE.match(name) or len(name) > 63:
        causes.append(invalid(f"{path}.name", name, LABEL_MSG))
    elif name in names:
        causes.append(duplicate(f"{path}.name", name))
    names.add(name)
    if not container.get("image"):
        causes.append(required(f"{path}.image"))
    port_names: set[str] = set()
    for i, port in enumerate(container.get("ports") or []):
        where = f"{path}.ports[{i}]"
        if port.get("containerPort") is None:
            causes.append(required(f"{where}.containerPort"))
        else:
            causes += _port(f"{where}.containerPort", port["containerPort"])
        if port.get("hostPort"):
            causes += _port(f"{where}.hostPort", port["hostPort"])
        causes += _protocol(f"{where}.protocol", port.get("protocol"))
        if port.get("name"):
            causes += _iana_service_name(f"{where}.name", port["name"])
            if port["name"] in port_names:
                causes.append(duplicate(f"{where}.name", port["name"]))
            port_names.add(port["name"])
    mounts: set[str] = set()
    for i, mount in enumerate(container.get("volumeMounts") or []):
        if not mount.get("name"):
            causes.append(required(f"{path}.volumeMounts[{i}].name"))
        if not mount.get("mountPath"):
            causes.append(required(f"{path}.volumeMounts[{i}].mountPath"))
        elif mount["mountPath"] in mounts:
            causes.append(
                invalid(f"{path}.volumeMounts[{i}].mountPath", mount["mountPath"], "must be unique")
            )
        mounts.add(mount.get("mountPath") or "")
    return causes


def validate_pod(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    causes = validate_pod_spec(new.get("spec"), "spec")
    if old is not None and not causes:
        causes += _pod_update(new.get("spec") or {}, old.get("spec") or {})
    return causes


_MUTABLE_POD_FIELDS = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """The pod update rule: only images, activeDeadlineSeconds, tolerations and the grace period
    may change, and ``nodeName`` may be set once (by a binding)."""

    def comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in spec.items() if k not in _MUTABLE_POD_FIELDS}
        for group in ("containers", "initContainers"):
            if group in out:
                out[group] = [{k: v for k, v in c.items() if k != "image"} for c in out[group]]
        if not old.get("nodeName"):
            out.pop("nodeName", None)
        return out

    if comparable(new) != comparable(old):
        return [
            forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, "
                "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
                "`spec.tolerations` (only additions to existing tolerations), "
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)",
            )
        ]
    return []


# --- services ---------------------------------------------------------------------------------


def validate_service(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = new.get("spec") or {}
    causes: list[Cause] = []
    kind = spec.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", kind, SERVICE_TYPES))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and kind != "ExternalName" and not headless:
        causes.append(required("spec.ports"))
    if kind == "ExternalName" and not spec.get("externalName"):
        causes.append(required("spec.externalName"))
    seen_names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        where = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            causes.append(required(f"{where}.name"))
        if name:
            if not _LABEL_RE.match(name) or len(name) > 63:
                causes.append(invalid(f"{where}.name", name, LABEL_MSG))
            if name in seen_names:
                causes.append(duplicate(f"{where}.name", name))
            seen_names.add(name)
        if port.get("port") is None:
            causes.append(required(f"{where}.port"))
        else:
            causes += _port(f"{where}.port", port["port"])
        protocol = port.get("protocol")
        causes += _protocol(f"{where}.protocol", protocol)
        target = port.get("targetPort")
        if isinstance(target, int):
            causes += _port(f"{where}.targetPort", target)
        elif isinstance(target, str):
            causes += _iana_service_name(f"{where}.targetPort", target)
        node_port = port.get("nodePort")
        if node_port:
            if kind not in ("NodePort", "LoadBalancer"):
                causes.append(
                    forbidden(f"{where}.nodePort", "may not be used when `type` is 'ClusterIP'")
                )
            elif node_port not in NODE_PORT_RANGE:
                causes.append(
                    invalid(
                        f"{where}.nodePort",
                        node_port,
                        "provided port is not in the valid range. The range of "
                        "valid ports is 30000-32767",
                    )
                )
        key = (port.get("port"), protocol)
        if key in seen_ports:
            causes.append(duplicate(where, {"port": port.get("port"), "protocol": protocol}))
        seen_ports.add(key)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None"):
        try:
            ipaddress.ip_address(cluster_ip)
        except ValueError:
            causes.append(invalid("spec.clusterIP", cluster_ip, "must be a valid IP address"))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and cluster_ip not in (None, "", old_ip) and kind != "ExternalName":
            causes.append(invalid("spec.clusterIPs[0]", cluster_ip, "may not change once set"))
    for field in ("selector",):
        for key in spec.get(field) or {}:
            causes += _label_key(f"spec.{field}", key)
    return causes


# --- network policies -------------------------------------------------------------------------


def validate_network_policy(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = new.get("spec") or {}
    causes: list[Cause] = []
    for i, value in enumerate(spec.get("policyTypes") or []):
        if value not in POLICY_TYPES:
            causes.append(not_supported(f"spec.policyTypes[{i}]", value, POLICY_TYPES))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            for j, port in enumerate(rule.get("ports") or []):
                where = f"spec.{direction}[{i}].ports[{j}]"
                if port.get("protocol") is not None:
                    causes += _protocol(f"{where}.protocol", port["protocol"])
                value = port.get("port")
                if isinstance(value, int):
                    causes += _port(f"{where}.port", value)
                elif isinstance(value, str):
                    causes += _iana_service_name(f"{where}.port", value)
                end = port.get("endPort")
                if end is not None:
                    if not isinstance(value, int):
                        causes.append(
                            invalid(
                                f"{where}.endPort",
                                end,
                                "may not be specified when `port` is non-numeric",
                            )
                        )
                    elif end < value:
                        causes.append(
                            invalid(
                                f"{where}.endPort", end, "must be greater than or equal to `port`"
                            )
                        )
                    else:
                        causes += _port(f"{where}.endPort", end)
            for j, peer in enumerate(rule.get(peers) or []):
                block = peer.get("ipBlock")
                where = f"spec.{direction}[{i}].{peers}[{j}]"
                if block is None:
                    continue
                if peer.get("podSelector") is not None or peer.get("namespaceSelector") is not None:
                    causes.append(forbidden(where, "may not specify more than 1 peer type"))
                causes += _cidr(f"{where}.ipBlock.cidr", block.get("cidr"))
                for k, excepted in enumerate(block.get("except") or []):
                    causes += _cidr(f"{where}.ipBlock.except[{k}]", excepted)
    return causes


def _cidr(path: str, value: Any) -> list[Cause]:
    if not value:
        return [required(path)]
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [
            invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
        ]
    return []


# --- the rest ---------------------------------------------------------------------------------


def validate_daemon_set(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = new.get("spec") or {}
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(required("spec.selector"))
    else:
        try:
            matches = Selector.from_label_selector(selector).matches(labels)
        except SelectorError as error:
            causes.append(invalid("spec.selector", selector, str(error)))
            matches = True
        if not matches:
            causes.append(
                invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    causes += validate_pod_spec(template.get("spec"), "spec.template.spec")
    return causes


def validate_endpoint_slice(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    families = ("FQDN", "IPv4", "IPv6")
    family = new.get("addressType")
    if family is None:
        causes.append(required("addressType"))
    elif family not in families:
        causes.append(not_supported("addressType", family, families))
    for i, port in enumerate(new.get("ports") or []):
        if port.get("protocol") is not None:
            causes += _protocol(f"ports[{i}].protocol", port["protocol"])
        if port.get("port") is not None:
            causes += _port(f"ports[{i}].port", port["port"])
    return causes


Validator = Callable[[Mapping[str, Any], Mapping[str, Any] | None], list[Cause]]

VALIDATORS: dict[str, Validator] = {
    "Pod": validate_pod,
    "Service": validate_service,
    "NetworkPolicy": validate_network_policy,
    "DaemonSet": validate_daemon_set,
    "EndpointSlice": validate_endpoint_slice,
}
"Kind-specific validation; metadata is validated for every kind."
