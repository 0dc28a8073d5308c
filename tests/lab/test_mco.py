"""The machine-config operator's decisions, as pure functions: rendering, who updates next, and the
pool status OpenShift shows."""

from __future__ import annotations

from typing import Any

from sctpctl.lab.mco import (
    CURRENT,
    DESIRED,
    REASON,
    STATE,
    Rendered,
    RenderFailure,
    base_config,
    next_nodes,
    pool_object,
    pool_status,
    render,
)
from sctpctl.node.ignition import read_ignition
from sctpctl.node.machineconfig import render_sctp_machineconfig

SEED = render_sctp_machineconfig()
"The seed's load-sctp-module (Ignition 3.2.0)."
SEED_2_2 = render_sctp_machineconfig(ignition="2.2.0")
"The 4.4 original of the same object."


def _rendered(configs: list[dict[str, Any]], pool: str = "worker") -> Rendered:
    result = render(pool_object(pool), configs)
    assert isinstance(result, Rendered), result
    return result


def test_the_rendered_name_is_the_hash_of_the_merged_files() -> None:
    base = _rendered([base_config("worker")])
    with_seed = _rendered([base_config("worker"), SEED])
    assert (
        base.name.startswith("rendered-worker-") and len(base.name) == len("rendered-worker-") + 32
    )
    assert with_seed.name != base.name
    assert with_seed.sources == ("00-worker", "load-sctp-module")
    # Deleting the MachineConfig renders the earlier name again.
    assert _rendered([base_config("worker")]).name == base.name
    # The master pool does not select worker configs.
    assert _rendered([base_config("master"), SEED], "master").sources == ("00-master",)


def test_ignition_2_2_renders_to_the_same_files_as_3_2() -> None:
    def files(config: dict[str, Any]) -> list[tuple[str, int, bytes | None]]:
        reading = read_ignition(config)
        assert reading.ok, reading.problems
        return [(f.path, f.mode, f.contents) for f in reading.files]

    old = _rendered([base_config("worker"), SEED_2_2])
    new = _rendered([base_config("worker"), SEED])
    assert old.config["ignition"]["version"] == "3.2.0"
    assert (
        files(old.config)
        == files(new.config)
        == [
            ("/etc/modprobe.d/sctp-blacklist.conf", 0o644, b""),
            ("/etc/modules-load.d/sctp-load.conf", 0o644, b"sctp"),
        ]
    )


def test_a_later_config_replaces_a_file_of_an_earlier_one() -> None:
    # "Later" is by name, as the operator sorts them ("post-..." comes after "load-...").
    override = {
        **SEED,
        "metadata": {**SEED["metadata"], "name": "post-override"},
        "spec": {"config": {"ignition": {"version": "3.2.0"}, "storage": {"files": [
            {"path": "/etc/modules-load.d/sctp-load.conf", "overwrite": True,
             "contents": {"source": "data:,sctp%0Adummy"}},
        ]}}},
    }  # fmt: skip
    files = _rendered([SEED, override]).config["storage"]["files"]
    assert [f["path"] for f in files] == [
        "/etc/modprobe.d/sctp-blacklist.conf",
        "/etc/modules-load.d/sctp-load.conf",
    ]
    assert files[1]["contents"]["source"] == "data:,sctp%0Adummy"


def test_an_unreadable_ignition_version_fails_the_render() -> None:
    broken = {**SEED, "spec": {"config": {"ignition": {"version": "9.9.9"}}}}
    result = render(pool_object("worker"), [broken])
    assert isinstance(result, RenderFailure)
    assert result.message.startswith("Failed to render configuration for pool worker")


def _node(
    name: str, current: str, desired: str, state: str = "Done", **extra: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"node-role.kubernetes.io/worker": ""},
            "annotations": {
                CURRENT: current,
                DESIRED: desired,
                STATE: state,
                REASON: extra.get("reason", ""),
            },
        },
        "spec": {"unschedulable": extra.get("unschedulable", False)},
        "status": {"conditions": [{"type": "Ready", "status": extra.get("ready", "True")}]},
    }


def test_at_most_max_unavailable_nodes_update_at_once() -> None:
    pool = pool_object("worker")
    nodes = [_node(f"worker-{i}", "old", "old") for i in range(3)]
    assert next_nodes(pool, nodes, "new") == ["worker-0"]
    nodes[0] = _node("worker-0", "old", "new", "Working", unschedulable=True)
    assert next_nodes(pool, nodes, "new") == []
    pool["spec"]["maxUnavailable"] = 2
    assert next_nodes(pool, nodes, "new") == ["worker-1"]
    pool["spec"]["paused"] = True
    assert next_nodes(pool, nodes, "new") == []


def test_a_degraded_node_gets_the_fixed_config_at_once() -> None:
    nodes = [_node("worker-0", "good", "bad", "Degraded"), _node("worker-1", "good", "good")]
    assert next_nodes(pool_object("worker"), nodes, "good") == ["worker-0"]


def test_pool_status_while_updating_degraded_and_done() -> None:
    pool = pool_object("worker")
    pool["metadata"]["generation"] = 1
    target = Rendered("rendered-worker-new", {}, ("00-worker", "load-sctp-module"))
    updating = pool_status(
        pool,
        [_node("worker-0", "old", "rendered-worker-new", "Working", unschedulable=True),
         _node("worker-1", "old", "old")],
        target, None, 0.0,
    )  # fmt: skip
    conditions = {c["type"]: c for c in updating["conditions"]}
    assert conditions["Updating"]["status"] == "True"
    assert (
        conditions["Updating"]["message"]
        == "All nodes are updating to MachineConfig rendered-worker-new"
    )
    assert conditions["Updated"]["status"] == "False"
    assert (
        updating["machineCount"],
        updating["updatedMachineCount"],
        updating["unavailableMachineCount"],
    ) == (2, 0, 1)
    assert updating["configuration"]["source"][1] == {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "name": "load-sctp-module",
    }
    degraded = pool_status(
        pool,
        [_node("worker-0", "old", "rendered-worker-new", "Degraded", reason="bad path"),
         _node("worker-1", "old", "old")],
        target, None, 0.0,
    )  # fmt: skip
    conditions = {c["type"]: c for c in degraded["conditions"]}
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["NodeDegraded"]["message"] == 'Node worker-0 is reporting: "bad path"'
    assert degraded["degradedMachineCount"] == 1
    done = pool_status(
        pool,
        [_node(f"worker-{i}", "rendered-worker-new", "rendered-worker-new") for i in range(2)],
        target,
        None,
        0.0,
    )
    conditions = {c["type"]: c for c in done["conditions"]}
    assert conditions["Updated"]["status"] == "True"
    assert (
        conditions["Updated"]["message"]
        == "All nodes are updated with MachineConfig rendered-worker-new"
    )
    assert (
        done["updatedMachineCount"],
        done["readyMachineCount"],
        done["unavailableMachineCount"],
    ) == (2, 2, 0)
    failed = pool_status(
        pool, [], None, RenderFailure("Failed to render configuration for pool worker: x"), 0.0
    )
    assert {c["type"]: c["status"] for c in failed["conditions"]}["RenderDegraded"] == "True"
