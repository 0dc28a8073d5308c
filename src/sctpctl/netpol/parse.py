"""From Kubernetes objects (plain dicts, as YAML gives them) to the engine's model.

The checks are the API server's (``ValidateNetworkPolicy`` and friends in
``pkg/apis/networking/validation``), so a file the engine accepts is one ``kubectl apply`` accepts
too, and vice versa for every field the engine reads:

- ``protocol`` is one of TCP, UDP, SCTP (case matters); ``port`` is 1-65535 or an IANA service
  name (at most 15 lower-case letters, digits and single dashes, with at least one letter);
- ``endPort`` needs a numeric ``port`` and must not be below it;
- a peer sets ``ipBlock`` or selectors, never both, and never nothing;
- ``ipBlock.cidr`` is a CIDR, and every ``except`` is a strict subset of it (same family, longer
  prefix); host bits are masked, as Go's ``net.ParseCIDR`` does;
- ``policyTypes`` holds at most two values out of Ingress and Egress;
- unknown fields are errors, as with ``kubectl apply``'s default strict field validation.

Errors carry the path of the field (``("spec", "ingress", 0, "ports", 1, "endPort")``) so the
command line can point at the line of the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

from sctpctl.netpol.model import (
    METADATA_NAME_LABEL,
    Cluster,
    ClusterError,
    ContainerPort,
    Direction,
    IPAddress,
    IPBlockPeer,
    IPNetwork,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PodPeer,
    PortSpec,
    Protocol,
    Rule,
)
from sctpctl.netpol.selectors import Selector, SelectorError

FieldPath = tuple[str | int, ...]

NETWORK_POLICY_API_VERSION = "networking.k8s.io/v1"
DEFAULT_NAMESPACE = "default"

_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TERMINATED_PHASES = frozenset({"Succeeded", "Failed"})


class InvalidObject(ClusterError):
    """An object the API server would reject, or that the engine cannot read."""

    def __init__(self, index: int, what: str, path: FieldPath, message: str) -> None:
        where = format_path(path)
        super().__init__(f"{what}: {where}: {message}" if where else f"{what}: {message}")
        self.index = index
        "Position of the object in the sequence given to :func:`cluster_from_objects`."
        self.what = what
        "``Kind namespace/name``."
        self.path = path
        self.message = message


class _FieldError(Exception):
    """Raised inside the parsers; :func:`cluster_from_objects` adds which object it was."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def format_path(path: FieldPath) -> str:
    """``spec.ingress[0].ports[1]`` for ``("spec", "ingress", 0, "ports", 1)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True, slots=True)
class _Objects:
    namespaces: list[Namespace]
    pods: list[Pod]
    policies: list[NetworkPolicy]


def cluster_from_objects(objects: Iterable[Mapping[str, Any]]) -> Cluster:
    """Read Namespaces, Pods and NetworkPolicies; other kinds (Services, ...) are skipped."""
    found = _Objects([], [], [])
    seen: dict[tuple[str, str, str], int] = {}
    for index, obj in enumerate(objects):
        kind = obj.get("kind")
        what = _describe(obj)
        try:
            if kind == "Namespace":
                _check_api_version(obj, "v1")
                item: Namespace | Pod | NetworkPolicy | None = parse_namespace(obj)
            elif kind == "Pod":
                _check_api_version(obj, "v1")
                item = parse_pod(obj)
            elif kind == "NetworkPolicy":
                _check_api_version(obj, NETWORK_POLICY_API_VERSION)
                item = parse_network_policy(obj)
            else:
                continue
        except _FieldError as error:
            raise InvalidObject(index, what, error.path, error.message) from None
        except SelectorError as error:  # raised outside a field parser: metadata.labels
            raise InvalidObject(index, what, ("metadata", "labels"), str(error)) from None
        if item is None:
            continue
        key = (
            str(kind),
            item.name if isinstance(item, Namespace) else item.namespace,
            item.name,
        )
        if key in seen:
            raise InvalidObject(index, what, ("metadata", "name"), "given twice in the input")
        seen[key] = index
        if isinstance(item, Namespace):
            found.namespaces.append(item)
        elif isinstance(item, Pod):
            found.pods.append(item)
        else:
            found.policies.append(item)
    return Cluster(found.namespaces, found.pods, found.policies)


def parse_namespace(obj: Mapping[str, Any]) -> Namespace:
    name = _name(obj, _DNS_LABEL, "a DNS-1123 label")
    labels = _labels(obj)
    labels[METADATA_NAME_LABEL] = name  # the API server overwrites whatever was written
    return Namespace(name, labels)


def parse_pod(obj: Mapping[str, Any]) -> Pod | None:
    """A Pod, or ``None`` for a pod that has terminated (it holds no address any more)."""
    name = _name(obj, _DNS_SUBDOMAIN, "a DNS-1123 subdomain")
    namespace = _namespace(obj)
    labels = _labels(obj)
    spec = _mapping(obj.get("spec"), ("spec",))
    status = _mapping(obj.get("status"), ("status",))
    if status.get("phase") in _TERMINATED_PHASES:
        return None
    ports: list[ContainerPort] = []
    for group in ("containers", "initContainers"):
        for number, container in enumerate(_list(spec.get(group), ("spec", group))):
            path: FieldPath = ("spec", group, number)
            container = _mapping(container, path)
            if group == "initContainers" and container.get("restartPolicy") != "Always":
                continue  # only sidecars keep running and serve ports
            for i, port in enumerate(_list(container.get("ports"), (*path, "ports"))):
                ports.append(_container_port(port, (*path, "ports", i)))
    host_network = spec.get("hostNetwork", False)
    if not isinstance(host_network, bool):
        raise _FieldError(("spec", "hostNetwork"), "must be true or false")
    node_name = spec.get("nodeName")
    if node_name is not None and not isinstance(node_name, str):
        raise _FieldError(("spec", "nodeName"), "must be a string")
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels,
        ips=_pod_ips(status),
        ports=tuple(ports),
        host_network=host_network,
        node_name=node_name,
    )


def parse_network_policy(obj: Mapping[str, Any]) -> NetworkPolicy:
    name = _name(obj, _DNS_SUBDOMAIN, "a DNS-1123 subdomain")
    namespace = _namespace(obj)
    spec = _mapping(obj.get("spec"), ("spec",))
    _known_fields(spec, ("spec",), {"podSelector", "policyTypes", "ingress", "egress"})
    pod_selector = _selector(spec.get("podSelector"), ("spec", "podSelector"))
    ingress = _rules(spec.get("ingress"), ("spec", "ingress"), "from")
    egress = _rules(spec.get("egress"), ("spec", "egress"), "to")
    return NetworkPolicy(
        namespace=namespace,
        name=name,
        pod_selector=pod_selector,
        policy_types=_policy_types(spec.get("policyTypes"), egress),
        ingress=ingress,
        egress=egress,
    )


def _policy_types(value: Any, egress: tuple[Rule, ...]) -> frozenset[Direction]:
    path: FieldPath = ("spec", "policyTypes")
    items = _list(value, path)
    if not items:
        # Defaulting: Ingress always, Egress only when there are egress rules. An explicit
        # `egress: []` has none, so such a policy does not isolate for egress.
        return frozenset({Direction.INGRESS, Direction.EGRESS} if egress else {Direction.INGRESS})
    if len(items) > 2:
        raise _FieldError(path, "may not specify more than two policyTypes")
    types = set()
    for number, item in enumerate(items):
        try:
            types.add(Direction(item))
        except ValueError:
            raise _FieldError((*path, number), f"{item!r} is not Ingress or Egress") from None
    return frozenset(types)


def _rules(value: Any, path: FieldPath, peers_key: str) -> tuple[Rule, ...]:
    rules = []
    for number, raw in enumerate(_list(value, path)):
        rule_path = (*path, number)
        rule = _mapping(raw, rule_path)
        _known_fields(rule, rule_path, {peers_key, "ports"})
        peers = tuple(
            _peer(peer, (*rule_path, peers_key, i))
            for i, peer in enumerate(_list(rule.get(peers_key), (*rule_path, peers_key)))
        )
        ports = tuple(
            _port_spec(port, (*rule_path, "ports", i))
            for i, port in enumerate(_list(rule.get("ports"), (*rule_path, "ports")))
        )
        rules.append(Rule(peers=peers, ports=ports))
    return tuple(rules)


def _peer(value: Any, path: FieldPath) -> Peer:
    peer = _mapping(value, path)
    _known_fields(peer, path, {"podSelector", "namespaceSelector", "ipBlock"})
    has_selectors = peer.get("podSelector") is not None or peer.get("namespaceSelector") is not None
    if peer.get("ipBlock") is not None:
        if has_selectors:
            raise _FieldError(path, "may not specify more than 1 peer: ipBlock and a selector")
        return _ip_block(peer["ipBlock"], (*path, "ipBlock"))
    if not has_selectors:
        raise _FieldError(path, "must specify a peer: podSelector, namespaceSelector or ipBlock")
    namespace_selector = None
    if peer.get("namespaceSelector") is not None:
        namespace_selector = _selector(peer["namespaceSelector"], (*path, "namespaceSelector"))
    return PodPeer(
        pod_selector=_selector(peer.get("podSelector"), (*path, "podSelector")),
        namespace_selector=namespace_selector,
    )


def _ip_block(value: Any, path: FieldPath) -> IPBlockPeer:
    block = _mapping(value, path)
    _known_fields(block, path, {"cidr", "except"})
    if block.get("cidr") in (None, ""):
        raise _FieldError((*path, "cidr"), "required")
    cidr = _cidr(block["cidr"], (*path, "cidr"))
    excepts = []
    for number, raw in enumerate(_list(block.get("except"), (*path, "except"))):
        excepted = _cidr(raw, (*path, "except", number))
        if (
            excepted.version != cidr.version
            or excepted.prefixlen <= cidr.prefixlen
            or not excepted.subnet_of(cidr)  # type: ignore[arg-type]  # same version checked
        ):
            raise _FieldError((*path, "except", number), f"must be a strict subset of {cidr}")
        excepts.append(excepted)
    return IPBlockPeer(cidr=cidr, excepts=tuple(excepts))


def _cidr(value: Any, path: FieldPath) -> IPNetwork:
    if not isinstance(value, str) or "/" not in value:
        raise _FieldError(path, f"{value!r} is not a CIDR (such as 10.0.0.0/16 or fd00::/64)")
    try:
        return ip_network(value, strict=False)
    except ValueError:
        raise _FieldError(path, f"{value!r} is not a valid CIDR") from None


def _port_spec(value: Any, path: FieldPath) -> PortSpec:
    port = _mapping(value, path)
    _known_fields(port, path, {"protocol", "port", "endPort"})
    protocol = _protocol(port.get("protocol"), (*path, "protocol"))
    number = port.get("port")
    if number is not None:
        number = _port_number_or_name(number, (*path, "port"))
    end_port = port.get("endPort")
    if end_port is not None:
        end_path = (*path, "endPort")
        if number is None:
            raise _FieldError(end_path, "may not be specified when `port` is not specified")
        if isinstance(number, str):
            raise _FieldError(end_path, "may not be specified when `port` is non-numeric")
        end_port = _port_number(end_port, end_path)
        if end_port < number:
            raise _FieldError(end_path, f"must be greater than or equal to `port` ({number})")
    return PortSpec(protocol=protocol, port=number, end_port=end_port)


def _container_port(value: Any, path: FieldPath) -> ContainerPort:
    port = _mapping(value, path)
    if port.get("containerPort") is None:
        raise _FieldError((*path, "containerPort"), "required")
    name = port.get("name")
    if name is not None:
        name = _port_name(name, (*path, "name"))
    return ContainerPort(
        port=_port_number(port["containerPort"], (*path, "containerPort")),
        protocol=_protocol(port.get("protocol"), (*path, "protocol")),
        name=name,
    )


def _protocol(value: Any, path: FieldPath) -> Protocol:
    if value is None:
        return Protocol.TCP  # the API default, for policy ports and container ports alike
    try:
        return Protocol(value)
    except ValueError:
        raise _FieldError(
            path, f"unsupported protocol {value!r}: must be TCP, UDP or SCTP (upper case)"
        ) from None


def _port_number_or_name(value: Any, path: FieldPath) -> int | str:
    if isinstance(value, str):
        return _port_name(value, path)
    return _port_number(value, path)


def _port_number(value: Any, path: FieldPath) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(path, f"{value!r} is not a port number")
    if not 1 <= value <= 65535:
        raise _FieldError(path, f"{value} is not between 1 and 65535")
    return value


def _port_name(value: Any, path: FieldPath) -> str:
    valid = (
        isinstance(value, str)
        and len(value) <= 15
        and _IANA_SVC_NAME.match(value) is not None
        and "--" not in value
        and any(c.isalpha() for c in value)
    )
    if not valid:
        raise _FieldError(
            path,
            f"{value!r} is not a port name (at most 15 lower-case letters, digits and single "
            "dashes, with at least one letter) nor a number",
        )
    return str(value)


def _pod_ips(status: Mapping[str, Any]) -> tuple[IPAddress, ...]:
    ips: list[IPAddress] = []
    entries = _list(status.get("podIPs"), ("status", "podIPs"))
    raw: list[tuple[Any, FieldPath]] = []
    for number, entry in enumerate(entries):
        path: FieldPath = ("status", "podIPs", number)
        raw.append((_mapping(entry, path).get("ip"), (*path, "ip")))
    if status.get("podIP") is not None:
        raw.insert(0, (status["podIP"], ("status", "podIP")))
    for text, path in raw:
        try:
            address = ip_address(text)
        except ValueError:
            raise _FieldError(path, f"{text!r} is not an IP address") from None
        if address in ips:
            continue
        if any(ip.version == address.version for ip in ips):
            raise _FieldError(path, f"a pod has at most one IPv{address.version} address")
        ips.append(address)
    return tuple(ips)


def _selector(value: Any, path: FieldPath) -> Selector:
    try:
        return Selector.from_label_selector(value)
    except SelectorError as error:
        raise _FieldError(path, str(error)) from None


def _check_api_version(obj: Mapping[str, Any], expected: str) -> None:
    if obj.get("apiVersion") != expected:
        raise _FieldError(
            ("apiVersion",), f"{obj.get('apiVersion')!r} is not supported: use {expected}"
        )


def _name(obj: Mapping[str, Any], pattern: re.Pattern[str], what: str) -> str:
    metadata = _mapping(obj.get("metadata"), ("metadata",))
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise _FieldError(("metadata", "name"), "required")
    if len(name) > 253 or pattern.match(name) is None:
        raise _FieldError(("metadata", "name"), f"{name!r} is not {what}")
    return name


def _namespace(obj: Mapping[str, Any]) -> str:
    metadata = _mapping(obj.get("metadata"), ("metadata",))
    namespace = metadata.get("namespace")
    if namespace is None:
        return DEFAULT_NAMESPACE
    if not isinstance(namespace, str) or len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise _FieldError(("metadata", "namespace"), f"{namespace!r} is not a DNS-1123 label")
    return namespace


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    metadata = _mapping(obj.get("metadata"), ("metadata",))
    labels = _mapping(metadata.get("labels"), ("metadata", "labels"))
    Selector.from_match_labels(labels)  # validates keys and values the way the API server does
    return {str(key): str(value) for key, value in labels.items()}


def _mapping(value: Any, path: FieldPath) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _FieldError(path, f"must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, path: FieldPath) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _FieldError(path, f"must be a list, not {type(value).__name__}")
    return value


def _known_fields(value: Mapping[str, Any], path: FieldPath, known: set[str]) -> None:
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise _FieldError((*path, unknown[0]), f"unknown field {unknown[0]!r}")


def _describe(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = namespace = None
    if isinstance(metadata, Mapping):
        name = metadata.get("name")
        namespace = metadata.get("namespace")
    kind = obj.get("kind") or "<no kind>"
    if kind == "Namespace" or not name:
        return f"{kind} {name or '<no name>'}"
    return f"{kind} {namespace or DEFAULT_NAMESPACE}/{name}"
