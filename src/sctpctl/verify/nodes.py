"""Which nodes a run verifies, what SCTP state they are in, and where its pods go.

By default a run verifies the worker nodes (``node-role.kubernetes.io/worker``), where the
procedure enables SCTP; ``--nodes`` names others. The server and the cross-node client go to two
selected nodes with SCTP (one node serves both when only one has it; with none, the pods still go
to selected nodes and the checks report ``no-sctp-local``). The negative check uses a node whose
module is blacklisted or absent, preferring the selected ones: only there is trying to listen
free of side effects, since an SCTP socket on a node where the module is merely not loaded makes
the kernel load it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from sctpctl.k8s.client import Client, Obj
from sctpctl.verify.context import NodeInfo, NodeModule, Placement

ROLE_PREFIX = "node-role.kubernetes.io/"
WORKER = "worker"
NEGATIVE_STATES = frozenset({"blacklisted", "absent"})
"Module states where an attempt to listen cannot load the module."

ModuleReader = Callable[[Client, Sequence[str]], Awaitable[Mapping[str, NodeModule]]]
"""Reads the module state of the named nodes (``sctpctl status``'s collection)."""


def node_info(node: Obj) -> NodeInfo:
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    ordered = [a["address"] for a in addresses if a.get("type") == "InternalIP"]
    ordered += [a["address"] for a in addresses if a.get("type") == "ExternalIP"]
    roles = frozenset(
        key.removeprefix(ROLE_PREFIX)
        for key in (meta.get("labels") or {})
        if key.startswith(ROLE_PREFIX)
    )
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    schedulable = not (node.get("spec") or {}).get("unschedulable", False)
    return NodeInfo(str(meta.get("name")), tuple(dict.fromkeys(ordered)), roles, ready, schedulable)


async def discover(client: Client) -> list[NodeInfo]:
    listed = await client.list("v1", "Node")
    return sorted((node_info(n) for n in listed.items), key=lambda n: n.name)


def select(nodes: Sequence[NodeInfo], wanted: Sequence[str]) -> list[str]:
    """The nodes to verify: those named, else the workers, else every node."""
    names = [n.name for n in nodes]
    if wanted:
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise ValueError(
                f"no node named {', '.join(unknown)} (the cluster has {', '.join(names)})"
            )
        return list(dict.fromkeys(wanted))
    workers = [n.name for n in nodes if WORKER in n.roles]
    return workers or names


def place(
    nodes: Sequence[NodeInfo], selected: Sequence[str], modules: Mapping[str, NodeModule]
) -> Placement:
    """Server and client nodes among the selected ones, and a node for the negative check."""
    by_name = {n.name: n for n in nodes}

    def usable(name: str) -> bool:
        """Ready and not cordoned (pods are pinned by name, which would pass a cordon)."""
        node = by_name.get(name)
        return node is not None and node.ready and node.schedulable

    candidates = [n for n in selected if usable(n)] or list(selected)
    with_sctp = [n for n in candidates if modules.get(n, NodeModule("unknown")).has_sctp]
    preferred = with_sctp + [n for n in candidates if n not in with_sctp]
    server = preferred[0]
    client = with_sctp[1] if len(with_sctp) > 1 else (
        preferred[1] if len(preferred) > 1 and not with_sctp else server
    )  # fmt: skip
    negative_candidates = [n for n in selected if usable(n)] + [
        n.name for n in nodes if n.name not in selected and usable(n.name)
    ]
    no_sctp = next(
        (
            n
            for n in negative_candidates
            if modules.get(n, NodeModule("unknown")).state in NEGATIVE_STATES
        ),
        None,
    )
    return Placement(server=server, client=client, no_sctp=no_sctp)
