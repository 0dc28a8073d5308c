"""Objects are read with the API server's validation; errors name the object and the field."""

from __future__ import annotations

from typing import Any

import pytest

from sctpctl.netpol import ClusterError, Direction, InvalidObject, cluster_from_objects
from sctpctl.netpol.model import METADATA_NAME_LABEL, ContainerPort, IPBlockPeer, PodPeer, Protocol
from sctpctl.netpol.parse import format_path
from tests.netpol.netpol_clusters import namespace, pod, policy

Obj = dict[str, Any]


def invalid(obj: Obj) -> InvalidObject:
    with pytest.raises(InvalidObject) as caught:
        cluster_from_objects([namespace("x"), obj])
    assert caught.value.index == 1
    return caught.value


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        (
            {"ingress": [{"ports": [{"protocol": "sctp"}]}]},
            "spec.ingress[0].ports[0].protocol",
            "upper case",
        ),
        (
            {"ingress": [{"ports": [{"port": 0}]}]},
            "spec.ingress[0].ports[0].port",
            "between 1 and 65535",
        ),
        (
            {"ingress": [{"ports": [{"port": "80"}]}]},
            "spec.ingress[0].ports[0].port",
            "not a port name",
        ),
        (
            {"ingress": [{"ports": [{"port": "a--b"}]}]},
            "spec.ingress[0].ports[0].port",
            "not a port name",
        ),
        (
            {"ingress": [{"ports": [{"port": "sixteen-letters-"}]}]},
            "spec.ingress[0].ports[0].port",
            "port name",
        ),
        (
            {"egress": [{"ports": [{"endPort": 90}]}]},
            "spec.egress[0].ports[0].endPort",
            "`port` is not specified",
        ),
        (
            {"egress": [{"ports": [{"port": "http", "endPort": 90}]}]},
            "spec.egress[0].ports[0].endPort",
            "non-numeric",
        ),
        (
            {"egress": [{"ports": [{"port": 90, "endPort": 80}]}]},
            "spec.egress[0].ports[0].endPort",
            "greater than or equal",
        ),
        ({"ingress": [{"from": [{}]}]}, "spec.ingress[0].from[0]", "must specify a peer"),
        (
            {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]},
            "spec.ingress[0].from[0]",
            "more than 1 peer",
        ),
        (
            {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0"}}]}]},
            "spec.ingress[0].from[0].ipBlock.cidr",
            "not a CIDR",
        ),
        (
            {"ingress": [{"from": [{"ipBlock": {}}]}]},
            "spec.ingress[0].from[0].ipBlock.cidr",
            "required",
        ),
        (
            {
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}
                ]
            },
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/64"]}}]}]},
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            {
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}
                ]
            },
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "strict subset",
        ),
        ({"policyTypes": ["ingress"]}, "spec.policyTypes[0]", "not Ingress or Egress"),
        ({"policyTypes": ["Ingress", "Egress", "Ingress"]}, "spec.policyTypes", "more than two"),
        (
            {"podSelector": {"matchLabels": {"app": "-x"}}},
            "spec.podSelector",
            "invalid label value",
        ),
        (
            {
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [{"key": "a", "operator": "In"}]
                                }
                            }
                        ]
                    }
                ]
            },
            "spec.ingress[0].from[0].namespaceSelector",
            "at least one value",
        ),
        ({"ingress": [{"form": []}]}, "spec.ingress[0].form", "unknown field"),
        ({"podselector": {}}, "spec.podselector", "unknown field"),
        ({"ingress": {"from": []}}, "spec.ingress", "must be a list"),
    ],
)
def test_invalid_policies_are_refused_with_the_field(spec: Obj, path: str, message: str) -> None:
    error = invalid(policy("x", "bad", **spec))
    assert format_path(error.path) == path
    assert message in error.message
    assert str(error).startswith(f"NetworkPolicy x/bad: {path}: ")


def test_the_api_version_must_be_networking_v1() -> None:
    obj = policy("x", "old")
    obj["apiVersion"] = "extensions/v1beta1"
    assert "use networking.k8s.io/v1" in invalid(obj).message


def test_invalid_pods_are_refused() -> None:
    assert "between 1 and 65535" in invalid(pod("x", "p", ports=[{"containerPort": 70000}])).message
    assert "not an IP address" in invalid(pod("x", "p", ips=("10.0.0.300",))).message
    assert "required" in invalid(pod("x", "", {})).message
    assert format_path(invalid(pod("x", "p", {"bad key": "v"})).path) == "metadata.labels"


def test_the_same_object_twice_is_refused() -> None:
    with pytest.raises(InvalidObject, match="given twice"):
        cluster_from_objects([policy("x", "p"), policy("x", "p")])


def test_two_pods_with_one_address_are_refused() -> None:
    with pytest.raises(ClusterError, match=r"both have the IP 10\.0\.0\.1"):
        cluster_from_objects([pod("x", "a", ips=("10.0.0.1",)), pod("y", "b", ips=("10.0.0.1",))])


def test_defaults_are_applied() -> None:
    c = cluster_from_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "x", "labels": {METADATA_NAME_LABEL: "lie"}},
            },
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
            pod(
                "x",
                "s",
                ports=[{"containerPort": 80, "name": "http"}],
                initContainers=[
                    {
                        "name": "sidecar",
                        "restartPolicy": "Always",
                        "ports": [{"containerPort": 9, "protocol": "SCTP"}],
                    },
                    {"name": "init", "ports": [{"containerPort": 10}]},
                ],
            ),
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "np"},
                "spec": {
                    "ingress": [
                        {
                            "from": [{"podSelector": {}}, {"ipBlock": {"cidr": "10.1.2.3/16"}}],
                            "ports": [{"port": 80}],
                        }
                    ]
                },
            },
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ignored"}},
        ]
    )
    assert c.namespaces["x"].labels == {METADATA_NAME_LABEL: "x"}  # the API server's value wins
    assert c.namespace_labels("default") == {METADATA_NAME_LABEL: "default"}
    assert [str(p.ref) for p in c.pods] == ["default/p", "x/s"]
    assert c.pods[1].ports == (
        ContainerPort(80, Protocol.TCP, "http"),
        ContainerPort(9, Protocol.SCTP, None),  # a sidecar's port counts, a plain init's not
    )
    (np,) = c.policies
    assert (np.namespace, np.policy_types) == ("default", frozenset({Direction.INGRESS}))
    peer, block = np.ingress[0].peers
    assert isinstance(peer, PodPeer) and peer.namespace_selector is None
    assert isinstance(block, IPBlockPeer) and str(block.cidr) == "10.1.0.0/16"  # host bits masked
    assert np.ingress[0].ports[0].protocol is Protocol.TCP
