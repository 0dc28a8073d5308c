"""The lab's machine network: fabric bridge, node namespaces and the external host.

:func:`build` makes what :mod:`sctpctl.lab.plan` describes (after removing any leftover of an
earlier run of the same lab), :func:`teardown` removes every namespace of the lab, which takes
their interfaces, routes and nftables tables with them. Both block; the daemon calls them from a
worker thread.
"""

from __future__ import annotations

from sctpctl.host import links, netns
from sctpctl.host.commands import require_program, require_root
from sctpctl.lab.plan import (
    NODE_SYSCTLS,
    LabPlan,
    external_lines,
    fabric_lines,
    node_lines,
)


def check_host() -> None:
    """Raise :class:`~sctpctl.host.commands.HostError` unless the lab can run here."""
    require_root("the lab")
    require_program("ip", "iproute2")
    require_program("nft", "nftables")


def leftovers(plan: LabPlan) -> list[str]:
    """Namespaces of this lab that exist in the kernel."""
    return [name for name in netns.names() if plan.owns(name)]


def teardown(plan: LabPlan) -> list[str]:
    """Delete every namespace of this lab (pods first, the fabric last); returns their names."""
    found = leftovers(plan)
    infrastructure = set(plan.namespaces)
    ordered = [n for n in found if n not in infrastructure]
    ordered += [n for n in reversed(plan.namespaces) if n in found]
    for name in ordered:
        netns.delete(name)
    return ordered


def remove_pod_namespaces(plan: LabPlan) -> list[str]:
    """Delete leftover pod namespaces of this lab (after a crash); returns their names."""
    infrastructure = set(plan.namespaces)
    removed = [n for n in leftovers(plan) if n not in infrastructure]
    for name in removed:
        netns.delete(name)
    return removed


def build(plan: LabPlan) -> None:
    """Create the fabric, the nodes and the external host, replacing any partial earlier copy."""
    check_host()
    for name in plan.namespaces:
        netns.delete(name)
    for name in plan.namespaces:
        netns.create(name)
    for node in plan.nodes:
        links.create_veth(links.Veth(plan.fabric_netns, node.fabric_port, node.netns, "eth0"))
    links.create_veth(links.Veth(plan.fabric_netns, "ext", plan.external_netns, "eth0"))
    links.configure(plan.fabric_netns, fabric_lines(plan))
    for node in plan.nodes:
        links.configure(node.netns, node_lines(plan, node))
        links.set_sysctls(node.netns, NODE_SYSCTLS)
    links.configure(plan.external_netns, external_lines())
