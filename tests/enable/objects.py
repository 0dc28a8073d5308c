"""Pools, nodes and MachineConfigs as an OpenShift API server returns them, for the pure tests.

On OpenShift a pool's ``spec.configuration`` names the rendered config it moves to and
``status.configuration`` the one every node has finished; the builders keep them apart so the
tests cover that, and not only the lab (which writes both at once).
"""

from __future__ import annotations

from typing import Any

from sctpctl.node.machineconfig import ROLE_LABEL, render_sctp_machineconfig

GROUP = "machineconfiguration.openshift.io"


def machineconfig(
    name: str, role: str, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {"ignition": {"version": "3.2.0"}}
    if files is not None:
        config["storage"] = {"files": files}
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "MachineConfig",
        "metadata": {"name": name, "labels": {ROLE_LABEL: role}, "resourceVersion": "7"},
        "spec": {"config": config},
    }


def seed(role: str = "worker", name: str = "load-sctp-module", **kwargs: Any) -> dict[str, Any]:
    """The procedure's MachineConfig, as the server stores it."""
    body = render_sctp_machineconfig(name=name, role=role, **kwargs)
    body["metadata"]["resourceVersion"] = "9"
    body["metadata"]["uid"] = f"uid-{name}"
    return body


def data_file(path: str, source: str) -> dict[str, Any]:
    return {"path": path, "mode": 420, "overwrite": True, "contents": {"source": source}}


def pool(
    name: str,
    *,
    roles: tuple[str, ...] | None = None,
    node_role: str | None = None,
    status_config: tuple[str, tuple[str, ...]] = ("", ()),
    spec_config: tuple[str, tuple[str, ...]] | None = None,
    conditions: dict[str, str] | None = None,
    machines: int = 2,
    updated: int | None = None,
    paused: bool = False,
    messages: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pool; ``*_config`` are (rendered name, source names)."""
    chosen = roles or (name,)
    selector: dict[str, Any] = (
        {"matchLabels": {ROLE_LABEL: chosen[0]}}
        if len(chosen) == 1
        else {"matchExpressions": [{"key": ROLE_LABEL, "operator": "In", "values": list(chosen)}]}
    )

    def configuration(pair: tuple[str, tuple[str, ...]]) -> dict[str, Any]:
        return {
            "name": pair[0],
            "source": [
                {"apiVersion": f"{GROUP}/v1", "kind": "MachineConfig", "name": n} for n in pair[1]
            ],
        }

    state = {"Updated": "True", "Updating": "False", "Degraded": "False", **(conditions or {})}
    notes = messages or {}
    spec: dict[str, Any] = {
        "machineConfigSelector": selector,
        "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{node_role or name}": ""}},
        "paused": paused,
    }
    if spec_config is not None:
        spec["configuration"] = configuration(spec_config)
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "MachineConfigPool",
        "metadata": {"name": name},
        "spec": spec,
        "status": {
            "configuration": configuration(status_config),
            "machineCount": machines,
            "updatedMachineCount": machines if updated is None else updated,
            "conditions": [
                {"type": kind, "status": value, "message": notes.get(kind, "")}
                for kind, value in state.items()
            ],
        },
    }


def node(
    name: str,
    *roles: str,
    current: str = "rendered-a",
    desired: str | None = None,
    state: str = "Done",
    reason: str = "",
    ready: bool = True,
    cordoned: bool = False,
    boot: str = "boot-1",
) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name}
    labels.update({f"node-role.kubernetes.io/{r}": "" for r in roles or ("worker",)})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                f"{GROUP}/currentConfig": current,
                f"{GROUP}/desiredConfig": desired or current,
                f"{GROUP}/state": state,
                f"{GROUP}/reason": reason,
            },
        },
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "nodeInfo": {"bootID": boot},
        },
    }
