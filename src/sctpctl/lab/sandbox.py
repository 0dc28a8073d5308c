"""Pod sandboxes: a network namespace per pod, joined to its node by a routed veth.

The plan (names, addresses, routes) comes from :mod:`sctpctl.lab.plan`; the work is done by
:mod:`sctpctl.host` in three batches per pod: the namespace, the node side (veth, gateway
address, route), the pod side (address, routes). These calls block; the kubelet runs them in a
worker thread.
"""

from __future__ import annotations

from sctpctl.host import links, netns
from sctpctl.lab.plan import (
    LabPlan,
    NodePlan,
    pod_host_lines,
    pod_host_sysctls,
    pod_lines,
    pod_veth_name,
)


def create(plan: LabPlan, node: NodePlan, uid: str, address: str) -> str:
    """Build the sandbox of pod ``uid`` with ``address``; returns its namespace name."""
    name = plan.pod_netns(uid)
    veth = pod_veth_name(uid)
    netns.delete(name)  # a leftover of a crash is rebuilt from nothing
    netns.create(name)
    try:
        links.configure(
            node.netns,
            [
                f"link add {veth} type veth peer name eth0 netns {name}",
                *pod_host_lines(veth, address),
            ],
        )
        links.set_sysctls(node.netns, pod_host_sysctls(veth))
        links.configure(name, pod_lines(address))
    except Exception:
        destroy(plan, node, uid)
        raise
    return name


def destroy(plan: LabPlan, node: NodePlan, uid: str) -> None:
    """Remove the sandbox (its veth goes with the namespace); missing parts are fine."""
    links.delete_link(node.netns, pod_veth_name(uid))
    netns.delete(plan.pod_netns(uid))
