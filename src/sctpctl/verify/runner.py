"""The run: nodes and their module state, the run's objects, the checks, the report, cleanup.

1. Read the nodes and which have SCTP (``sctpctl status``'s collection), choose where pods go.
2. Create the two namespaces and every object at once, then wait with watches until every pod
   runs and the Service has its endpoint (no polling loop; pods on a real cluster may pull).
3. Run the checks: those without NetworkPolicies concurrently, the policy checks one after
   another (their policies share a namespace) while the others run. Within a check, INIT probes
   from one pod run as one ``sctpctl probe``; inconclusive observations (the exec failed) are
   tried again; checks marked ``settle`` try failing actions again until the settle deadline,
   since Service and policy rules are programmed some time after the API accepted the objects.
4. Diagnose failures, and always clean up: on success, on failure and when stopped (Ctrl-C
   sets the stop event; the checks are cancelled, cleanup is not), unless ``--keep``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sctpctl.enable.access import Access, check_access
from sctpctl.k8s.client import Client, Obj
from sctpctl.k8s.errors import AlreadyExists, K8sError, NotFound
from sctpctl.k8s.waiting import wait_for, wait_gone
from sctpctl.netpol import ClusterError
from sctpctl.verify import nodes, probes, workload
from sctpctl.verify.context import LABEL, NodeModule, Options, PodRef, RunContext, new_run_id
from sctpctl.verify.diagnosis import diagnose
from sctpctl.verify.model import (
    CHECK_FAILED,
    Action,
    ActionResult,
    Check,
    CheckResult,
    Feature,
    Observation,
    Status,
)
from sctpctl.verify.report import Report

Progress = Callable[[str], None]

CLEANUP_TIMEOUT = 120.0
SETTLE_PAUSE = 1.0
"Seconds between two tries of failing actions while rules settle."
SERVICE = "sctpservice"


NEEDED = (
    Access("list", "nodes"),
    Access("create", "namespaces"),
    Access("delete", "namespaces"),
    Access("create", "pods"),
    Access("watch", "pods"),
    Access("create", "pods/exec"),
    Access("create", "services"),
    Access("watch", "endpointslices.discovery.k8s.io"),
    Access("create", "networkpolicies.networking.k8s.io"),
    Access("delete", "networkpolicies.networking.k8s.io"),
)
"""What a run does, asked before it creates anything (``kubectl auth can-i``), so a missing
permission is named up front instead of failing a check halfway."""


class SetupError(Exception):
    """The run's objects could not be brought up (an image that does not pull, a pod that
    cannot be scheduled): an environment problem, not a verdict on SCTP."""


def _quiet(_line: str) -> None:
    return None


def features(ctx: RunContext) -> frozenset[Feature]:
    found: set[Feature] = set()
    with_sctp = ctx.sctp_nodes()
    if with_sctp:
        found.add(Feature.SCTP_NODE)
    if len(with_sctp) > 1:
        found.add(Feature.TWO_SCTP_NODES)
    if ctx.placement is not None and ctx.placement.no_sctp is not None:
        found.add(Feature.NODE_WITHOUT_SCTP)
    if ctx.options.perf:
        found.add(Feature.PERF)
    return frozenset(found)


_WHY_SKIPPED = {
    Feature.SCTP_NODE: "no selected node has SCTP",
    Feature.TWO_SCTP_NODES: "fewer than two selected nodes have SCTP",
    Feature.NODE_WITHOUT_SCTP: "every node has SCTP (or may load it): no node for a negative test",
    Feature.PERF: "not asked for (--perf)",
}


# --- performing actions ------------------------------------------------------------------------


async def _observe(ctx: RunContext, action: Action) -> Observation:
    assert action.perform is not None
    try:
        return await action.perform(ctx)
    except K8sError as error:
        return Observation(CHECK_FAILED, str(error))


async def _round(ctx: RunContext, actions: Sequence[Action]) -> list[Observation]:
    """Every action once; INIT probes from one pod and protocol as one batch."""
    batches: dict[tuple[PodRef, str], list[int]] = {}
    singles: list[int] = []
    for index, action in enumerate(actions):
        if action.probe is not None:
            batches.setdefault((action.probe.pod, action.probe.protocol), []).append(index)
        else:
            singles.append(index)
    observed: dict[int, Observation] = {}

    async def batch(pod: PodRef, protocol: str, indexes: list[int]) -> None:
        targets = [(p.host, p.port) for p in (actions[i].probe for i in indexes) if p]
        found = await probes.probe_batch(ctx, pod, protocol, targets)
        for index in indexes:
            probe = actions[index].probe
            assert probe is not None
            observed[index] = found[(probe.host, probe.port)]

    async def single(index: int) -> None:
        observed[index] = await _observe(ctx, actions[index])

    await asyncio.gather(
        *(batch(pod, protocol, indexes) for (pod, protocol), indexes in batches.items()),
        *(single(index) for index in singles),
    )
    return [observed[i] for i in range(len(actions))]


async def perform(ctx: RunContext, actions: Sequence[Action]) -> list[Observation]:
    """Observations for ``actions``, inconclusive ones tried up to ``options.retries`` times."""
    observed: dict[int, Observation] = {}
    pending = list(range(len(actions)))
    for attempt in range(1, max(1, ctx.options.retries) + 1):
        got = await _round(ctx, [actions[i] for i in pending])
        for index, observation in zip(pending, got, strict=True):
            observed[index] = dataclasses.replace(observation, attempts=attempt)
        pending = [i for i in pending if observed[i].inconclusive]
        if not pending:
            break
        await asyncio.sleep(0.5 * attempt)
    return [observed[i] for i in range(len(actions))]


# --- one check -------------------------------------------------------------------------------


async def _apply(ctx: RunContext, check: Check, log: list[str]) -> list[Obj]:
    applied: list[Obj] = []
    if check.policies is None:
        return applied
    for body in check.policies(ctx):
        applied.append(await ctx.client.create(body))
        meta = body["metadata"]
        log.append(f"applied NetworkPolicy {meta['namespace']}/{meta['name']}")
    return applied


async def _remove(ctx: RunContext, applied: Sequence[Obj], log: list[str]) -> None:
    for body in applied:
        meta = body.get("metadata") or {}
        with contextlib.suppress(NotFound):
            await ctx.client.delete(
                str(body.get("apiVersion")),
                str(body.get("kind")),
                str(meta.get("name")),
                namespace=meta.get("namespace"),
            )
        log.append(f"removed NetworkPolicy {meta.get('namespace')}/{meta.get('name')}")


async def run_check(ctx: RunContext, check: Check, available: frozenset[Feature]) -> CheckResult:
    """One check, start to end; failures are in the result, never raised."""
    missing = sorted(check.requires - available)
    if missing:
        reason = "; ".join(_WHY_SKIPPED[f] for f in missing)
        return CheckResult(check, Status.SKIPPED, reason=reason)
    result = CheckResult(check, Status.PASSED)
    started = time.monotonic()
    applied: list[Obj] = []
    try:
        applied = await _apply(ctx, check, result.log)
        actions = list(await check.scenario(ctx))
        if check.alone:  # one measurement at a time, so they do not skew each other
            observations = [(await perform(ctx, [action]))[0] for action in actions]
        else:
            observations = await perform(ctx, actions)
        deadline = started + ctx.options.settle
        rounds = 0
        while check.settle and time.monotonic() < deadline:
            redo = [
                i for i, (a, o) in enumerate(zip(actions, observations, strict=True))
                if not a.expect.accepts(o.word)
            ]  # fmt: skip
            if not redo:
                break
            if not rounds:
                result.log.append(
                    f"{len(redo)} of {len(actions)} actions differed at first; trying them "
                    f"again for up to {ctx.options.settle:g} s (rules may still be programmed)"
                )
            rounds += 1
            await asyncio.sleep(SETTLE_PAUSE)
            again = await perform(ctx, [actions[i] for i in redo])
            for index, observation in zip(redo, again, strict=True):
                tried = observations[index].attempts + observation.attempts
                observations[index] = dataclasses.replace(observation, attempts=tried)
        result.actions = [ActionResult(a, o) for a, o in zip(actions, observations, strict=True)]
        failed = result.failed_actions
        for item in failed:
            item.diagnosis = await diagnose(ctx, item)
        if not actions:
            result.status = Status.FAILED
            result.reason = "nothing to probe: an object the check needs has no address"
        elif failed:
            result.status = Status.FAILED
            result.reason = f"{len(failed)} of {len(actions)} actions failed"
            if check.diagnose is not None:
                result.log += await check.diagnose(ctx, result.actions)
    except (K8sError, ClusterError, ValueError) as error:
        result.status = Status.FAILED
        result.reason = f"could not run: {error}"
    finally:
        with contextlib.suppress(K8sError):
            await _remove(ctx, applied, result.log)
        result.seconds = time.monotonic() - started
    return result


async def run_checks(
    ctx: RunContext, checks: Sequence[Check], progress: Progress = _quiet
) -> list[CheckResult]:
    """Checks without policies concurrently; policy checks in catalogue order, one at a time."""
    available = features(ctx)
    done: dict[str, CheckResult] = {}

    async def one(check: Check) -> None:
        result = await run_check(ctx, check, available)
        done[check.name] = result
        progress(
            f"{result.status.value:<7} {check.name} ({result.outcome}, {result.seconds:.1f} s)"
        )

    async def in_order(chain: Sequence[Check]) -> None:
        for check in chain:
            await one(check)

    await asyncio.gather(
        *(one(c) for c in checks if c.policies is None and not c.alone),
        in_order([c for c in checks if c.policies is not None and not c.alone]),
    )
    await in_order([c for c in checks if c.alone])
    return [done[c.name] for c in checks]


# --- setup and cleanup --------------------------------------------------------------------------


async def _wait_pods(ctx: RunContext, namespace: str, expected: set[str], seconds: float) -> None:
    def until(pods: Mapping[str, Obj]) -> bool:
        for pod in pods.values():
            problem = workload.pod_problem(pod)
            if problem is not None:
                raise SetupError(problem)
        ctx.pods.update(pods)
        return expected <= set(pods) and all(workload.pod_started(pods[k]) for k in expected)

    try:
        await wait_for(
            ctx.client, "v1", "Pod", namespace=namespace, label_selector=ctx.selector,
            until=until, timeout=seconds,
        )  # fmt: skip
    except TimeoutError:
        late = sorted(k for k in expected if not workload.pod_started(ctx.pods.get(k, {})))
        phases = [f"{k} ({(ctx.pods.get(k, {}).get('status') or {}).get('phase', 'absent')})"
                  for k in late]  # fmt: skip
        raise SetupError(f"pods did not start within {seconds:g} s: {', '.join(phases)}") from None


async def _wait_endpoint(ctx: RunContext, seconds: float) -> None:
    """Until the Service's EndpointSlice lists the server as ready (proxies program from it)."""
    server_ip = ctx.pod_ip(workload.server(ctx))

    def until(slices: Mapping[str, Obj]) -> bool:
        for piece in slices.values():
            for endpoint in piece.get("endpoints") or []:
                ready = (endpoint.get("conditions") or {}).get("ready") is not False
                if ready and server_ip in (endpoint.get("addresses") or []):
                    return True
        return False

    try:
        await wait_for(
            ctx.client, "discovery.k8s.io/v1", "EndpointSlice", namespace=ctx.namespace,
            label_selector=f"kubernetes.io/service-name={SERVICE}", until=until, timeout=seconds,
        )  # fmt: skip
    except TimeoutError:
        raise SetupError(
            f"the Service {SERVICE} has no ready endpoint for the server after {seconds:g} s"
        ) from None


async def setup(ctx: RunContext, progress: Progress = _quiet) -> None:
    """Create the namespaces and every object at once, and wait until they are up."""
    placement = ctx.placement
    assert placement is not None
    for body in workload.namespace_objects(ctx):
        try:
            await ctx.client.create(body)
        except AlreadyExists:
            raise SetupError(f"namespace {body['metadata']['name']} exists already") from None
    objects = workload.run_objects(ctx, placement)
    pods = workload.expected_pods(ctx, placement)
    progress(
        f"creating {len(pods)} pods and a Service in {ctx.namespace} and {ctx.policy_namespace}"
        f" (server on {placement.server}, client on {placement.client}"
        + (f", negative on {placement.no_sctp})" if placement.no_sctp else ")")
    )
    created = await asyncio.gather(*(ctx.client.create(body) for body in objects))
    ctx.service = next(o for o in created if o.get("kind") == "Service")
    deadline = ctx.options.setup_timeout
    await asyncio.gather(
        *(
            _wait_pods(ctx, namespace, {p for p in pods if p.startswith(namespace + "/")}, deadline)
            for namespace in ctx.namespaces
        )
    )
    await _wait_endpoint(ctx, deadline)


async def cleanup(
    client: Client,
    selector: str,
    *,
    timeout: float = CLEANUP_TIMEOUT,  # noqa: ASYNC109
) -> int:
    """Delete the namespaces ``selector`` matches (everything in them goes with them) and wait
    until they are gone; the number deleted. Namespaces are deleted one by one: the API has no
    collection delete for them."""
    listed = await client.list("v1", "Namespace", label_selector=selector)
    for namespace in listed.items:
        with contextlib.suppress(NotFound):
            await client.delete("v1", "Namespace", namespace["metadata"]["name"])
    if listed.items:
        await wait_gone(client, "v1", "Namespace", label_selector=selector, timeout=timeout)
    return len(listed.items)


# --- the whole run ------------------------------------------------------------------------------


async def _work(
    ctx: RunContext,
    report: Report,
    checks: Sequence[Check],
    read_modules: nodes.ModuleReader,
    progress: Progress,
    created: list[bool],
) -> None:
    if any(check.deploys for check in checks):
        await check_access(ctx.client, NEEDED)
    ctx.nodes = report.nodes = await nodes.discover(ctx.client)
    ctx.selected = report.selected = nodes.select(ctx.nodes, ctx.options.nodes)
    ready = [n.name for n in ctx.nodes if n.ready]
    progress(f"reading the sctp module state of {len(ready)} nodes")
    ctx.modules = dict(await read_modules(ctx.client, ready))
    for name in ctx.selected:
        ctx.modules.setdefault(name, NodeModule("unknown", "the node is not Ready"))
    report.modules = dict(ctx.modules)
    ctx.placement = report.placement = nodes.place(ctx.nodes, ctx.selected, ctx.modules)
    available = features(ctx)
    if any(not c.requires - available and c.deploys for c in checks):
        created[0] = True
        await setup(ctx, progress)
    report.results = await run_checks(ctx, checks, progress)


async def run_verify(
    client: Client,
    options: Options,
    checks: Sequence[Check],
    *,
    read_modules: nodes.ModuleReader,
    stop: asyncio.Event | None = None,
    progress: Progress = _quiet,
    run_id: str | None = None,
) -> Report:
    """Run ``checks`` and clean up; a set ``stop`` event ends the checks early (the report is
    then marked interrupted). Environment problems (no cluster, no permission, objects that do
    not come up) are raised, after cleanup."""
    ctx = RunContext(
        client, run_id or new_run_id(), options, semaphore=asyncio.Semaphore(options.concurrency)
    )
    report = Report(ctx.run_id, ctx.namespaces, started=datetime.now(UTC).isoformat())
    started = time.monotonic()
    created = [False]
    work = asyncio.ensure_future(_work(ctx, report, checks, read_modules, progress, created))
    stopped = asyncio.ensure_future((stop or asyncio.Event()).wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            report.interrupted = True
            progress("stopping")
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
        else:
            work.result()
    finally:
        stopped.cancel()
        if not work.done():
            work.cancel()
        report.seconds = time.monotonic() - started
        if created[0] and options.keep:
            report.kept = True
            progress(f"keeping the run's objects: namespaces {', '.join(ctx.namespaces)}")
        elif created[0]:
            progress(f"cleaning up: deleting namespaces {', '.join(ctx.namespaces)}")
            try:
                await cleanup(client, f"{LABEL}={ctx.run_id}")
            except (K8sError, TimeoutError) as error:
                report.cleanup_error = f"cleanup failed: {error or 'timed out'}"
    return report
