"""Why an action failed, in one sentence that names the likely cause.

The outcome word says what the wire showed; the diagnosis adds what the cluster knows: a
NetworkPolicy that denies the traffic (from the engine, on the live objects), the module state of
the node at either end, whether anything listens there. For example::

    filtered: dropped on the way; a NetworkPolicy (ns/web) selects the server and allows
    only TCP/80
"""

from __future__ import annotations

from sctpctl.k8s.client import Obj
from sctpctl.k8s.errors import K8sError
from sctpctl.netpol import ClusterError
from sctpctl.outcomes import Outcome
from sctpctl.verify import workload
from sctpctl.verify.context import PodRef, RunContext
from sctpctl.verify.expectations import denial, live_cluster, traffic
from sctpctl.verify.model import CHECK_FAILED, ActionResult

MODULE_STATES = frozenset({"blacklisted", "not-loaded"})


def _pod_ref(text: str) -> PodRef | None:
    namespace, _, name = text.partition("/")
    return PodRef(namespace, name) if name else None


def _node_note(ctx: RunContext, pod: PodRef | None, role: str) -> str:
    node = ctx.pod_node(pod) if pod is not None else None
    if node is None:
        return ""
    module = ctx.modules.get(node)
    if module is None:
        return f"the {role}'s node {node}"
    return f"the {role}'s node {node} has sctp {module.state}"


async def _live_pod(ctx: RunContext, pod: PodRef | None) -> Obj | None:
    if pod is None:
        return None
    try:
        return await ctx.client.get("v1", "Pod", pod.name, namespace=pod.namespace)
    except K8sError:
        return ctx.pod(pod)


async def _policy_note(ctx: RunContext, result: ActionResult) -> str | None:
    action = result.action
    source = _pod_ref(action.source)
    if source is None or action.target is None:
        return None
    namespaces = {ctx.namespace, ctx.policy_namespace, source.namespace, action.target.namespace}
    try:
        cluster = await live_cluster(ctx, namespaces=sorted(namespaces))
        return denial(
            cluster, traffic(cluster, source, action.target, action.port, action.protocol)
        )
    except (K8sError, ClusterError, ValueError):
        return None


async def diagnose(ctx: RunContext, result: ActionResult) -> str:
    """The outcome's meaning and the likely cause, for a failed action."""
    observation, action = result.observation, result.action
    word = observation.word
    detail = f" ({observation.detail})" if observation.detail else ""
    if word == "absent":
        return (
            f"{action.source}'s kernel has no sctp module ({observation.detail}): no "
            "MachineConfig can turn it on; SCTP workloads need nodes whose kernel has it"
        )
    if word == "unknown":
        return f"the module state of {action.source} could not be read: {observation.detail}"
    if word in MODULE_STATES:
        return (
            f"the sctp module is {word} on {action.source}: {observation.detail}; "
            "`sctpctl enable` turns it on (the MachineConfig reboots the pool's nodes)"
        )
    if word == "listening":
        where = _node_note(ctx, action.target, "server")
        return (
            f"listening: the server could listen, so SCTP works there after all ({where}): "
            "something loaded the module since it was read"
        )
    if word == CHECK_FAILED:
        return f"the probe could not run: {observation.detail or 'no result'}"
    if word == Outcome.FILTERED.value:
        denied = await _policy_note(ctx, result)
        if denied is not None:
            return f"filtered: dropped on the way; {denied}"
        return (
            "filtered: dropped on the way, and no NetworkPolicy denies it: look at firewalls "
            "between the nodes, the Service rules (kube-proxy or the CNI must handle SCTP) and "
            "conntrack's SCTP support"
        )
    if word == Outcome.CLOSED.value:
        where = f" on port {action.port} of {action.target}" if action.target else ""
        if action.protocol == "TCP":
            return f"closed: RST, the port was reached{where} (the policy should have dropped it)"
        trouble = workload.listener_trouble(await _live_pod(ctx, action.target))
        if trouble:
            return f"closed: ABORT, nothing listens{where}: {trouble}"
        return f"closed: ABORT, nothing listens{where}; is its listener running?{detail}"
    if word == Outcome.NO_SCTP_ON_TARGET.value:
        note = _node_note(ctx, action.target, "target")
        return f"no-sctp-on-target: ICMP protocol-unreachable; {note or 'the target has no SCTP'}"
    if word == Outcome.NO_SCTP_LOCAL.value:
        note = _node_note(ctx, _pod_ref(action.source), "source")
        return f"no-sctp-local: no SCTP in the source pod; {note or 'its node has no SCTP'}"
    if word == Outcome.REJECTED.value:
        policy = await _policy_note(ctx, result)
        cause = policy or "a firewall rejects it, or the Service had no ready endpoint"
        return f"rejected: an ICMP unreachable came back{detail}; {cause}"
    if word == Outcome.MISMATCH.value:
        return f"mismatch: the association came up but the data differs{detail}"
    if word == Outcome.OPEN.value:
        policy = await _policy_note(ctx, result)
        return "open: the association came up where it should not" + (
            "" if policy is None else f" ({policy}, so the plugin does not enforce it)"
        )
    return f"{word}{detail}"
