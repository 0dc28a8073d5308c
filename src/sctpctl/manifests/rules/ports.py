"""Rules about single port entries: protocol spelling, ranges and names, SCTP hostPorts."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from sctpctl.manifests.findings import Finding, Rule, Severity, finding
from sctpctl.manifests.inventory import PROTOCOLS, Inventory, dig, entries, is_int
from sctpctl.manifests.loader import Document, FieldPath
from sctpctl.manifests.rules.common import LintOptions

PROTOCOL_SPELLING = Rule(
    "protocol-spelling",
    Severity.ERROR,
    "protocol is not exactly SCTP, TCP or UDP",
    "The API server accepts only 'SCTP', 'TCP' and 'UDP', case-sensitively, in container "
    "ports, Service ports and NetworkPolicy ports; 'sctp' or 'Sctp' is rejected when applied.",
)
PORT_RANGE = Rule(
    "port-range",
    Severity.ERROR,
    "port number, port name or nodePort out of range",
    "Ports are 1-65535; a named port is an IANA service name (at most 15 lower-case letters, "
    "digits and single dashes, with at least one letter); a nodePort must lie in the cluster's "
    "NodePort range (30000-32767 by default) and exists only for NodePort and LoadBalancer "
    "Services; a NetworkPolicy endPort needs a numeric port no larger than it.",
)
HOST_PORT = Rule(
    "host-port",
    Severity.WARNING,
    "SCTP hostPort",
    "Kubernetes never opens host sockets for SCTP; a hostPort works only if the container "
    "runtime or its portmap plugin programs SCTP rules, and containerd once ignored SCTP "
    "hostPorts altogether (kubernetes#92041). A NodePort Service is the documented way in.",
)

_IANA_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
MAX_PORT = 65535


def check_protocol_spelling(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for document, path, value in protocol_fields(inventory):
        if value in PROTOCOLS:
            continue
        text = str(value)
        if text.upper() in PROTOCOLS:
            message = (
                f"protocol {text!r} must be written {text.upper()!r}: the API is case-sensitive"
            )
            fix = f"write protocol: {text.upper()}"
        else:
            guess = difflib.get_close_matches(text.upper(), PROTOCOLS, n=1, cutoff=0.5)
            message = f"protocol {text!r} is not one of SCTP, TCP or UDP"
            fix = f"write protocol: {guess[0]}" if guess else "write protocol: SCTP, TCP or UDP"
        yield finding(PROTOCOL_SPELLING, document, path, message, fix)


def check_port_range(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for template in inventory.templates:
        for cport in template.ports:
            document = template.document
            yield from _number(
                document, (*cport.path, "containerPort"), cport.number, required=True
            )
            if cport.host_port not in (None, 0):
                yield from _number(document, (*cport.path, "hostPort"), cport.host_port)
    for service in inventory.of_kind("Service"):
        yield from _service_ports(service, options)
    for policy in inventory.of_kind("NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for rule_path, rule in entries(policy.obj, ("spec", direction)):
                for port_path, port in entries(rule, ("ports",)):
                    yield from _policy_port(policy, (*rule_path, *port_path), port)


def check_host_port(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for template in inventory.templates:
        for port in template.ports:
            if port.protocol == "SCTP" and port.host_port not in (None, 0):
                yield finding(
                    HOST_PORT,
                    template.document,
                    (*port.path, "hostPort"),
                    f"container {port.container!r} maps SCTP port {port.number} to hostPort "
                    f"{port.host_port}: whether that works depends on the container runtime",
                    "expose the port with a NodePort Service instead of a hostPort",
                )


def protocol_fields(inventory: Inventory) -> Iterator[tuple[Document, FieldPath, Any]]:
    """Every ``protocol`` written in a container port, a Service port or a policy port."""
    for template in inventory.templates:
        for cport in template.ports:
            raw = dig(template.document.obj, (*cport.path, "protocol"))
            if raw is not None:
                yield template.document, (*cport.path, "protocol"), raw
    for service in inventory.of_kind("Service"):
        for path, port in entries(service.obj, ("spec", "ports")):
            if port.get("protocol") is not None:  # null is the same as omitted: TCP
                yield service, (*path, "protocol"), port["protocol"]
    for policy in inventory.of_kind("NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for rule_path, rule in entries(policy.obj, ("spec", direction)):
                for port_path, port in entries(rule, ("ports",)):
                    if port.get("protocol") is not None:
                        yield policy, (*rule_path, *port_path, "protocol"), port["protocol"]


def port_name_problem(name: str) -> str:
    """Why ``name`` is not a valid port name (an IANA service name), or ``""``."""
    if len(name) > 15:
        return f"port name {name!r} is longer than 15 characters"
    if not _IANA_NAME.match(name) or "--" in name:
        return f"port name {name!r} may contain only lower-case letters, digits and single dashes"
    if not any(c.isalpha() for c in name):
        return f"port name {name!r} needs at least one letter (a number must be written unquoted)"
    return ""


def _service_ports(service: Document, options: LintOptions) -> Iterator[Finding]:
    kind = dig(service.obj, ("spec", "type")) or "ClusterIP"
    low, high = options.node_port_range
    for path, port in entries(service.obj, ("spec", "ports")):
        yield from _number(service, (*path, "port"), port.get("port"), required=True)
        target = port.get("targetPort")
        if target is not None:
            yield from _number_or_name(service, (*path, "targetPort"), target)
        node_port = port.get("nodePort")
        if node_port in (None, 0):
            continue
        if kind not in ("NodePort", "LoadBalancer"):
            yield finding(
                PORT_RANGE,
                service,
                (*path, "nodePort"),
                f"nodePort {node_port} is set on a Service of type {kind}, which has no node ports",
                "remove nodePort, or set spec.type: NodePort",
            )
        elif not is_int(node_port) or not low <= node_port <= high:
            yield finding(
                PORT_RANGE,
                service,
                (*path, "nodePort"),
                f"nodePort {node_port!r} is outside the cluster's NodePort range {low}-{high}",
                f"pick a nodePort between {low} and {high}, or leave it out to have one assigned",
            )


def _policy_port(policy: Document, path: FieldPath, port: Mapping[str, Any]) -> Iterator[Finding]:
    number = port.get("port")
    if number is not None:
        yield from _number_or_name(policy, (*path, "port"), number)
    end = port.get("endPort")
    if end is None:
        return
    if not is_int(number):
        yield finding(
            PORT_RANGE,
            policy,
            (*path, "endPort"),
            "endPort needs a numeric port to start the range",
            "set port to the first port number of the range",
        )
    elif not is_int(end) or not number <= end <= MAX_PORT:
        yield finding(
            PORT_RANGE,
            policy,
            (*path, "endPort"),
            f"endPort {end!r} must be a number between port ({number}) and {MAX_PORT}",
            f"set endPort to a number from {number} to {MAX_PORT}",
        )


def _number(
    document: Document, path: FieldPath, value: Any, *, required: bool = False
) -> Iterator[Finding]:
    field = str(path[-1])
    if value is None:
        if required:
            yield finding(
                PORT_RANGE, document, path, f"{field} is required", f"set {field} to 1-{MAX_PORT}"
            )
        return
    if not is_int(value):
        yield finding(
            PORT_RANGE,
            document,
            path,
            f"{field} must be a number, not {value!r}",
            f"write {field} as an unquoted number from 1 to {MAX_PORT}",
        )
    elif not 1 <= value <= MAX_PORT:
        yield finding(
            PORT_RANGE,
            document,
            path,
            f"{field} {value} is outside 1-{MAX_PORT}",
            f"use a port number from 1 to {MAX_PORT}",
        )


def _number_or_name(document: Document, path: FieldPath, value: Any) -> Iterator[Finding]:
    if isinstance(value, str):
        problem = port_name_problem(value)
        if problem:
            yield finding(
                PORT_RANGE,
                document,
                path,
                problem,
                "use the name of a container port, or an unquoted port number",
            )
        return
    yield from _number(document, path, value)
