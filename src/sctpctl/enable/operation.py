"""``enable`` and ``disable`` as three steps the command line drives: plan, apply, follow.

The method is chosen from what the cluster serves: with the MachineConfig API group
(OpenShift) the MachineConfig of the procedure; without it, nothing, unless ``--method
daemonset`` asks for the DaemonSet, because that one changes nodes behind the back of whatever
manages them and the administrator should choose it knowingly.

Planning reads and never writes. The command line shows the plan and asks for confirmation
between planning and applying, so :func:`apply` plans again and refuses to go on when the
cluster changed in a way that changes the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from sctpctl.enable.access import naming
from sctpctl.enable.daemonset import (
    DaemonSetPlan,
    DaemonSetProgress,
    apply_daemonset,
    follow_daemonset,
    plan_daemonset,
    read_daemonset,
)
from sctpctl.enable.machineconfigs import (
    apply_plan,
    follow_rollout,
    has_machineconfig_api,
    read_state,
)
from sctpctl.enable.openshift import GROUP, NODE
from sctpctl.enable.plan import DEFAULT_POOLS, Plan, plan_disable, plan_enable
from sctpctl.enable.rollout import Progress
from sctpctl.k8s.client import Client
from sctpctl.manifests.daemonset import (
    DEFAULT_NAME as DAEMONSET_NAME,
)
from sctpctl.manifests.daemonset import (
    DEFAULT_NAMESPACE as DAEMONSET_NAMESPACE,
)
from sctpctl.manifests.daemonset import (
    Tolerate,
    render_daemonset,
)
from sctpctl.manifests.verification import DEFAULT_IMAGE
from sctpctl.node.ignition import IgnitionVersion

AnyPlan = Plan | DaemonSetPlan
AnyProgress = Progress | DaemonSetProgress


class Method(StrEnum):
    MACHINECONFIG = "machineconfig"
    DAEMONSET = "daemonset"


class NoMachineConfigOperator(Exception):
    """The cluster has no MachineConfig operator and no other method was asked for."""

    def __init__(self, enable: bool) -> None:
        self.enable = enable
        verb = "enabled" if enable else "disabled"
        super().__init__(
            f"this cluster has no MachineConfig operator (the API group {GROUP} is not "
            f"served), so SCTP cannot be {verb} with a MachineConfig"
        )
        self.hint = (
            "on clusters without it, --method daemonset runs a privileged DaemonSet that "
            "unblocks, persists and loads sctp on each selected node, without a reboot "
            "(see: sctpctl render daemonset)"
        )


class RolloutTimeout(Exception):
    """The rollout (or the DaemonSet) did not finish in time; it goes on in the cluster."""

    def __init__(self, last: AnyProgress | None) -> None:
        super().__init__("the rollout did not finish in time")
        self.last = last


class PlanChanged(Exception):
    """The cluster changed between the plan that was shown and its application."""


@dataclass(frozen=True, slots=True)
class Request:
    enable: bool = True
    method: Method | None = None
    "``None``: the MachineConfig method, explained away on clusters without it."
    pools: tuple[str, ...] = DEFAULT_POOLS
    name: str | None = None
    ignition: IgnitionVersion | None = None
    image: str = DEFAULT_IMAGE
    namespace: str = DAEMONSET_NAMESPACE
    node_selector: Mapping[str, str] | None = None
    tolerate: Tolerate = Tolerate.NONE


async def make_plan(client: Client, request: Request) -> AnyPlan:
    method = request.method or Method.MACHINECONFIG
    if method is Method.MACHINECONFIG:
        if not await has_machineconfig_api(client):
            raise NoMachineConfigOperator(request.enable)
        state = await read_state(client)
        if request.enable:
            return plan_enable(
                state, pools=request.pools, name=request.name, ignition=request.ignition
            )
        return plan_disable(state, pools=request.pools, name=request.name)
    body = render_daemonset(
        image=request.image,
        name=request.name or DAEMONSET_NAME,
        namespace=request.namespace,
        node_selector=request.node_selector,
        tolerate=request.tolerate,
    )
    meta = body["metadata"]
    existing = await read_daemonset(client, meta["name"], meta["namespace"])
    with naming("list", "nodes"):
        nodes = (await client.list(*NODE)).items
    return plan_daemonset(body, existing, nodes, tolerate=request.tolerate, enable=request.enable)


def _actions(plan: AnyPlan) -> list[tuple[str, str, str]]:
    if isinstance(plan, DaemonSetPlan):
        return [(plan.namespace, plan.name, plan.action.value)]
    return [(c.pool, c.name, c.action.value) for c in plan.changes]


async def apply(
    client: Client,
    request: Request,
    shown: AnyPlan,
    applied: Callable[[str], None] = lambda _: None,
) -> AnyPlan:
    """Plan again, check that it is the plan that was shown, and make its changes."""
    plan = await make_plan(client, request)
    if _actions(plan) != _actions(shown):
        raise PlanChanged(
            "the cluster changed since the plan was shown; run the command again to see the "
            "new plan"
        )
    if isinstance(plan, DaemonSetPlan):
        if plan.changes_anything:
            await apply_daemonset(client, plan)
            applied(f"{plan.action.value}d DaemonSet {plan.namespace}/{plan.name}")
        return plan
    await apply_plan(
        client,
        plan,
        lambda change: applied(f"{change.action.value}d MachineConfig {change.name}"),
    )
    return plan


async def follow(
    client: Client,
    plan: AnyPlan,
    *,
    report: Callable[[AnyProgress], None],
    timeout: float | None = None,  # noqa: ASYNC109 (bounds the whole rollout)
    watch_only: bool = False,
) -> AnyProgress:
    """Follow the plan's rollout to its end; :class:`RolloutTimeout` after ``timeout``.

    ``watch_only``: the plan was made without applying it, to follow what an earlier run
    started; :class:`~sctpctl.enable.plan.PlanError` when that run has not made the change.
    """
    last: list[AnyProgress] = []

    def seen(progress: AnyProgress) -> None:
        last[:] = [progress]
        report(progress)

    try:
        if isinstance(plan, DaemonSetPlan):
            if watch_only:
                plan.check_watchable()
            return await follow_daemonset(client, plan, report=seen, timeout=timeout)
        goals = plan.watch_goals() if watch_only else plan.goals()
        return await follow_rollout(client, goals, report=seen, timeout=timeout)
    except TimeoutError as error:
        raise RolloutTimeout(last[0] if last else None) from error
