"""The SCTP cases of the Kubernetes netpol e2e suite, as truth tables.

Namespaces x, y, z hold pods a, b, c (test/e2e/network/netpol/network_policy.go, the
``[Feature:SCTPConnectivity]`` context and its TCP twin "should not mistakenly treat 'protocol:
SCTP' as 'protocol: TCP'"). Rows are sources and columns destinations, both in the order
x/a x/b x/c y/a y/b y/c z/a z/b z/c; ``.`` is allowed and ``X`` denied.
"""

from __future__ import annotations

from sctpctl.netpol import PortProtocol, cluster_from_objects, truth_tables
from sctpctl.netpol.model import Protocol
from tests.netpol.netpol_clusters import E2E_PODS, e2e_model, policy
from tests.netpol.netpol_reference import Reference, pod_endpoint

SCTP_80 = PortProtocol(80, Protocol.SCTP)
SCTP_81 = PortProtocol(81, Protocol.SCTP)
TCP_81 = PortProtocol(81, Protocol.TCP)

ALL_ALLOWED = ["........."] * 9

POD_A_ONLY_FROM_NS_Y = [
    # to x/a is the first column
    "X........",  # from x/a
    "X........",  # from x/b
    "X........",  # from x/c
    ".........",  # from y/a
    ".........",  # from y/b
    ".........",  # from y/c
    "X........",  # from z/a
    "X........",  # from z/b
    "X........",  # from z/c
]


def table(policies: list[dict[str, object]], port: PortProtocol) -> list[str]:
    objects = e2e_model() + policies
    cluster = cluster_from_objects(objects)
    (result,) = truth_tables(cluster, [port])
    assert result.sources == E2E_PODS
    assert result.destinations == E2E_PODS
    # Every table here is also checked against the brute-force reference, cell by cell.
    reference = Reference(objects)
    pods = [o for o in objects if o["kind"] == "Pod"]
    expected = [
        "".join(
            "."
            if reference.allowed(
                pod_endpoint(src, 4), pod_endpoint(dst, 4), port.protocol.value, port.port
            )
            else "X"
            for dst in pods
        )
        for src in pods
    ]
    assert list(result.rows) == expected
    return list(result.rows)


def test_default_deny_ingress_blocks_everything_into_x() -> None:
    deny_all = policy("x", "deny-all", policyTypes=["Ingress"])
    assert table([deny_all], SCTP_80) == ["XXX......"] * 9


def test_policy_based_on_ports_allows_only_namespace_y_on_sctp_81() -> None:
    allow_port_81 = policy(
        "x",
        "allow-ingress-on-port-81-ns-x",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[
            {
                "from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                "ports": [{"port": 81, "protocol": "SCTP"}],
            }
        ],
    )
    assert table([allow_port_81], SCTP_81) == POD_A_ONLY_FROM_NS_Y
    # The same policy leaves x/a closed on SCTP 80 and on TCP 81: it is isolated.
    assert table([allow_port_81], SCTP_80) == ["X........"] * 9
    assert table([allow_port_81], TCP_81) == ["X........"] * 9


def test_pod_and_namespace_selector_in_one_peer_allow_only_y_a() -> None:
    both_in_one_peer = policy(
        "x",
        "allow-ns-y-pod-a-via-namespace-pod-selector",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"ns": "y"}},
                        "podSelector": {"matchLabels": {"pod": "a"}},
                    }
                ]
            }
        ],
    )
    assert table([both_in_one_peer], SCTP_80) == [
        "X........",
        "X........",
        "X........",
        ".........",  # only y/a reaches x/a
        "X........",
        "X........",
        "X........",
        "X........",
        "X........",
    ]


def test_the_same_selectors_as_two_peers_are_an_or() -> None:
    two_peers = policy(
        "x",
        "allow-ns-y-or-pod-a",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"ns": "y"}}},
                    {"podSelector": {"matchLabels": {"pod": "a"}}},  # pods of x only
                ]
            }
        ],
    )
    assert table([two_peers], SCTP_80) == [
        ".........",  # x/a matches the pod selector in its own namespace
        "X........",
        "X........",
        ".........",
        ".........",
        ".........",
        "X........",  # z/a has pod=a, but the podSelector peer means namespace x only
        "X........",
        "X........",
    ]


def test_an_sctp_only_policy_still_isolates_tcp() -> None:
    deny_ingress = policy("x", "deny-ingress", policyTypes=["Ingress"])
    allow_only_sctp = policy(
        "x",
        "allow-only-sctp-ingress-on-port-81",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[{"ports": [{"port": 81, "protocol": "SCTP"}]}],
    )
    # "a security hole if you fail this test": TCP 81 must stay blocked into x.
    assert table([deny_ingress, allow_only_sctp], TCP_81) == ["XXX......"] * 9
    assert table([deny_ingress, allow_only_sctp], SCTP_81) == [".XX......"] * 9


def test_a_policy_for_sctp_80_isolates_tcp_81_by_itself() -> None:
    allow_sctp_80 = policy(
        "x",
        "allow-only-sctp-ingress-on-port-80",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[{"ports": [{"port": 80, "protocol": "SCTP"}]}],
    )
    assert table([allow_sctp_80], TCP_81) == ["X........"] * 9
    assert table([allow_sctp_80], SCTP_80) == ALL_ALLOWED


def test_named_sctp_port_resolves_per_protocol() -> None:
    named = policy(
        "x",
        "allow-named-sctp-80",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[{"ports": [{"port": "serve-80-sctp", "protocol": "SCTP"}]}],
    )
    assert table([named], SCTP_80) == ALL_ALLOWED
    assert table([named], SCTP_81) == ["X........"] * 9
    # Without a protocol the entry means TCP, and x/a has no TCP port named serve-80-sctp.
    tcp_named = policy(
        "x",
        "allow-named-without-protocol",
        podSelector={"matchLabels": {"pod": "a"}},
        ingress=[{"ports": [{"port": "serve-80-sctp"}]}],
    )
    assert table([tcp_named], SCTP_80) == ["X........"] * 9
