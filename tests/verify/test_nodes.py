"""Which nodes a run verifies and where its pods go."""

from __future__ import annotations

import pytest

from sctpctl.verify.context import NodeInfo, NodeModule, Placement
from sctpctl.verify.nodes import node_info, place, select
from tests.verify.fakecluster import node_object


def nodes(*specs: tuple[str, str, bool]) -> list[NodeInfo]:
    """(name, role, schedulable) per node."""
    found = []
    for index, (name, role, schedulable) in enumerate(specs):
        obj = node_object(name, f"198.18.0.{10 + index}")
        obj["metadata"]["labels"] = {f"node-role.kubernetes.io/{role}": ""}
        obj["spec"]["unschedulable"] = not schedulable
        found.append(node_info(obj))
    return found


CLUSTER = nodes(
    ("master-0", "master", True),
    ("worker-0", "worker", True),
    ("worker-1", "worker", True),
    ("worker-2", "worker", False),
)
LOADED, BLACKLISTED = NodeModule("loaded"), NodeModule("blacklisted")


def test_workers_are_verified_unless_nodes_are_named() -> None:
    assert select(CLUSTER, ()) == ["worker-0", "worker-1", "worker-2"]
    assert select(CLUSTER, ("master-0",)) == ["master-0"]
    with pytest.raises(ValueError, match="no node named worker-9"):
        select(CLUSTER, ("worker-9",))
    masters_only = nodes(("master-0", "master", True))
    assert select(masters_only, ()) == ["master-0"]


def test_server_and_client_go_to_two_nodes_with_sctp_and_never_to_a_cordoned_one() -> None:
    modules = {"master-0": BLACKLISTED, "worker-0": BLACKLISTED, "worker-1": LOADED,
               "worker-2": LOADED}  # fmt: skip
    placement = place(CLUSTER, ["worker-0", "worker-1", "worker-2"], modules)
    # worker-2 has SCTP but is cordoned; worker-0 has none: both on worker-1.
    assert placement == Placement(server="worker-1", client="worker-1", no_sctp="worker-0")


def test_the_negative_check_avoids_nodes_where_listening_could_load_the_module() -> None:
    modules = {"master-0": NodeModule("not-loaded"), "worker-0": LOADED, "worker-1": LOADED}
    placement = place(CLUSTER, ["worker-0", "worker-1"], modules)
    assert placement == Placement(server="worker-0", client="worker-1", no_sctp=None)
    modules["master-0"] = NodeModule("absent")
    assert place(CLUSTER, ["worker-0", "worker-1"], modules).no_sctp == "master-0"
