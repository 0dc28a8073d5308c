"""What every rule module shares: the options of a run and the shape of a check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sctpctl.manifests.findings import Finding
from sctpctl.manifests.inventory import Inventory

DEFAULT_NODE_PORT_RANGE = (30000, 32767)
"kube-apiserver's default --service-node-port-range (also OpenShift's)."


@dataclass(frozen=True, slots=True)
class LintOptions:
    allow_loadbalancer: bool = False
    "Accept SCTP Services of type LoadBalancer (MetalLB or a provider that supports SCTP)."
    node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE
    "The cluster's NodePort range, inclusive."


Check = Callable[[Inventory, LintOptions], Iterable[Finding]]
"A rule's check: every finding in the whole input."
