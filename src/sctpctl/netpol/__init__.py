"""The NetworkPolicy engine: Kubernetes semantics as pure functions (verdicts, truth tables).

- :func:`cluster_from_objects` reads Namespaces, Pods and NetworkPolicies (plain dicts) into a
  :class:`Cluster`, with the API server's validation;
- :func:`evaluate` answers one connection (:class:`Traffic`) with a :class:`Verdict` that names
  the rules that allowed it or the isolation that denied it;
- :func:`truth_tables` gives pods x pods :class:`TruthTable` s per port and protocol;
- :func:`compile_cluster` gives, per pod and direction, the isolation and the allowed address,
  protocol and port sets, resolved against the current pods (what a packet filter needs).

The semantics and the choices where implementations differ are written down in
:mod:`sctpctl.netpol.model`.
"""

from sctpctl.netpol.compiled import CompiledPod, compile_cluster
from sctpctl.netpol.engine import DirectionVerdict, RuleCheck, Verdict, evaluate
from sctpctl.netpol.model import (
    Cluster,
    ClusterError,
    Direction,
    NetworkPolicy,
    ObjectRef,
    Pod,
    Protocol,
    RuleRef,
)
from sctpctl.netpol.parse import InvalidObject, cluster_from_objects
from sctpctl.netpol.table import (
    Comparison,
    Connectivity,
    TableView,
    TruthTable,
    compare,
    truth_tables,
)
from sctpctl.netpol.traffic import (
    Endpoint,
    PortProtocol,
    Traffic,
    TrafficError,
    make_traffic,
    pod_endpoint,
)

__all__ = [
    "Cluster",
    "ClusterError",
    "Comparison",
    "CompiledPod",
    "Connectivity",
    "Direction",
    "DirectionVerdict",
    "Endpoint",
    "InvalidObject",
    "NetworkPolicy",
    "ObjectRef",
    "Pod",
    "PortProtocol",
    "Protocol",
    "RuleCheck",
    "RuleRef",
    "TableView",
    "Traffic",
    "TrafficError",
    "TruthTable",
    "Verdict",
    "cluster_from_objects",
    "compare",
    "compile_cluster",
    "evaluate",
    "make_traffic",
    "pod_endpoint",
    "truth_tables",
]
