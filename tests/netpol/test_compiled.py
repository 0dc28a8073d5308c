"""Compiled per-pod rules: everything resolved to addresses, protocols and port numbers."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

from sctpctl.netpol import ObjectRef, Protocol, cluster_from_objects
from sctpctl.netpol.compiled import (
    AddressBlock,
    Allow,
    CompiledPod,
    PortRange,
    compile_cluster,
    merge_ranges,
)
from tests.netpol.netpol_clusters import namespace, pod, policy

Obj = dict[str, Any]

AMF_PORTS = [{"name": "n2", "containerPort": 38412, "protocol": "SCTP"}]
AMF2_PORTS = [{"name": "n2", "containerPort": 38422, "protocol": "SCTP"}]


def compiled(*objects: Obj, node: str | None = None) -> dict[str, CompiledPod]:
    base = [
        namespace("core"),
        pod("core", "amf", {"app": "amf"}, ("10.128.0.10", "fd00::10"), AMF_PORTS, nodeName="w0"),
        pod("core", "amf2", {"app": "amf"}, ("10.128.0.12",), AMF2_PORTS, nodeName="w1"),
        pod("ran", "gnb", {"app": "gnb"}, ("10.128.2.20", "fd00::20"), nodeName="w1"),
        pod("ran", "exporter", {}, ("198.18.0.11",), hostNetwork=True, nodeName="w1"),
    ]
    return {
        str(c.pod): c
        for c in compile_cluster(cluster_from_objects(base + list(objects)), node=node)
    }


def hosts(*addresses: str) -> tuple[AddressBlock, ...]:
    return tuple(AddressBlock(ip_network(a)) for a in addresses)


def test_pods_without_policies_are_open_and_host_network_pods_are_absent() -> None:
    result = compiled()
    assert sorted(result) == ["core/amf", "core/amf2", "ran/gnb"]
    gnb = result["ran/gnb"]
    assert not gnb.ingress.isolated and not gnb.egress.isolated
    assert gnb.addresses == (ip_address("10.128.2.20"), ip_address("fd00::20"))
    assert gnb.ingress.admits(ip_address("192.0.2.1"), Protocol.UDP, 1)


def test_the_seed_policy_allows_sctp_80_from_anywhere_to_web_pods() -> None:
    seed = policy(
        "core",
        "allow-sctp-on-http",
        podSelector={"matchLabels": {"app": "amf"}},
        ingress=[{"ports": [{"protocol": "SCTP", "port": 80}]}],
    )
    amf = compiled(seed)["core/amf"]
    assert amf.ingress.isolated and amf.ingress.policies == (
        ObjectRef("core", "allow-sctp-on-http"),
    )
    (allow,) = amf.ingress.allows
    assert (allow.peers, allow.protocol, allow.ports) == (None, Protocol.SCTP, (PortRange(80, 80),))
    assert str(allow.rule) == "core/allow-sctp-on-http ingress[0]"
    assert not amf.egress.isolated


def test_selectors_become_pod_addresses_of_both_families() -> None:
    from_ran = policy(
        "core",
        "from-ran",
        ingress=[
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ran"}}}
                ]
            }
        ],
    )
    (allow,) = compiled(from_ran)["core/amf"].ingress.allows
    # gnb's two addresses; the host-network exporter is not a pod for selectors
    assert allow.peers == hosts("10.128.2.20/32", "fd00::20/128")
    assert (allow.protocol, allow.ports) == (None, None)  # no ports: every protocol and port


def test_ingress_named_ports_resolve_per_selected_pod() -> None:
    n2 = policy(
        "core",
        "n2",
        podSelector={"matchLabels": {"app": "amf"}},
        ingress=[{"ports": [{"port": "n2", "protocol": "SCTP"}]}],
    )
    result = compiled(n2)
    assert result["core/amf"].ingress.allows[0].ports == (PortRange(38412, 38412),)
    assert result["core/amf2"].ingress.allows[0].ports == (PortRange(38422, 38422),)


def test_egress_named_ports_list_the_serving_pods_addresses_per_number() -> None:
    to_n2 = policy(
        "ran",
        "to-n2",
        policyTypes=["Egress"],
        egress=[
            {
                "to": [{"ipBlock": {"cidr": "10.128.0.0/16"}}],
                "ports": [{"port": "n2", "protocol": "SCTP"}, {"port": 53, "protocol": "UDP"}],
            }
        ],
    )
    gnb = compiled(to_n2)["ran/gnb"]
    block = (AddressBlock(ip_network("10.128.0.0/16")),)
    assert gnb.egress.allows == (
        Allow(block, Protocol.UDP, (PortRange(53, 53),), gnb.egress.allows[0].rule),
        # amf is dual-stack, but only its IPv4 address is inside the block
        Allow(
            hosts("10.128.0.10/32"),
            Protocol.SCTP,
            (PortRange(38412, 38412),),
            gnb.egress.allows[0].rule,
        ),
        Allow(
            hosts("10.128.0.12/32"),
            Protocol.SCTP,
            (PortRange(38422, 38422),),
            gnb.egress.allows[0].rule,
        ),
    )
    assert not gnb.egress.admits(ip_address("10.128.9.9"), Protocol.SCTP, 38412)
    assert not gnb.egress.admits(ip_address("fd00::10"), Protocol.SCTP, 38412)
    assert gnb.egress.admits(ip_address("10.128.0.10"), Protocol.SCTP, 38412)


def test_ports_without_numbers_and_ranges_are_merged_per_protocol() -> None:
    ports = [
        {"protocol": "SCTP", "port": 38412, "endPort": 38414},
        {"protocol": "SCTP", "port": 38415},
        {"protocol": "SCTP", "port": 3868},
        {"protocol": "UDP"},
        {"protocol": "UDP", "port": 53},
    ]
    (udp, sctp) = compiled(policy("core", "p", ingress=[{"ports": ports}]))[
        "core/amf"
    ].ingress.allows
    assert (udp.protocol, udp.ports) == (Protocol.UDP, None)
    assert (sctp.protocol, sctp.ports) == (
        Protocol.SCTP,
        (PortRange(3868, 3868), PortRange(38412, 38415)),
    )


def test_rules_whose_peers_name_nobody_allow_nothing() -> None:
    nobody = policy(
        "core", "p", ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "none"}}}]}]
    )
    amf = compiled(nobody)["core/amf"]
    assert amf.ingress.isolated and amf.ingress.allows == ()


def test_node_filter() -> None:
    assert sorted(compiled(node="w1")) == ["core/amf2", "ran/gnb"]


def test_address_blocks_as_intervals() -> None:
    block = AddressBlock(
        ip_network("10.0.0.0/24"), (ip_network("10.0.0.64/26"), ip_network("10.0.0.255/32"))
    )
    base = int(ip_address("10.0.0.0"))
    assert [(a - base, b - base) for a, b in block.intervals()] == [(0, 63), (128, 254)]
    assert block.contains(ip_address("10.0.0.1")) and not block.contains(ip_address("10.0.0.65"))
    assert not block.contains(ip_address("fd00::1"))
    assert str(block) == "10.0.0.0/24 except 10.0.0.64/26, 10.0.0.255/32"


def test_merge_ranges() -> None:
    ranges = [PortRange(90, 95), PortRange(80, 82), PortRange(83, 83), PortRange(81, 81)]
    assert merge_ranges(ranges) == (PortRange(80, 83), PortRange(90, 95))
    assert [str(r) for r in merge_ranges(ranges)] == ["80-83", "90-95"]
