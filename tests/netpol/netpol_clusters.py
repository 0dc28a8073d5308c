"""Kubernetes objects for policy tests, written as the YAML would be (plain dicts)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def namespace(name: str, **labels: str) -> Obj:
    metadata: Obj = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def pod(
    ns: str,
    name: str,
    labels: dict[str, str] | None = None,
    ips: tuple[str, ...] = (),
    ports: list[Obj] | None = None,
    **spec: Any,
) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {})},
        "spec": {"containers": [{"name": "main", "image": "agnhost", "ports": ports or []}]},
    }
    obj["spec"].update(spec)
    if ips:
        obj["status"] = {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}
    return obj


def policy(ns: str, name: str, **spec: Any) -> Obj:
    spec.setdefault("podSelector", {})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def e2e_model(ports: tuple[int, ...] = (80, 81)) -> list[Obj]:
    """The upstream netpol e2e model: namespaces x, y, z with pods a, b, c in each.

    Pods carry ``pod: <name>``, namespaces ``ns: <name>`` (and, as every namespace does,
    ``kubernetes.io/metadata.name``); each pod serves every port over TCP, UDP and SCTP with
    named ports ``serve-<port>-<protocol>``, as the e2e framework's agnhost containers do.
    """
    objects = [namespace(ns, ns=ns) for ns in "xyz"]
    for number, ns in enumerate("xyz"):
        for index, name in enumerate("abc"):
            container_ports = [
                {"name": f"serve-{p}-{proto.lower()}", "containerPort": p, "protocol": proto}
                for p in ports
                for proto in ("TCP", "UDP", "SCTP")
            ]
            objects.append(
                pod(
                    ns,
                    name,
                    {"pod": name},
                    ips=(f"10.128.{number}.{10 + index}", f"fd00:10:128:{number}::{10 + index}"),
                    ports=container_ports,
                )
            )
    return objects


E2E_PODS = tuple(f"{ns}/{name}" for ns in "xyz" for name in "abc")
