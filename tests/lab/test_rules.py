"""The nftables the lab writes: the service proxy and NetworkPolicy rules, read as text and loaded
into a throw-away namespace (nft is the syntax judge)."""

from __future__ import annotations

from typing import Any

import pytest

from sctpctl.host.commands import nft, nft_json
from sctpctl.lab.endpoints import desired_slices, slice_body
from sctpctl.lab.netpolicy import node_ruleset
from sctpctl.lab.proxy import proxy_ruleset, service_ports


def _pod(
    name: str,
    ip: str,
    node: str,
    labels: dict[str, str],
    *,
    ready: bool = True,
    namespace: str = "default",
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}-0000",
            "labels": labels,
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _service(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": spec,
    }


SCTP_PORT = {"containerPort": 30102, "name": "sctpserver", "protocol": "SCTP"}
SERVICE = _service(
    "sctpservice",
    {
        "type": "NodePort",
        "clusterIP": "172.30.0.10",
        "selector": {"app": "sctpserver"},
        "ports": [
            {"name": "sctpserver", "protocol": "SCTP", "port": 30102, "targetPort": "sctpserver",
             "nodePort": 31000},
        ],
    },
)  # fmt: skip
PODS = [
    _pod("a", "10.128.2.3", "worker-0", {"app": "sctpserver"}, ports=[SCTP_PORT]),
    _pod("b", "10.128.4.3", "worker-1", {"app": "sctpserver"}, ports=[SCTP_PORT]),
    _pod("c", "10.128.4.4", "worker-1", {"app": "sctpserver"}, ready=False, ports=[SCTP_PORT]),
    _pod("client", "10.128.4.9", "worker-1", {"app": "client"}),
]


def _slices() -> list[dict[str, Any]]:
    return [
        {**slice_body(SERVICE, key, endpoints), "metadata": {
            **slice_body(SERVICE, key, endpoints)["metadata"], "name": f"s{i}"}}
        for i, (key, endpoints) in enumerate(desired_slices(SERVICE, PODS).items())
    ]  # fmt: skip


def test_named_target_ports_resolve_per_pod_and_only_ready_pods_serve() -> None:
    groups = desired_slices(SERVICE, PODS)
    assert list(groups) == [(("sctpserver", 30102, "SCTP"),)]
    endpoints = groups[(("sctpserver", 30102, "SCTP"),)]
    assert [(e["targetRef"]["name"], e["conditions"]["ready"]) for e in endpoints] == [
        ("a", True),
        ("b", True),
        ("c", False),
    ]
    [port] = service_ports([SERVICE], _slices(), node="worker-1", node_address="198.18.0.12")
    assert port.endpoints == (("10.128.2.3", 30102), ("10.128.4.3", 30102))
    assert port.local_endpoints == (("10.128.4.3", 30102),)


def test_proxy_rules_dnat_clusterip_and_nodeport_per_protocol() -> None:
    rules = proxy_ruleset(
        [SERVICE], _slices(), node="worker-1", node_address="198.18.0.12",
        pod_network="10.128.0.0/14", service_network="172.30.0.0/16",
    )  # fmt: skip
    assert "ip daddr 172.30.0.10 sctp dport 30102 jump svc0 " in rules
    assert "ip daddr 198.18.0.12 sctp dport 31000 jump svc0_np " in rules
    assert "numgen random mod 2 vmap { 0 : jump svc0_ep0, 1 : jump svc0_ep1 }" in rules
    assert "meta l4proto sctp dnat to 10.128.4.3:30102" in rules
    # Hairpin: an endpoint reaching its own Service is masqueraded.
    assert "ip saddr 10.128.2.3 meta mark set meta mark | 0x4000" in rules
    assert rules.startswith("add table ip sctpctl_proxy\ndelete table ip sctpctl_proxy\n")


def test_a_service_without_ready_endpoints_is_rejected() -> None:
    lonely = _service(
        "lonely",
        {"clusterIP": "172.30.0.11", "selector": {"app": "nobody"},
         "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}]},
    )  # fmt: skip
    rules = proxy_ruleset(
        [lonely], [], node="worker-0", node_address="198.18.0.11",
        pod_network="10.128.0.0/14", service_network="172.30.0.0/16",
    )  # fmt: skip
    assert (
        'ip daddr 172.30.0.11 tcp dport 80 reject comment "default/lonely:80 has no endpoints"'
        in rules
    )
    assert "jump svc" not in rules


def test_policy_rules_follow_the_compiled_policies() -> None:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "default", "labels": {}},
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-client", "namespace": "default"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "sctpserver"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                         "ports": [{"protocol": "SCTP", "port": "sctpserver"}]}],
        },
    }  # fmt: skip
    rules = node_ruleset("worker-1", [namespace], PODS, [policy])
    assert 'oifname "pvuidb0000" jump ingress' in rules  # pod b, on this node
    assert "pvuida0000" not in rules  # pod a runs on worker-0
    assert "ip saddr { 10.128.4.9 } meta l4proto sctp th dport { 30102 } return" in rules
    assert 'drop comment "isolated by default/allow-client"' in rules
    assert "ct state established,related accept" in rules


def test_egress_rules_match_destinations_blocks_and_port_ranges() -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "client-egress", "namespace": "default"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "client"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.128.0.0/14", "except": ["10.128.2.0/23"]}}],
                        "ports": [{"protocol": "SCTP", "port": 30000, "endPort": 30100}]}],
        },
    }  # fmt: skip
    rules = node_ruleset("worker-1", [], PODS, [policy])
    assert 'iifname "pvuidclient000" jump egress2 comment "default/client"' in rules
    assert (
        "ip daddr { 10.128.0.0-10.128.1.255, 10.128.4.0-10.131.255.255 } "
        "meta l4proto sctp th dport { 30000-30100 } return"
    ) in rules
    assert "ingress" not in rules  # nothing is isolated for ingress


@pytest.mark.netns
@pytest.mark.nft
def test_the_rules_load_into_a_namespace(netns_factory: Any) -> None:
    name = netns_factory("rules")
    proxy = proxy_ruleset(
        [SERVICE], _slices(), node="worker-1", node_address="198.18.0.12",
        pod_network="10.128.0.0/14", service_network="172.30.0.0/16",
    )  # fmt: skip
    nft(proxy, netns=name)
    nft(proxy, netns=name)  # loading again replaces the table (one transaction each time)
    policy = node_ruleset("worker-1", [], PODS, [])
    nft(policy, netns=name)
    tables = [
        i["table"]["name"]
        for i in nft_json("list", "tables", netns=name)["nftables"]
        if "table" in i
    ]
    assert sorted(tables) == ["sctpctl_policy", "sctpctl_proxy"]
