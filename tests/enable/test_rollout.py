"""Where a rollout stands: the end is Updated=True with the MachineConfig among the sources; stale
status never passes for it; each node's phase comes from its annotations and its state."""

from __future__ import annotations

from sctpctl.enable.rollout import Goal, NodePhase, PoolOutcome, node_phase, progress
from tests.enable.objects import node, pool

ENABLE = Goal("worker", present=frozenset({"load-sctp-module"}))
OLD = ("rendered-a", ("00-worker",))
NEW = ("rendered-b", ("00-worker", "load-sctp-module"))


def pools(*found: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(p["metadata"]["name"]): p for p in found}  # type: ignore[index]


def test_the_old_configuration_saying_updated_is_not_the_end() -> None:
    # Just after the MachineConfig is created, before the operator noticed it.
    stale = pool("worker", status_config=OLD)
    result = progress([ENABLE], pools(stale), [node("worker-0"), node("worker-1")])
    (worker,) = result.pools
    assert worker.outcome is PoolOutcome.IN_PROGRESS and not result.finished
    assert worker.updated == 0 and worker.target == ""
    assert worker.summary() == (
        "worker: 0/2 updated; waiting for the operator to render the new configuration"
    )


def test_openshift_moves_spec_first_and_status_when_every_node_is_done() -> None:
    moving = pool(
        "worker",
        status_config=OLD,
        spec_config=NEW,
        conditions={"Updated": "False", "Updating": "True"},
        updated=1,
    )
    nodes = [
        node("worker-0", current="rendered-b"),
        node("worker-1", current="rendered-a", desired="rendered-b", state="Working",
             cordoned=True),
    ]  # fmt: skip
    (worker,) = progress([ENABLE], pools(moving), nodes).pools
    assert worker.target == "rendered-b"
    assert [(n.name, n.phase) for n in worker.nodes] == [
        ("worker-0", NodePhase.UPDATED),
        ("worker-1", NodePhase.DRAINING),
    ]
    assert worker.summary() == "worker: 1/2 updated; worker-1 draining"
    done = pool("worker", status_config=NEW, spec_config=NEW)
    both = [node("worker-0", current="rendered-b"), node("worker-1", current="rendered-b")]
    finished = progress([ENABLE], pools(done), both)
    assert finished.done and finished.pools[0].summary() == "worker: 2/2 updated; done"


def test_node_phases_from_annotations_readiness_cordon_and_boot_id() -> None:
    updating = {"current": "rendered-a", "desired": "rendered-b", "state": "Working"}
    assert node_phase(node("n", **updating), "rendered-b").phase is NodePhase.UPDATING
    assert node_phase(node("n", **updating, cordoned=True), "rendered-b").phase is (
        NodePhase.DRAINING
    )
    down = node("n", **updating, cordoned=True, ready=False)
    assert node_phase(down, "rendered-b").phase is NodePhase.REBOOTING
    # Back from the reboot (a new boot ID), still cordoned: finishing, not draining again.
    back = node("n", **updating, cordoned=True, boot="boot-2")
    assert node_phase(back, "rendered-b", boot_before="boot-1").phase is NodePhase.UPDATING
    assert node_phase(node("n"), "rendered-b").phase is NodePhase.WAITING
    degraded = node("n", **{**updating, "state": "Degraded"}, reason="bad path")
    assert node_phase(degraded, "rendered-b") == node_phase(degraded, "")
    assert node_phase(degraded, "").reason == "bad path"


def test_a_degraded_pool_ends_the_rollout_with_each_nodes_reason() -> None:
    broken = pool(
        "worker",
        status_config=NEW,
        conditions={"Updated": "False", "Degraded": "True", "NodeDegraded": "True"},
        messages={"NodeDegraded": 'Node worker-0 is reporting: "bad path"'},
    )
    nodes = [
        node("worker-0", current="rendered-a", desired="rendered-b", state="Degraded",
             reason="bad path"),
        node("worker-1"),
    ]  # fmt: skip
    result = progress([ENABLE], pools(broken), nodes)
    assert result.finished and not result.done
    (worker,) = result.failed
    assert worker.outcome is PoolOutcome.DEGRADED
    assert worker.message == 'Node worker-0 is reporting: "bad path"'
    assert [(n.name, n.reason) for n in worker.degraded_nodes] == [("worker-0", "bad path")]


def test_paused_and_missing_pools_end_it_too() -> None:
    paused = progress([ENABLE], pools(pool("worker", status_config=OLD, paused=True)), [])
    assert paused.failed[0].outcome is PoolOutcome.PAUSED
    missing = progress([ENABLE], {}, [])
    assert missing.failed[0].outcome is PoolOutcome.MISSING


def test_disable_waits_until_the_machineconfig_has_left_the_sources() -> None:
    goal = Goal("worker", absent=frozenset({"load-sctp-module"}))
    old = pool("worker", status_config=NEW, machines=1)
    assert not progress([goal], pools(old), [node("w", current="rendered-b")]).finished
    after = progress([goal], pools(pool("worker", status_config=OLD, machines=1)), [node("w")])
    assert after.done


def test_an_update_in_place_waits_for_a_new_configuration() -> None:
    goal = Goal("worker", frozenset({"load-sctp-module"}), not_configuration="rendered-b")
    same = pool("worker", status_config=NEW, machines=1)
    assert not progress([goal], pools(same), [node("w", current="rendered-b")]).finished
    newer = pool("worker", status_config=("rendered-c", NEW[1]), machines=1)
    assert progress([goal], pools(newer), [node("w", current="rendered-c")]).done
