"""Hypothesis strategies for random clusters: namespaces, pods and policies as Kubernetes dicts.

Small vocabularies on purpose: with a few label values, ports and addresses, random selectors,
named ports and ipBlocks actually hit the pods, so the interesting branches are exercised.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import strategies as st

Obj = dict[str, Any]

NAMESPACES = ("x", "y")
POD_LABELS = {"app": ("web", "db"), "tier": ("front", "back")}
NAMESPACE_LABELS = {"team": ("a", "b"), "env": ("prod", "dev")}
PORTS = (80, 81)
PORT_NAMES = ("http", "sctp")
PROTOCOLS = ("TCP", "UDP", "SCTP")
# Pod addresses come from these; ipBlocks are cut from the same ranges so they hit pods.
V4_POOL = tuple(f"10.0.0.{i}" for i in range(1, 9))
V6_POOL = tuple(f"fd00::{i}" for i in range(1, 9))
NODE_ADDRESSES = ("192.168.0.1", "192.168.0.2")
EXTERNAL_ADDRESSES = ("10.0.0.9", "192.168.0.1", "203.0.113.7", "fd00::9", "2001:db8::1")
CIDRS = (
    "10.0.0.0/29",
    "10.0.0.0/30",
    "10.0.0.4/30",
    "10.0.0.0/24",
    "0.0.0.0/0",
    "192.168.0.0/24",
    "fd00::/125",
    "fd00::/126",
    "::/0",
)


SHAPES = st.sampled_from(("absent", "empty", "some", "some", "some"))
"How a list field is written: absent, empty (both mean 'all' for peers and ports), or filled."


def _labels(draw: st.DrawFn, vocabulary: dict[str, tuple[str, ...]]) -> dict[str, str]:
    keys = draw(st.lists(st.sampled_from(sorted(vocabulary)), unique=True))
    return {key: draw(st.sampled_from(vocabulary[key])) for key in keys}


@st.composite
def selectors(draw: st.DrawFn, vocabulary: dict[str, tuple[str, ...]]) -> Obj:
    selector: Obj = {}
    if draw(st.integers(0, 2)) == 0:
        return selector  # {}: everything, the most common selector in real policies
    match_labels = _labels(draw, vocabulary)
    if match_labels and draw(st.booleans()):
        selector["matchLabels"] = match_labels
    if draw(st.booleans()):
        expressions = []
        for key in draw(st.lists(st.sampled_from(sorted(vocabulary)), max_size=2)):
            operator = draw(st.sampled_from(("In", "NotIn", "Exists", "DoesNotExist")))
            expression: Obj = {"key": key, "operator": operator}
            if operator in ("In", "NotIn"):
                expression["values"] = draw(
                    st.lists(st.sampled_from(vocabulary[key]), min_size=1, unique=True)
                )
            expressions.append(expression)
        selector["matchExpressions"] = expressions
    return selector


@st.composite
def ip_blocks(draw: st.DrawFn) -> Obj:
    cidr = draw(st.sampled_from(CIDRS))
    network = ipaddress.ip_network(cidr)
    block: Obj = {"cidr": cidr}
    if network.prefixlen < network.max_prefixlen and draw(st.booleans()):
        # strict subsets: a longer prefix inside the block (the API server's rule)
        candidates = sorted(
            {
                str(sub)
                for length in range(network.prefixlen + 1, network.max_prefixlen + 1)
                for sub in [
                    ipaddress.ip_network(
                        f"{address}/{length}",
                        strict=False,
                    )
                    for address in (V4_POOL if network.version == 4 else V6_POOL)
                ]
                if sub.subnet_of(network)  # type: ignore[arg-type]
            }
        )
        if candidates:
            block["except"] = draw(
                st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True)
            )
    return block


@st.composite
def peers(draw: st.DrawFn) -> Obj:
    kind = draw(st.sampled_from(("ipBlock", "pod", "namespace", "both")))
    if kind == "ipBlock":
        return {"ipBlock": draw(ip_blocks())}
    peer: Obj = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors(POD_LABELS))
    if kind in ("namespace", "both"):
        peer["namespaceSelector"] = draw(selectors(NAMESPACE_LABELS))
    return peer


@st.composite
def policy_ports(draw: st.DrawFn) -> Obj:
    entry: Obj = {}
    protocol = draw(st.sampled_from((None, *PROTOCOLS)))
    if protocol is not None:
        entry["protocol"] = protocol
    kind = draw(st.sampled_from(("none", "number", "range", "name")))
    if kind == "number":
        entry["port"] = draw(st.sampled_from(PORTS))
    elif kind == "range":
        first = draw(st.sampled_from(PORTS))
        entry["port"] = first
        entry["endPort"] = first + draw(st.integers(0, 1))
    elif kind == "name":
        entry["port"] = draw(st.sampled_from(PORT_NAMES))
    return entry


@st.composite
def rules(draw: st.DrawFn, peers_key: str) -> Obj:
    rule: Obj = {}
    shape = draw(SHAPES)
    if shape == "empty":
        rule[peers_key] = []
    elif shape == "some":
        rule[peers_key] = draw(st.lists(peers(), min_size=1, max_size=2))
    shape = draw(SHAPES)
    if shape == "empty":
        rule["ports"] = []
    elif shape == "some":
        rule["ports"] = draw(st.lists(policy_ports(), min_size=1, max_size=2))
    return rule


@st.composite
def policies(draw: st.DrawFn, name: str) -> Obj:
    spec: Obj = {"podSelector": draw(selectors(POD_LABELS))}
    for key, peers_key in (("ingress", "from"), ("egress", "to")):
        shape = draw(SHAPES)
        if shape == "empty":
            spec[key] = []
        elif shape == "some":
            spec[key] = draw(st.lists(rules(peers_key), min_size=1, max_size=3))
    types = draw(st.sampled_from((None, ["Ingress"], ["Egress"], ["Ingress", "Egress"])))
    if types is not None:
        spec["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": draw(st.sampled_from(NAMESPACES))},
        "spec": spec,
    }


@st.composite
def pods(draw: st.DrawFn, name: str, v4: str | None, v6: str | None) -> Obj:
    host_network = draw(st.integers(0, 9)) == 0
    ips = []
    if host_network:
        ips = [draw(st.sampled_from(NODE_ADDRESSES))]
    else:
        ips = [ip for ip in (v4, v6) if ip is not None]
        if len(ips) == 2 and draw(st.booleans()):
            ips.reverse()  # an IPv6-primary pod
    container_ports = []
    for _ in range(draw(st.integers(0, 3))):
        port: Obj = {"containerPort": draw(st.sampled_from(PORTS))}
        protocol = draw(st.sampled_from((None, *PROTOCOLS)))
        if protocol is not None:
            port["protocol"] = protocol
        port_name = draw(st.sampled_from((None, *PORT_NAMES)))
        if port_name is not None:
            port["name"] = port_name
        container_ports.append(port)
    spec: Obj = {"containers": [{"name": "main", "ports": container_ports}]}
    if host_network:
        spec["hostNetwork"] = True
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": draw(st.sampled_from((*NAMESPACES, "w"))),  # w is never declared
            "labels": _labels(draw, POD_LABELS),
        },
        "spec": spec,
    }
    if ips:
        obj["status"] = {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}
    return obj


@st.composite
def clusters(draw: st.DrawFn, *, every_pod_addressed: bool = False) -> list[Obj]:
    """Namespaces, pods (unique addresses, some dual-stack, some host-network) and policies."""
    objects: list[Obj] = []
    for name in draw(st.lists(st.sampled_from(NAMESPACES), unique=True)):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": _labels(draw, NAMESPACE_LABELS)},
            }
        )
    count = draw(st.integers(1, 6))
    v4 = draw(st.permutations(V4_POOL))
    v6 = draw(st.permutations(V6_POOL))
    for i in range(count):
        family = "both" if every_pod_addressed else draw(st.sampled_from(("4", "6", "both", "")))
        objects.append(
            draw(
                pods(
                    f"p{i}",
                    v4[i] if family in ("4", "both") else None,
                    v6[i] if family in ("6", "both") else None,
                )
            )
        )
    for i in range(draw(st.integers(0, 5))):
        objects.append(draw(policies(f"np{i}")))
    return objects


def endpoints(objects: list[Obj]) -> st.SearchStrategy[tuple[Obj | None, str | None]]:
    """A pod (with one of its addresses, or none), or now and then an address outside the pods."""
    external = [(None, address) for address in EXTERNAL_ADDRESSES]
    inside: list[tuple[Obj | None, str | None]] = []
    for pod in (o for o in objects if o["kind"] == "Pod"):
        addresses = [entry["ip"] for entry in (pod.get("status") or {}).get("podIPs", [])]
        inside.extend((pod, address) for address in addresses or [None])
    return st.one_of(
        st.sampled_from(inside),
        st.sampled_from(inside),
        st.sampled_from(inside),
        st.sampled_from(external),
    )
