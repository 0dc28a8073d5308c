"""A brute-force NetworkPolicy evaluator, written from the API documentation, for comparison.

It reads the raw Kubernetes objects (dicts) and answers one connection at a time by walking every
policy, with no indexes and nothing shared with ``sctpctl.netpol`` except the documented choices
(ipBlock matches pod addresses too; hostNetwork pods count as plain addresses; terminated pods
do not exist). It is meant to be obviously right, not fast.

An endpoint is ``{"pod": <Pod dict> | None, "ip": "<address>" | None}``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

Obj = dict[str, Any]


def _namespace_of(obj: Obj) -> str:
    return obj.get("metadata", {}).get("namespace") or "default"


def _labels(obj: Obj) -> dict[str, str]:
    return {str(k): str(v) for k, v in (obj.get("metadata", {}).get("labels") or {}).items()}


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector: matchLabels and matchExpressions, all ANDed; {} matches all."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = [str(v) for v in expression.get("values") or []]
        if operator == "In" and not (key in labels and labels[key] in values):
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


class Reference:
    def __init__(self, objects: list[Obj]) -> None:
        self.policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
        self.pods = [
            o
            for o in objects
            if o.get("kind") == "Pod"
            and (o.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        self.namespace_labels: dict[str, dict[str, str]] = {}
        for obj in objects:
            if obj.get("kind") == "Namespace":
                name = obj["metadata"]["name"]
                labels = _labels(obj)
                labels["kubernetes.io/metadata.name"] = name
                self.namespace_labels[name] = labels

    def labels_of_namespace(self, name: str) -> dict[str, str]:
        return self.namespace_labels.get(name, {"kubernetes.io/metadata.name": name})

    def allowed(self, source: Obj, destination: Obj, protocol: str, port: int) -> bool:
        """Egress allowed at the source and ingress allowed at the destination."""
        return self.direction_allowed(
            "Egress", source, destination, destination, protocol, port
        ) and self.direction_allowed("Ingress", destination, source, destination, protocol, port)

    def direction_allowed(
        self,
        direction: str,
        subject: Obj,
        other: Obj,
        destination: Obj,
        protocol: str,
        port: int,
    ) -> bool:
        pod = subject["pod"]
        if pod is None or (pod.get("spec") or {}).get("hostNetwork"):
            return True  # NetworkPolicy applies to pods of the pod network only
        isolated = False
        for policy in self.policies:
            if _namespace_of(policy) != _namespace_of(pod):
                continue
            spec = policy.get("spec") or {}
            if not selector_matches(spec.get("podSelector"), _labels(pod)):
                continue
            types = spec.get("policyTypes") or (
                ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
            )
            if direction not in types:
                continue
            isolated = True
            key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
            for rule in spec.get(key) or []:
                peers = rule.get(peers_key) or []
                ports = rule.get("ports") or []
                peer_ok = not peers or any(
                    self.peer_matches(peer, _namespace_of(policy), other) for peer in peers
                )
                port_ok = not ports or any(
                    self.port_matches(entry, protocol, port, destination) for entry in ports
                )
                if peer_ok and port_ok:
                    return True
        return not isolated

    def peer_matches(self, peer: Obj, policy_namespace: str, other: Obj) -> bool:
        if peer.get("ipBlock") is not None:
            if other["ip"] is None:
                return False
            address = ipaddress.ip_address(other["ip"])
            cidr = ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False)
            if address.version != cidr.version or address not in cidr:
                return False
            for excepted in peer["ipBlock"].get("except") or []:
                if address in ipaddress.ip_network(excepted, strict=False):
                    return False
            return True
        pod = other["pod"]
        if pod is None or (pod.get("spec") or {}).get("hostNetwork"):
            return False
        namespace = _namespace_of(pod)
        if peer.get("namespaceSelector") is None:
            if namespace != policy_namespace:
                return False
        elif not selector_matches(peer["namespaceSelector"], self.labels_of_namespace(namespace)):
            return False
        return selector_matches(peer.get("podSelector"), _labels(pod))

    def port_matches(self, entry: Obj, protocol: str, port: int, destination: Obj) -> bool:
        wanted = entry.get("protocol") or "TCP"
        if wanted != protocol:
            return False
        value = entry.get("port")
        if value is None:
            return True
        if isinstance(value, int):
            return value <= port <= (entry.get("endPort") or value)
        pod = destination["pod"]
        if pod is None or (pod.get("spec") or {}).get("hostNetwork"):
            return False
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or []) + [
            c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
        ]
        for container in containers:
            for container_port in container.get("ports") or []:
                if (
                    container_port.get("name") == value
                    and (container_port.get("protocol") or "TCP") == protocol
                    and container_port["containerPort"] == port
                ):
                    return True
        return False


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [status["podIP"]] if status.get("podIP") else []
    for entry in status.get("podIPs") or []:
        if entry["ip"] not in ips:
            ips.append(entry["ip"])
    return ips


def pod_endpoint(pod: Obj, family: int | None) -> Obj:
    for ip in pod_ips(pod):
        if family is None or ipaddress.ip_address(ip).version == family:
            return {"pod": pod, "ip": ip}
    return {"pod": pod, "ip": None}
