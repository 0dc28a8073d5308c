"""NetworkPolicy semantics, one rule at a time, with the reasons the verdicts give."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import pytest

from sctpctl.netpol import (
    Cluster,
    Direction,
    ObjectRef,
    PortProtocol,
    Protocol,
    Verdict,
    cluster_from_objects,
    evaluate,
    make_traffic,
)
from sctpctl.netpol.traffic import Endpoint, Traffic, TrafficError
from tests.netpol.netpol_clusters import namespace, pod, policy

Obj = dict[str, Any]

SERVER_PORTS = [
    {"name": "n2", "containerPort": 38412, "protocol": "SCTP"},
    {"name": "http", "containerPort": 8080},  # TCP by default
    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
]


def cluster(*policies: Obj, extra: tuple[Obj, ...] = ()) -> Cluster:
    return cluster_from_objects(
        [
            namespace("core", team="core"),
            namespace("ran", team="ran"),
            pod("core", "amf", {"app": "amf"}, ("10.128.0.10", "fd00::10"), SERVER_PORTS),
            pod("core", "smf", {"app": "smf"}, ("10.128.0.11", "fd00::11")),
            pod("ran", "gnb", {"app": "gnb"}, ("10.128.2.20", "fd00::20")),
            *extra,
            *policies,
        ]
    )


def check(
    c: Cluster, source: str, destination: str, port: str, family: int | None = None
) -> Verdict:
    return evaluate(
        c, make_traffic(c, source, destination, PortProtocol.parse(port), family=family)
    )


def allowed(c: Cluster, source: str, destination: str, port: str) -> bool:
    return check(c, source, destination, port).allowed


def test_without_policies_everything_is_allowed() -> None:
    verdict = check(cluster(), "ran/gnb", "core/amf", "38412/sctp")
    assert verdict.allowed
    assert not verdict.ingress.isolated and not verdict.egress.isolated
    assert verdict.ingress.subject == ObjectRef("core", "amf")


def test_ingress_list_empty_denies_and_a_rule_without_fields_allows() -> None:
    deny = policy("core", "deny", ingress=[])
    assert not allowed(cluster(deny), "ran/gnb", "core/amf", "38412/sctp")
    allow_all = policy("core", "allow-all", ingress=[{}])
    assert allowed(cluster(allow_all), "ran/gnb", "core/amf", "38412/sctp")
    # Allows are a union: adding allow-all to deny opens the door.
    verdict = check(cluster(deny, allow_all), "ran/gnb", "core/amf", "38412/sctp")
    assert verdict.allowed
    assert verdict.ingress.isolated_by == (
        ObjectRef("core", "allow-all"),
        ObjectRef("core", "deny"),
    )
    assert [str(c.rule) for c in verdict.ingress.allowed_by] == ["core/allow-all ingress[0]"]


def test_empty_from_and_ports_lists_mean_all() -> None:
    rule = {"from": [], "ports": []}
    assert allowed(cluster(policy("core", "p", ingress=[rule])), "ran/gnb", "core/amf", "1/udp")


def test_policy_types_default_to_ingress_plus_egress_only_with_egress_rules() -> None:
    with_egress_rules = policy("core", "p", egress=[{"to": [{"podSelector": {}}]}])
    c = cluster(with_egress_rules)
    assert c.policies[0].policy_types == {Direction.INGRESS, Direction.EGRESS}
    # core/amf may reach core/smf (same namespace) but not ran/gnb; ingress to amf is denied.
    assert allowed(c, "core/amf", "core/smf", "80/tcp") is False  # smf is ingress-isolated
    assert check(c, "core/amf", "ran/gnb", "80/tcp").egress.allowed is False
    assert check(c, "core/amf", "core/smf", "80/tcp").egress.allowed is True

    empty_egress = policy("core", "p", egress=[])
    assert cluster(empty_egress).policies[0].policy_types == {Direction.INGRESS}
    assert check(cluster(empty_egress), "core/amf", "ran/gnb", "80/tcp").egress.allowed


def test_explicit_policy_types_ignore_rules_of_the_other_direction() -> None:
    egress_only = policy("core", "p", policyTypes=["Egress"], ingress=[], egress=[{}])
    verdict = check(cluster(egress_only), "ran/gnb", "core/amf", "38412/sctp")
    assert verdict.allowed
    assert not verdict.ingress.isolated  # `ingress: []` has no effect without the Ingress type


def test_a_port_without_protocol_is_tcp() -> None:
    c = cluster(policy("core", "p", ingress=[{"ports": [{"port": 38412}]}]))
    assert allowed(c, "ran/gnb", "core/amf", "38412/tcp")
    assert not allowed(c, "ran/gnb", "core/amf", "38412/sctp")


def test_a_port_entry_without_a_number_is_every_port_of_its_protocol() -> None:
    c = cluster(policy("core", "p", ingress=[{"ports": [{"protocol": "SCTP"}]}]))
    assert allowed(c, "ran/gnb", "core/amf", "1/sctp")
    assert allowed(c, "ran/gnb", "core/amf", "65535/sctp")
    assert not allowed(c, "ran/gnb", "core/amf", "80/tcp")
    # and `ports: [{}]` is every TCP port, not every port
    c = cluster(policy("core", "p", ingress=[{"ports": [{}]}]))
    assert allowed(c, "ran/gnb", "core/amf", "80/tcp")
    assert not allowed(c, "ran/gnb", "core/amf", "80/udp")


def test_end_port_makes_an_inclusive_range() -> None:
    ports = [{"protocol": "SCTP", "port": 38412, "endPort": 38414}]
    c = cluster(policy("core", "p", ingress=[{"ports": ports}]))
    assert [allowed(c, "ran/gnb", "core/amf", f"{p}/sctp") for p in range(38411, 38416)] == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_ingress_named_port_resolves_on_the_destination_with_its_protocol() -> None:
    n2 = policy("core", "p", ingress=[{"ports": [{"port": "n2", "protocol": "SCTP"}]}])
    c = cluster(n2)
    assert allowed(c, "ran/gnb", "core/amf", "38412/sctp")
    assert not allowed(c, "ran/gnb", "core/amf", "38413/sctp")
    # smf is isolated by the same policy but has no port named n2: nothing reaches it.
    assert not allowed(c, "ran/gnb", "core/smf", "38412/sctp")
    # "http" is a TCP port of amf: as an SCTP entry it names nothing.
    http_sctp = policy("core", "p", ingress=[{"ports": [{"port": "http", "protocol": "SCTP"}]}])
    assert not allowed(cluster(http_sctp), "ran/gnb", "core/amf", "8080/sctp")
    assert not allowed(cluster(http_sctp), "ran/gnb", "core/amf", "8080/tcp")


def test_egress_named_port_resolves_on_the_destination_pod_only() -> None:
    to_n2 = policy(
        "ran",
        "p",
        policyTypes=["Egress"],
        egress=[{"ports": [{"port": "n2", "protocol": "SCTP"}]}],
    )
    c = cluster(to_n2)
    assert allowed(c, "ran/gnb", "core/amf", "38412/sctp")
    assert not allowed(c, "ran/gnb", "core/smf", "38412/sctp")
    # An address outside the pods has no container ports, so no named port ever matches it.
    assert not allowed(c, "ran/gnb", "192.0.2.10", "38412/sctp")
    # ...even through an ipBlock that contains it
    via_block = policy(
        "ran",
        "p",
        policyTypes=["Egress"],
        egress=[
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                "ports": [{"port": "n2", "protocol": "SCTP"}],
            }
        ],
    )
    assert not allowed(cluster(via_block), "ran/gnb", "192.0.2.10", "38412/sctp")
    assert allowed(cluster(via_block), "ran/gnb", "core/amf", "38412/sctp")


def test_pod_selector_alone_means_the_policy_namespace() -> None:
    from_amf_label = policy(
        "core", "p", ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "gnb"}}}]}]
    )
    # gnb carries app=gnb but lives in ran: a bare podSelector looks only in core.
    assert not allowed(cluster(from_amf_label), "ran/gnb", "core/amf", "38412/sctp")


def test_namespace_selector_alone_means_every_pod_there() -> None:
    from_ran = policy(
        "core", "p", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "ran"}}}]}]
    )
    assert allowed(cluster(from_ran), "ran/gnb", "core/amf", "38412/sctp")
    assert not allowed(cluster(from_ran), "core/smf", "core/amf", "38412/sctp")


def test_namespaces_carry_their_name_label_even_when_not_declared() -> None:
    by_name = policy(
        "core",
        "p",
        ingress=[
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}
                ]
            }
        ],
    )
    edge_pod = pod("edge", "upf", {}, ("10.128.4.4",))  # no Namespace object for edge
    assert allowed(cluster(by_name, extra=(edge_pod,)), "edge/upf", "core/amf", "38412/sctp")


def test_selectors_in_one_peer_are_anded_and_peers_are_ored() -> None:
    and_peer = {
        "namespaceSelector": {"matchLabels": {"team": "ran"}},
        "podSelector": {"matchLabels": {"app": "cu"}},
    }
    c = cluster(policy("core", "p", ingress=[{"from": [and_peer]}]))
    assert not allowed(c, "ran/gnb", "core/amf", "38412/sctp")  # right namespace, wrong pod
    or_peers = [{"namespaceSelector": {"matchLabels": {"team": "ran"}}}, {"podSelector": {}}]
    c = cluster(policy("core", "p", ingress=[{"from": or_peers}]))
    assert allowed(c, "ran/gnb", "core/amf", "38412/sctp")
    assert allowed(c, "core/smf", "core/amf", "38412/sctp")
    verdict = check(c, "core/smf", "core/amf", "38412/sctp")
    assert verdict.ingress.allowed_by[0].peer == 1


def test_ip_block_with_except_for_ipv4_and_ipv6() -> None:
    block = {
        "from": [
            {"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}},
            {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:bad::/48"]}},
        ]
    }
    c = cluster(policy("core", "p", ingress=[block]))
    assert allowed(c, "192.0.2.1", "core/amf", "38412/sctp")
    assert not allowed(c, "192.0.2.200", "core/amf", "38412/sctp")
    assert allowed(c, "2001:db8::1", "core/amf", "38412/sctp")
    assert not allowed(c, "2001:db8:bad::1", "core/amf", "38412/sctp")
    assert not allowed(c, "198.51.100.1", "core/amf", "38412/sctp")


def test_ip_blocks_match_pod_addresses_of_the_traffic_family() -> None:
    gnb_v4_only = {"from": [{"ipBlock": {"cidr": "10.128.2.0/24"}}]}
    c = cluster(policy("core", "p", ingress=[gnb_v4_only]))
    assert check(c, "ran/gnb", "core/amf", "38412/sctp", family=4).allowed
    assert not check(c, "ran/gnb", "core/amf", "38412/sctp", family=6).allowed


def test_traffic_needs_egress_at_the_source_and_ingress_at_the_destination() -> None:
    deny_egress = policy("ran", "deny-egress", policyTypes=["Egress"])
    verdict = check(cluster(deny_egress), "ran/gnb", "core/amf", "38412/sctp")
    assert not verdict.allowed
    assert verdict.ingress.allowed and not verdict.egress.allowed
    assert verdict.egress.isolated_by == (ObjectRef("ran", "deny-egress"),)


def test_addresses_outside_the_cluster_are_only_policed_at_the_pod_end() -> None:
    deny_all = policy("core", "deny", policyTypes=["Ingress", "Egress"])
    c = cluster(deny_all)
    inbound = check(c, "203.0.113.5", "core/amf", "38412/sctp")
    assert not inbound.allowed and not inbound.egress.applies and inbound.ingress.applies
    outbound = check(c, "core/amf", "203.0.113.5", "38412/sctp")
    assert not outbound.allowed and not outbound.ingress.applies
    assert check(c, "203.0.113.5", "ran/gnb", "38412/sctp").allowed


def test_a_pod_address_on_the_command_line_stands_for_the_pod() -> None:
    c = cluster(policy("core", "deny", ingress=[]))
    verdict = check(c, "ran/gnb", "10.128.0.10", "38412/sctp")
    assert verdict.ingress.subject == ObjectRef("core", "amf")
    assert not verdict.allowed


def test_host_network_pods_are_treated_as_their_node_address() -> None:
    node_exporter = pod("core", "exporter", {"app": "amf"}, ("198.18.0.11",), hostNetwork=True)
    deny_amf = policy(
        "core", "deny-amf", podSelector={"matchLabels": {"app": "amf"}}, policyTypes=["Ingress"]
    )
    c = cluster(deny_amf, extra=(node_exporter,))
    # The policy selects app=amf, but a host-network pod is never isolated...
    assert check(c, "ran/gnb", "core/exporter", "38412/sctp").allowed
    # ...and no pod selector matches it as a peer; only its address can.
    from_amf = policy(
        "core", "from-amf", ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "amf"}}}]}]
    )
    c = cluster(from_amf, extra=(node_exporter,))
    assert not allowed(c, "core/exporter", "core/smf", "80/tcp")
    assert allowed(c, "core/amf", "core/smf", "80/tcp")


def test_terminated_pods_are_left_out() -> None:
    done = pod("core", "job", {}, ("10.128.0.10",))  # the same address as amf, reused
    done["status"]["phase"] = "Succeeded"
    c = cluster(extra=(done,))
    assert c.pod(ObjectRef("core", "job")) is None


@pytest.mark.parametrize(
    ("source", "destination", "message"),
    [
        ("ran/nope", "core/amf", "no pod ran/nope"),
        ("gnb", "core/amf", "no pod default/gnb"),
        ("ran/gnb", "core/amf", None),
    ],
)
def test_endpoints_are_resolved_or_refused(
    source: str, destination: str, message: str | None
) -> None:
    c = cluster()
    if message is None:
        make_traffic(c, source, destination, PortProtocol(1, Protocol.SCTP))
        return
    with pytest.raises(TrafficError, match=message):
        make_traffic(c, source, destination, PortProtocol(1, Protocol.SCTP))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80/sctp", (80, Protocol.SCTP)),
        ("38412/SCTP", (38412, Protocol.SCTP)),
        (" 53/udp", (53, Protocol.UDP)),
    ],
)
def test_port_protocol_parsing(text: str, expected: tuple[int, Protocol]) -> None:
    parsed = PortProtocol.parse(text)
    assert (parsed.port, parsed.protocol) == expected
    assert str(parsed) == f"{expected[0]}/{expected[1].value.lower()}"


@pytest.mark.parametrize("text", ["80", "sctp/80", "0/sctp", "70000/tcp", "80/icmp", "80/"])
def test_bad_port_protocol_is_refused(text: str) -> None:
    with pytest.raises(TrafficError):
        PortProtocol.parse(text)


def test_mixed_families_are_refused() -> None:
    with pytest.raises(TrafficError, match="not an IPv4 address"):
        make_traffic(cluster(), "192.0.2.1", "2001:db8::1", PortProtocol(1, Protocol.SCTP))


def test_endpoint_text() -> None:
    c = cluster()
    amf = c.pod(ObjectRef("core", "amf"))
    assert str(Endpoint(amf, ip_address("10.128.0.10"))) == "core/amf (10.128.0.10)"
    assert str(Endpoint(None, ip_address("192.0.2.1"))) == "192.0.2.1"
    traffic = Traffic(
        Endpoint(amf, None), Endpoint(None, ip_address("192.0.2.1")), Protocol.SCTP, 9
    )
    assert str(traffic) == "SCTP port 9 from core/amf to 192.0.2.1"
