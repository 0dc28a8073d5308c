"""Probes run inside the run's pods, through the Kubernetes exec API, read by their exit code.

Every probe is one of sctpctl's own tools (``sctpctl connect``, ``sctpctl probe``,
``sctpctl perf``) run with ``-o json`` in a pod's container. The exit code is the contract
(DESIGN.md section 4: 0 open, 10 closed, 11 filtered, ...), as curl's exit codes are for cilium's
connectivity test; the JSON output adds the evidence. An exec that fails in transport (the API
server or the kubelet dropped it), or a tool that printed something other than its JSON, is
*inconclusive*: the runner tries it again, and reports it as a failed check only if it stays so.

INIT probes from the same pod are batched: one ``sctpctl probe HOSTS -p PORTS`` per pod and
protocol, whose per-target outcomes are handed back to each action.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sctpctl.k8s.client import ExecResult
from sctpctl.k8s.errors import K8sError
from sctpctl.outcomes import ExitCode, Outcome
from sctpctl.verify.context import PodRef, RunContext, host_port
from sctpctl.verify.model import CHECK_FAILED, Observation

EXEC_SLACK = 20.0
"Seconds an exec may take beyond the tool's own deadline (process start, API round trips)."


async def run_tool(
    ctx: RunContext,
    pod: PodRef,
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    deadline: float,
) -> ExecResult | str:
    """``sctpctl ARGV`` in a pod; the exec's result, or why the exec itself failed."""
    command = ["sctpctl", *argv]
    async with ctx.semaphore:
        try:
            return await ctx.client.exec(
                pod.namespace,
                pod.name,
                command,
                container=pod.container,
                stdin=stdin,
                timeout=deadline + EXEC_SLACK,
            )
        except K8sError as error:
            return f"exec in {pod} failed: {error}"


def parse_json(stdout: bytes) -> Any:
    try:
        return json.loads(stdout.decode("utf-8", "replace"))
    except ValueError:
        return None


def stderr_line(result: ExecResult) -> str:
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1].removeprefix("error: ") if lines else ""


def unexpected(result: ExecResult) -> Observation:
    """A tool exit that is not an outcome: the command could not run as one of ours."""
    if result.exit_code in (126, 127):
        why = "sctpctl is not in the pod's image (exit {}): pass --image with sctpctl in it"
    else:
        why = "the probe exited {} without a result"
    detail = why.format(result.exit_code)
    line = stderr_line(result)
    return Observation(CHECK_FAILED, f"{detail}: {line}" if line else detail, result.exit_code)


async def connect(
    ctx: RunContext,
    pod: PodRef,
    host: str,
    port: int,
    *,
    payload: bytes,
    stream: int = 0,
    ppid: int = 0,
    unordered: bool = False,
    size: int | None = None,
) -> Observation:
    """``sctpctl connect HOST:PORT --expect-echo -o json`` with ``payload`` on stdin: ``open``
    only when the association came up and the echo came back intact."""
    timeout = ctx.options.probe_timeout
    argv = [
        "connect", host_port(host, port), "--expect-echo", "-o", "json",
        "--timeout", f"{timeout:g}", "--wait", f"{max(5.0, timeout):g}",
        "--streams", str(max(10, stream + 1)),
    ]  # fmt: skip
    if stream:
        argv += ["--stream", str(stream)]
    if ppid:
        argv += ["--ppid", str(ppid)]
    if unordered:
        argv.append("--unordered")
    if size is not None:
        argv += ["--size", str(size)]
    started = time.monotonic()
    result = await run_tool(ctx, pod, argv, stdin=payload, deadline=2 * timeout + 10)
    seconds = time.monotonic() - started
    if isinstance(result, str):
        return Observation(CHECK_FAILED, result, seconds=seconds)
    data = parse_json(result.stdout)
    outcome = Outcome.from_exit_code(result.exit_code)
    if outcome is None or not isinstance(data, dict) or "outcome" not in data:
        if outcome is Outcome.NO_SCTP_LOCAL:  # no document: the tool could not start SCTP
            return Observation(outcome.value, stderr_line(result), result.exit_code)
        return unexpected(result)
    detail = str(data.get("detail") or "")
    return Observation(outcome.value, detail, result.exit_code, data, seconds=seconds)


async def probe_batch(
    ctx: RunContext, pod: PodRef, protocol: str, targets: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], Observation]:
    """One ``sctpctl probe`` (``--tcp`` for TCP) from ``pod`` over every host and port given."""
    hosts = list(dict.fromkeys(h for h, _ in targets))
    ports = list(dict.fromkeys(p for _, p in targets))
    timeout = ctx.options.probe_timeout
    argv = ["probe", ",".join(hosts), "-p", ",".join(str(p) for p in ports)]
    argv += ["--timeout", f"{timeout:g}", "-o", "json"]
    if protocol == "TCP":
        argv.append("--tcp")
    started = time.monotonic()
    result = await run_tool(ctx, pod, argv, deadline=timeout + 5)
    seconds = time.monotonic() - started

    def every(observation: Observation) -> dict[tuple[str, int], Observation]:
        return {target: observation for target in targets}

    if isinstance(result, str):
        return every(Observation(CHECK_FAILED, result, seconds=seconds))
    data = parse_json(result.stdout)
    if result.exit_code == ExitCode.NO_SCTP_LOCAL:
        line = stderr_line(result) or Outcome.NO_SCTP_LOCAL.explanation
        return every(Observation(Outcome.NO_SCTP_LOCAL.value, line, result.exit_code))
    if not isinstance(data, list):
        return every(unexpected(result))
    found: dict[tuple[str, int], Observation] = {}
    for row in data:
        try:
            key = (str(row["host"]), int(row["port"]))
            outcome = Outcome(row["outcome"])
        except (KeyError, TypeError, ValueError):
            continue
        detail = str(row.get("evidence") or row.get("detail") or "")
        code = int(outcome.exit_code)
        found[key] = Observation(outcome.value, detail, code, row, seconds=seconds)
    missing = Observation(CHECK_FAILED, "the probe's output has no result for this target")
    return {target: found.get(target, missing) for target in targets}
