"""``sctpctl probe``: INIT-scan host:port pairs and classify each one (as ``nmap -sY`` does).

open (INIT-ACK, answered with ABORT: no association is ever completed), closed (ABORT), filtered
(silence until the deadline), rejected (ICMP unreachable), no-sctp-on-target (ICMP protocol
unreachable). Many probes are in flight at once; results come back in the order asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sctpctl.outcomes import ExitCode, Outcome
from sctpctl.sockets import ProbeResult, SctpStack

__all__ = ["ProbeOptions", "exit_code", "parse_hosts", "parse_ports", "run_probe"]

MAX_TARGETS = 1 << 20


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    hosts: tuple[str, ...]
    ports: tuple[int, ...]
    wait: float = 3.0
    "Seconds each probe waits for an answer (the INIT is sent three times meanwhile)."
    concurrency: int = 256

    @property
    def targets(self) -> list[tuple[str, int]]:
        return [(host, port) for host in self.hosts for port in self.ports]


def parse_ports(text: str) -> tuple[int, ...]:
    """``7000``, ``7000,7001``, ``7000-7010`` and mixes of them, in the order given, once each."""
    ports: dict[int, None] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"{text!r}: an empty port in the list")
        first, sep, last = part.partition("-")
        try:
            low = int(first, 10)
            high = int(last, 10) if sep else low
        except ValueError:
            raise ValueError(f"{part!r} is not a port or a port range") from None
        if not 0 < low <= high < 65536:
            raise ValueError(f"{part!r} is not within 1-65535 (low-high)")
        for port in range(low, high + 1):
            ports[port] = None
    return tuple(ports)


def parse_hosts(text: str) -> tuple[str, ...]:
    hosts = tuple(dict.fromkeys(h.strip() for h in text.split(",")))
    if not hosts or any(not h for h in hosts):
        raise ValueError(f"{text!r}: an empty host in the list")
    return hosts


async def run_probe(stack: SctpStack, options: ProbeOptions) -> list[ProbeResult]:
    targets = options.targets
    if len(targets) > MAX_TARGETS:
        raise ValueError(f"{len(targets)} targets is more than {MAX_TARGETS}")
    order = {target: index for index, target in enumerate(targets)}
    results = [
        result
        async for result in stack.probe(targets, wait=options.wait, concurrency=options.concurrency)
    ]
    results.sort(key=lambda r: order.get((r.host, r.port), len(order)))
    return results


def exit_code(results: list[ProbeResult]) -> int:
    """The outcome's exit code when every target had the same outcome, else 1."""
    outcomes = {result.outcome for result in results}
    if len(outcomes) == 1:
        return outcomes.pop().exit_code
    return ExitCode.FAILED if outcomes else ExitCode.OK


def summary(results: list[ProbeResult]) -> dict[str, int]:
    counts = {outcome.value: 0 for outcome in Outcome}
    for result in results:
        counts[result.outcome.value] += 1
    return {word: count for word, count in counts.items() if count}
