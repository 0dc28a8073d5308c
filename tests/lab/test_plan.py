"""The lab's network plan: names that never collide, addresses from DESIGN.md section 5."""

from __future__ import annotations

import pytest

from sctpctl.host.links import MAX_IFNAME
from sctpctl.lab.plan import (
    PlanError,
    allocate_pod_address,
    fabric_lines,
    make_plan,
    node_lines,
    node_of_address,
    pod_host_lines,
    pod_lines,
    pod_veth_name,
)


def test_default_topology_follows_the_design() -> None:
    plan = make_plan("ab12", masters=1, workers=2)
    assert [(n.name, n.role, n.address, n.pod_cidr) for n in plan.nodes] == [
        ("master-0", "master", "198.18.0.10", "10.128.0.0/23"),
        ("worker-0", "worker", "198.18.0.11", "10.128.2.0/23"),
        ("worker-1", "worker", "198.18.0.12", "10.128.4.0/23"),
    ]
    assert plan.namespaces == (
        "sctplab-ab12-fabric",
        "sctplab-ab12-node-master-0",
        "sctplab-ab12-node-worker-0",
        "sctplab-ab12-node-worker-1",
        "sctplab-ab12-ext",
    )
    assert plan.external_address == "198.18.0.200"
    assert plan.owns("sctplab-ab12-pod-0123") and not plan.owns("sctplab-ab123-fabric")


def test_nodes_route_each_others_pods_and_the_service_network_locally() -> None:
    plan = make_plan("x", masters=1, workers=2)
    lines = node_lines(plan, plan.node("worker-0"))
    assert "addr add 198.18.0.11/24 dev eth0" in lines
    assert "route add 10.128.0.0/23 via 198.18.0.10 dev eth0" in lines
    assert "route add 10.128.4.0/23 via 198.18.0.12 dev eth0" in lines
    assert not any("10.128.2.0/23" in line for line in lines)
    assert "route add 172.30.0.0/16 dev eth0 scope link" in lines
    assert fabric_lines(plan)[:2] == ["link add br0 type bridge", "link set br0 up"]


def test_pods_are_routed_through_the_gateway_address() -> None:
    assert pod_lines("10.128.2.5") == [
        "addr add 10.128.2.5/32 dev eth0",
        "link set eth0 up",
        "route add 169.254.1.1 dev eth0 scope link",
        "route add default via 169.254.1.1 dev eth0",
    ]
    assert (
        pod_host_lines("pvabc", "10.128.2.5")[-1] == "route add 10.128.2.5/32 dev pvabc scope link"
    )


def test_interface_names_fit_the_kernel_limit() -> None:
    name = pod_veth_name("f1e40657-804f-4c3e-9b0e-2a7d3c1b9e55")
    assert name == "pvf1e40657804f" and len(name) <= MAX_IFNAME


def test_pod_addresses_skip_the_nodes_own_and_taken_ones() -> None:
    assert allocate_pod_address("10.128.2.0/23", []) == "10.128.2.3"
    assert allocate_pod_address("10.128.2.0/23", ["10.128.2.3", "10.128.2.4"]) == "10.128.2.5"
    full = [f"10.128.{2 + i // 256}.{i % 256}" for i in range(512)]
    with pytest.raises(PlanError, match="full"):
        allocate_pod_address("10.128.2.0/23", full)


def test_addresses_map_back_to_their_node() -> None:
    plan = make_plan("x", masters=1, workers=2)
    found = node_of_address(plan, "10.128.5.7")
    assert found is not None and found.name == "worker-1"
    assert node_of_address(plan, "192.0.2.1") is None


@pytest.mark.parametrize(
    ("lab_id", "masters", "workers", "message"),
    [
        ("bad-id", 1, 1, "letters or digits"),
        ("x", 0, 0, "at least one node"),
        ("x", 60, 60, "at most 100"),
    ],
)
def test_impossible_topologies_are_refused(
    lab_id: str, masters: int, workers: int, message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        make_plan(lab_id, masters=masters, workers=workers)
