"""Rules about Services that carry SCTP: their type, and whether their targets exist."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sctpctl.manifests.findings import Finding, Rule, Severity, finding
from sctpctl.manifests.inventory import (
    Inventory,
    PodTemplate,
    dig,
    entries,
    namespace_of,
    selector_or_none,
)
from sctpctl.manifests.loader import Document, FieldPath
from sctpctl.manifests.rules.common import LintOptions
from sctpctl.netpol.selectors import Selector

SERVICE_TYPE = Rule(
    "service-type",
    Severity.ERROR,
    "SCTP Service of type LoadBalancer or ExternalName",
    "The procedure supports SCTP Services of type ClusterIP and NodePort only. A LoadBalancer "
    "needs a provider that carries SCTP (most clouds do not; on bare metal MetalLB works if the "
    "CNI does): accept it with --allow-loadbalancer. An ExternalName Service is a DNS alias and "
    "forwards no SCTP at all.",
)
SERVICE_TARGET_PORT = Rule(
    "service-target-port",
    Severity.ERROR,
    "SCTP Service port that no selected pod exposes as SCTP",
    "Endpoints are built per pod from the Service's targetPort: a named targetPort must match "
    "the name of a container port with the same protocol, or the pod is left out of the "
    "Service. A numeric targetPort that the selected pods do not declare as SCTP usually means "
    "the container port lacks protocol: SCTP. Only pods in the same input are looked at.",
)


def check_service_type(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for service in inventory.of_kind("Service"):
        sctp = [path for path, port in entries(service.obj, ("spec", "ports")) if _is_sctp(port)]
        if not sctp:
            continue
        kind = dig(service.obj, ("spec", "type"))
        if kind == "LoadBalancer" and not options.allow_loadbalancer:
            yield finding(
                SERVICE_TYPE,
                service,
                ("spec", "type"),
                "an SCTP Service of type LoadBalancer is outside the documented procedure "
                "(ClusterIP or NodePort); it works only where the load balancer carries SCTP",
                "use type: NodePort (or ClusterIP), or pass --allow-loadbalancer if your load "
                "balancer supports SCTP (e.g. MetalLB with an SCTP-capable CNI)",
            )
        elif kind == "ExternalName":
            yield finding(
                SERVICE_TYPE,
                service,
                ("spec", "type"),
                "an ExternalName Service is only a DNS alias: its SCTP ports forward nothing",
                "use type: ClusterIP or NodePort with a selector, or drop the SCTP ports",
            )


def check_service_target_port(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for service in inventory.of_kind("Service"):
        raw_selector = dig(service.obj, ("spec", "selector"))
        if not raw_selector:
            continue  # endpoints are managed by hand: nothing to compare with
        selector = selector_or_none(Selector.from_match_labels, raw_selector)
        if selector is None:
            continue
        selected = inventory.templates_in(namespace_of(service), selector)
        if not selected:
            continue
        for path, port in entries(service.obj, ("spec", "ports")):
            if _is_sctp(port):
                yield from _target_port(service, path, port, selected, selector)


def _target_port(
    service: Document,
    path: FieldPath,
    port: Mapping[str, Any],
    selected: list[PodTemplate],
    selector: Selector,
) -> Iterator[Finding]:
    target = port.get("targetPort", port.get("port"))
    if target is None:
        return
    where = (*path, "targetPort") if "targetPort" in port else (*path, "port")
    label = f"port {port.get('name')!r}" if port.get("name") else f"port {port.get('port')}"
    if isinstance(target, str):
        # a named port resolves per pod, by name and protocol: a pod without it gets no endpoint
        missing = [t for t in selected if not t.exposes(target, "SCTP")]
        message = f"SCTP {label} targets the port named {target!r}, but "
        suffix = f"; those pods get no endpoint for it (selector {selector})"
        fix = (
            f"name an SCTP container port {target!r} in those pods (with protocol: SCTP), or "
            "target a port name they have"
        )
        severity = Severity.ERROR
    else:
        # a number reaches the pod whatever it declares: a mismatch is a likely mistake only
        missing = [t for t in selected if t.ports and not t.exposes(target, "SCTP")]
        message = f"SCTP {label} targets port {target}, but "
        suffix = ""
        fix = f"declare containerPort: {target} with protocol: SCTP in those pods, or correct "
        fix += "targetPort"
        severity = Severity.WARNING
    if missing:
        yield finding(
            SERVICE_TARGET_PORT,
            service,
            where,
            message + _describe_missing(missing, target) + suffix,
            fix,
            severity,
        )


def _describe_missing(templates: list[PodTemplate], target: Any) -> str:
    parts = []
    for template in templates:
        protocols = template.protocols_of(target)
        if protocols:
            parts.append(f"{template.describe()} declares it as {'/'.join(sorted(protocols))}")
        else:
            parts.append(f"{template.describe()} has no such port")
    return "; ".join(parts)


def _is_sctp(port: Mapping[str, Any]) -> bool:
    return port.get("protocol") == "SCTP"
