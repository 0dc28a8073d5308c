"""What enable and disable decide before changing anything: one action per pool, who reboots,
and the end each rollout must reach."""

from __future__ import annotations

import pytest

from sctpctl.enable.openshift import pool_of, pool_role, pool_roles
from sctpctl.enable.plan import (
    Action,
    MachineConfigState,
    PlanError,
    managed_name,
    plan_disable,
    plan_enable,
)
from sctpctl.enable.rollout import Goal
from sctpctl.node.ignition import IgnitionVersion
from sctpctl.node.machineconfig import render_sctp_machineconfig
from tests.enable.objects import data_file, machineconfig, node, pool, seed

POOLS = [pool("master"), pool("worker"), pool("worker-cnf", roles=("worker", "worker-cnf"))]
NODES = [
    node("master-0", "master", "control-plane"),
    node("worker-0", "worker"),
    node("worker-1", "worker"),
    node("cnf-0", "worker", "worker-cnf"),
]
BASE = [machineconfig("00-worker", "worker"), machineconfig("00-master", "master")]


def state(
    *extra: dict[str, object], pools: list[dict[str, object]] | None = None
) -> MachineConfigState:
    return MachineConfigState(pools or POOLS, NODES, [*BASE, *extra])


def test_pools_are_decided_as_the_operator_does() -> None:
    assert pool_roles(POOLS[2]) == ("worker", "worker-cnf")
    assert pool_role(POOLS[2]) == "worker-cnf"
    assert pool_role(POOLS[1]) == "worker"
    # A custom pool's node matches the worker pool too; the custom one wins, master wins all.
    assert pool_of(NODES[3], POOLS) == "worker-cnf"
    assert pool_of(NODES[1], POOLS) == "worker"
    assert pool_of(node("compact-0", "master", "worker"), POOLS) == "master"


def test_enabling_creates_the_seed_object_and_reboots_the_pool() -> None:
    plan = plan_enable(state())
    (change,) = plan.changes
    assert change.action is Action.CREATE
    assert change.body == render_sctp_machineconfig()  # the object of `sctpctl render`
    assert change.nodes == ("worker-0", "worker-1")  # not cnf-0: it is in worker-cnf
    assert plan.reboots == 2 and plan.changes_anything
    assert plan.goals() == (Goal("worker", present=frozenset({"load-sctp-module"})),)
    assert plan.objects() == [change.body]
    assert "create MachineConfig load-sctp-module (role worker, Ignition 3.2.0)" in (
        change.describe()
    )
    assert "2 nodes (worker-0, worker-1) will be drained and rebooted, 1 at a time" in (
        change.describe()
    )


def test_enabling_twice_changes_nothing_and_reboots_nothing() -> None:
    plan = plan_enable(state(seed()))
    (change,) = plan.changes
    assert change.action is Action.UNCHANGED
    assert plan.reboots == 0 and not plan.changes_anything and plan.objects() == []
    assert "no change, no reboot" in change.describe()


def test_an_older_publication_of_the_procedure_is_kept_as_it_is() -> None:
    # Made by hand from the 4.4 document (Ignition 2.2.0): same files, so no reboot for them.
    plan = plan_enable(state(seed(ignition="2.2.0")))
    assert plan.changes[0].action is Action.UNCHANGED
    # Asking for another version explicitly is an update (and a rollout).
    plan = plan_enable(state(seed(ignition="2.2.0")), ignition=IgnitionVersion.V3_2_0)
    change = plan.changes[0]
    assert change.action is Action.UPDATE
    assert change.reboots == 2
    # A changed object keeps its name: the rollout is over only once the pool has left the
    # configuration it had before the change.
    assert change.goal() == Goal(
        "worker", frozenset({"load-sctp-module"}), not_configuration=change.before
    )


def test_an_edited_object_is_brought_back_to_the_rendered_spec() -> None:
    edited = seed()
    edited["spec"]["config"]["storage"]["files"][1]["contents"]["source"] = "data:,sctp%0Adummy"
    assert plan_enable(state(edited)).changes[0].action is Action.UPDATE
    with_kernel_args = seed()
    with_kernel_args["spec"]["kernelArguments"] = ["nosmt"]
    assert plan_enable(state(with_kernel_args)).changes[0].action is Action.UPDATE


def test_sctp_enabled_by_someone_elses_machineconfig_is_left_alone() -> None:
    other = seed(name="99-worker-sctp")
    plan = plan_enable(state(other))
    (change,) = plan.changes
    assert change.action is Action.PROVIDED and change.provided_by == ("99-worker-sctp",)
    assert plan.reboots == 0
    assert change.goal() == Goal("worker", present=frozenset({"99-worker-sctp"}))
    # A custom pool selecting the worker role inherits the worker's MachineConfig.
    plan = plan_enable(state(seed()), pools=["worker-cnf"])
    assert plan.changes[0].action is Action.PROVIDED
    assert plan.changes[0].provided_by == ("load-sctp-module",)


def test_a_later_machineconfig_that_blacklists_again_is_a_warning() -> None:
    # "Later" is by name, as the operator merges: "zz-..." comes after "load-sctp-module",
    # "99-..." would come before it and be overridden.
    again = machineconfig(
        "zz-worker-blacklist",
        "worker",
        [data_file("/etc/modprobe.d/sctp-blacklist.conf", "data:,blacklist%20sctp")],
    )
    (change,) = plan_enable(state(again)).changes
    assert change.action is Action.CREATE
    assert any(
        "would not load sctp" in w and "zz-worker-blacklist" in w for w in change.warnings
    ), change.warnings


def test_custom_pools_get_their_own_name_and_role() -> None:
    plan = plan_enable(state(), pools=["worker-cnf", "master"])
    names = [(c.pool, c.name, c.role, c.action) for c in plan.changes]
    assert names == [
        ("worker-cnf", "load-sctp-module-worker-cnf", "worker-cnf", Action.CREATE),
        ("master", "load-sctp-module-master", "master", Action.CREATE),
    ]
    assert plan.reboots == 2
    assert managed_name("worker", "mine") == "mine"


def test_bad_requests_are_plan_errors() -> None:
    with pytest.raises(
        PlanError, match=r"no MachineConfigPool 'infra'.*master, worker, worker-cnf"
    ):
        plan_enable(state(), pools=["infra"])
    with pytest.raises(PlanError, match="exactly one --pool"):
        plan_enable(state(), pools=["worker", "master"], name="x")
    odd = pool("odd", roles=("a", "b"))
    with pytest.raises(PlanError, match="does not select MachineConfigs by one"):
        plan_enable(state(pools=[*POOLS, odd]), pools=["odd"])


def test_degraded_and_paused_pools_are_said_before_anything_happens() -> None:
    degraded = pool("worker", conditions={"Degraded": "True"}, messages={"Degraded": "boom"})
    paused = pool("worker", paused=True)
    assert plan_enable(state(pools=[degraded])).changes[0].warnings == (
        "pool worker is Degraded already: boom",
    )
    assert "is paused" in plan_enable(state(pools=[paused])).changes[0].warnings[0]


def test_disabling_deletes_only_the_managed_machineconfig() -> None:
    plan = plan_disable(state(seed()))
    (change,) = plan.changes
    assert change.action is Action.DELETE and change.reboots == 2
    assert change.goal() == Goal("worker", absent=frozenset({"load-sctp-module"}))
    assert plan.objects() == [seed()]
    absent = plan_disable(state())
    assert absent.changes[0].action is Action.ABSENT and not absent.changes_anything
    assert absent.goals() == ()
    # Another MachineConfig keeps SCTP on: it stays, and the plan says so.
    kept = plan_disable(state(seed(), seed(name="99-worker-sctp"))).changes[0]
    assert kept.action is Action.DELETE
    assert kept.warnings == (
        "SCTP stays enabled on pool worker by MachineConfig 99-worker-sctp, "
        "which sctpctl does not manage",
    )


def test_watching_needs_the_change_to_be_made_already() -> None:
    assert plan_enable(state(seed())).watch_goals() == (
        Goal("worker", present=frozenset({"load-sctp-module"})),
    )
    with pytest.raises(PlanError, match=r"does not exist.*without --watch-only"):
        plan_enable(state()).watch_goals()
    assert plan_disable(state()).watch_goals() == (
        Goal("worker", absent=frozenset({"load-sctp-module"})),
    )
    with pytest.raises(PlanError, match="still exists"):
        plan_disable(state(seed())).watch_goals()
