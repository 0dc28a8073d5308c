"""Scenarios: from the run's live state to the actions of one check.

Each function here is a :data:`~sctpctl.verify.model.Scenario`: it runs once the run's pods are
up, reads the addresses it needs from the context, and returns actions. Nothing is sent here;
the runner performs the actions.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sctpctl.k8s.errors import K8sError
from sctpctl.netpol import evaluate
from sctpctl.outcomes import Outcome
from sctpctl.verify import probes, workload
from sctpctl.verify.context import NodeModule, PodRef, RunContext, host_port
from sctpctl.verify.expectations import expectation, live_cluster, traffic
from sctpctl.verify.model import (
    CHECK_FAILED,
    EXPECT_NO_SCTP_LOCAL,
    EXPECT_NO_SCTP_ON_TARGET,
    EXPECT_OPEN,
    Action,
    Expectation,
    InitProbe,
    Observation,
    Scenario,
)

EXPECT_LOADED = Expectation.of("loaded", "loaded")
LISTENING = "listening"
"The negative check's word for a listener that is still running: the node has SCTP after all."
LISTENER_GRACE = 5.0
"Seconds a listener must keep running before it counts as listening rather than starting."


def _arrow(
    ctx: RunContext, source: PodRef, target: PodRef | str, host: str, port: int, protocol: str = ""
) -> str:
    suffix = f"/{protocol.lower()}" if protocol else ""
    return f"{ctx.short(source)} -> {ctx.short(target)} ({host_port(host, port)}{suffix})"


# --- nodes ----------------------------------------------------------------------------------------


async def module_state(ctx: RunContext) -> Sequence[Action]:
    """The module state of every selected node, as ``sctpctl status`` reads it."""

    def read(node: str) -> Action:
        async def perform(ctx: RunContext) -> Observation:
            module = ctx.modules.get(node, NodeModule("unknown", "the node was not checked"))
            return Observation(module.state, module.detail)

        return Action(f"node {node}: sctp module", EXPECT_LOADED, perform=perform, source=node)

    return [read(node) for node in ctx.selected]


async def negative(ctx: RunContext) -> Sequence[Action]:
    """On a node without SCTP the procedure's server must fail to listen (no-sctp-local), and an
    INIT to that pod must come back as ICMP protocol-unreachable (no-sctp-on-target)."""
    placement = ctx.placement
    assert placement is not None and placement.no_sctp is not None
    node = placement.no_sctp
    pod = workload.no_sctp_server(ctx)
    ip = ctx.pod_ip(pod)
    port = ctx.options.port

    async def listener_exit(ctx: RunContext) -> Observation:
        return await _listener_exit(ctx, pod)

    actions = [
        Action(
            f"{ctx.short(pod)}: sctpctl listen {port} on {node}",
            EXPECT_NO_SCTP_LOCAL,
            perform=listener_exit,
            source=str(pod),
            target=pod,
            port=port,
        )
    ]
    source = workload.client(ctx)
    client_node = ctx.modules.get(placement.client)
    if ip is not None and client_node is not None and client_node.has_sctp:
        # The INIT must come from a pod that has SCTP itself (the cross-node client's node).
        actions.append(
            Action(
                _arrow(ctx, source, pod, ip, port),
                EXPECT_NO_SCTP_ON_TARGET,
                probe=InitProbe(source, ip, port),
                source=str(source),
                target=pod,
                port=port,
            )
        )
    return actions


async def _listener_exit(ctx: RunContext, pod: PodRef) -> Observation:
    """The listener container's exit code as an outcome word (its contract, as for probes)."""
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        try:
            current = await ctx.client.get("v1", "Pod", pod.name, namespace=pod.namespace)
        except K8sError as error:
            return Observation(CHECK_FAILED, f"cannot read pod {pod}: {error}")
        state = workload.container_state(current, workload.LISTENER)
        terminated = state.get("terminated")
        if terminated:
            code = int(terminated.get("exitCode", -1))
            outcome = Outcome.from_exit_code(code)
            word = outcome.value if outcome is not None else f"exit {code}"
            reason = terminated.get("message") or terminated.get("reason") or ""
            return Observation(word, f"the listener exited {code} {reason}".strip(), code)
        running = state.get("running")
        if running and waited > LISTENER_GRACE:
            return Observation(
                LISTENING,
                f"the listener has been running for {LISTENER_GRACE:g} s: this node has SCTP",
            )
        if waited > ctx.options.setup_timeout:
            return Observation(CHECK_FAILED, "the listener container never started")
        await asyncio.sleep(0.5)


# --- the procedure's objects -------------------------------------------------------------------


def _payload(size: int) -> bytes:
    return os.urandom(size)


def _connect_action(
    ctx: RunContext,
    source: PodRef,
    target_name: PodRef | str,
    host: str | None,
    port: int | None,
) -> list[Action]:
    if host is None or port is None:
        return []
    server = workload.server(ctx)

    async def perform(ctx: RunContext) -> Observation:
        return await probes.connect(ctx, source, host, port, payload=b"sctpctl verify\n")

    return [
        Action(
            _arrow(ctx, source, target_name, host, port),
            EXPECT_OPEN,
            perform=perform,
            source=str(source),
            target=server,
            port=ctx.options.port,
        )
    ]


async def pod_to_pod_same_node(ctx: RunContext) -> Sequence[Action]:
    server = workload.server(ctx)
    return _connect_action(
        ctx, workload.local_client(ctx), server, ctx.pod_ip(server), ctx.options.port
    )


async def pod_to_pod_cross_node(ctx: RunContext) -> Sequence[Action]:
    server = workload.server(ctx)
    return _connect_action(ctx, workload.client(ctx), server, ctx.pod_ip(server), ctx.options.port)


async def pod_to_cluster_ip(ctx: RunContext) -> Sequence[Action]:
    service = "service sctpservice"
    return _connect_action(ctx, workload.client(ctx), service, ctx.cluster_ip, ctx.options.port)


def _node_addresses(ctx: RunContext) -> list[tuple[str, str]]:
    return [(node.name, address) for node in ctx.nodes for address in node.addresses]


async def pod_to_node_port(ctx: RunContext) -> Sequence[Action]:
    """An INIT to the NodePort on every address of every node (kube-proxy never opens a socket
    for SCTP NodePorts: the rules must forward it, also on nodes without SCTP)."""
    source, port = workload.client(ctx), ctx.node_port
    if port is None:
        return []
    return [
        Action(
            _arrow(ctx, source, f"node {node}", address, port),
            EXPECT_OPEN,
            probe=InitProbe(source, address, port),
            source=str(source),
            target=workload.server(ctx),
            port=ctx.options.port,
        )
        for node, address in _node_addresses(ctx)
    ]


async def host_to_node_port(ctx: RunContext) -> Sequence[Action]:
    """From the host network of the client's node to the NodePort on its own address and on
    the server's node."""
    source, port = workload.host_client(ctx), ctx.node_port
    placement = ctx.placement
    if port is None or placement is None:
        return []
    actions: list[Action] = []
    for name in dict.fromkeys((placement.client, placement.server)):
        node = ctx.node(name)
        if node is not None and node.internal_ip is not None:
            actions += _connect_action(ctx, source, f"node {name}", node.internal_ip, port)
    return actions


async def hairpin(ctx: RunContext) -> Sequence[Action]:
    """The server to its own Service: the proxy must send it back to the pod it came from."""
    service = "service sctpservice"
    return _connect_action(ctx, workload.server(ctx), service, ctx.cluster_ip, ctx.options.port)


# --- message semantics -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageCase:
    stream: int
    ppid: int
    unordered: bool
    size: int
    count: int

    def describe(self) -> str:
        order = "unordered" if self.unordered else "ordered"
        size = f"{self.size // 1024} KiB" if self.size >= 1024 else f"{self.size} B"
        return f"{self.count} x {size}, stream {self.stream}, PPID {self.ppid}, {order}"


MESSAGE_CASES = (
    MessageCase(stream=0, ppid=0, unordered=False, size=100, count=10),
    MessageCase(stream=3, ppid=60, unordered=True, size=64 * 1024, count=2),
    MessageCase(stream=7, ppid=46, unordered=False, size=64 * 1024, count=2),
)
"""Small ordered messages; 64 KiB unordered on stream 3 with NGAP's PPID (60, the 5G N2
interface); 64 KiB ordered on stream 7 with Diameter's PPID (46). 64 KiB is more than a path
MTU, so each message crosses the network in fragments and must come back whole."""


def check_messages(case: MessageCase, data: object) -> str | None:
    """What differs between the messages sent and the echo that came back, or ``None``."""
    if not isinstance(data, dict):
        return "no result document"
    messages = data.get("messages")
    if not isinstance(messages, list):
        return "the result lists no messages"
    if len(messages) != case.count:
        return f"{len(messages)} messages came back, {case.count} were sent"
    for number, message in enumerate(messages, start=1):
        wanted = {"stream": case.stream, "ppid": case.ppid, "unordered": case.unordered}
        wanted["bytes"] = case.size
        for key, value in wanted.items():
            if not isinstance(message, dict) or message.get(key) != value:
                got = message.get(key) if isinstance(message, dict) else None
                return f"message {number} came back with {key} {got!r}, not {value!r}"
    return None


async def messages(ctx: RunContext) -> Sequence[Action]:
    server = workload.server(ctx)
    host = ctx.pod_ip(server)
    port = ctx.options.port
    source = workload.client(ctx)
    if host is None:
        return []

    def action(case: MessageCase) -> Action:
        async def perform(ctx: RunContext) -> Observation:
            observed = await probes.connect(
                ctx,
                source,
                host,
                port,
                payload=_payload(case.size * case.count),
                stream=case.stream,
                ppid=case.ppid,
                unordered=case.unordered,
                size=case.size,
            )
            if observed.word != Outcome.OPEN.value:
                return observed
            problem = check_messages(case, observed.data)
            if problem is None:
                return observed
            return Observation(
                Outcome.MISMATCH.value, problem, observed.exit_code, observed.data,
                seconds=observed.seconds,
            )  # fmt: skip

        return Action(
            f"{_arrow(ctx, source, server, host, port)}: {case.describe()}",
            EXPECT_OPEN,
            perform=perform,
            source=str(source),
            target=server,
            port=port,
        )

    return [action(case) for case in MESSAGE_CASES]


# --- NetworkPolicy -----------------------------------------------------------------------------

SCTP_PORTS = ((80, "SCTP"), (81, "SCTP"))
WITH_TCP = (*SCTP_PORTS, (81, "TCP"))


def policy_matrix(ports: Sequence[tuple[int, str]]) -> Scenario:
    """Every policy source to ``web`` on each port; what each cell must find comes from the
    engine evaluated on the live objects (the policies are in place by now)."""

    async def scenario(ctx: RunContext) -> Sequence[Action]:
        cluster = await live_cluster(ctx)
        target = workload.web(ctx)
        host = ctx.pod_ip(target)
        if host is None:
            return []
        actions = []
        for source in workload.policy_sources(ctx):
            for port, protocol in ports:
                verdict = evaluate(cluster, traffic(cluster, source, target, port, protocol))
                actions.append(
                    Action(
                        _arrow(ctx, source, target, host, port, protocol),
                        expectation(verdict.allowed, protocol),
                        probe=InitProbe(source, host, port, protocol),
                        source=str(source),
                        target=target,
                        port=port,
                        protocol=protocol,
                        cell=(ctx.short(source), ctx.short(target)),
                    )
                )
        return actions

    return scenario
