"""INIT probes over a driver's link, as ``nmap -sY`` does (sctp-on-clusters.md section 4.1).

Each probe sends a bare INIT from its own local port with its own Initiate Tag and classifies
what comes back: INIT-ACK is *open* (answered with an ABORT at once, so the target keeps nothing
and no association is ever completed), ABORT is *closed*, ICMP protocol-unreachable is
*no-sctp-on-target*, any other ICMP unreachable is *rejected*, and silence until the deadline is
*filtered*. The INIT is sent again every third of the wait, so one lost packet does not make
an open port look filtered.

The prober is a packet tap of the driver: it sees packets before the endpoint, and takes only
the answers to its own probes (ports, address and tag all match).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from sctpctl.outcomes import Outcome
from sctpctl.sctp import Address, IcmpError, ProbeAnswer, abort_for, classify_reply, probe_init
from sctpctl.sctp.chunks import COMMON_HEADER

from .api import ProbeResult
from .driver import EndpointDriver
from .links import IcmpReport

__all__ = ["Prober"]

_U32 = struct.Struct("!I")
_EPHEMERAL_FIRST = 49152
_EPHEMERAL_COUNT = 65536 - _EPHEMERAL_FIRST
_ICMP_OUTCOMES: dict[IcmpError, Outcome] = {
    IcmpError.PROTOCOL_UNREACHABLE: Outcome.NO_SCTP_ON_TARGET,
    IcmpError.PORT_UNREACHABLE: Outcome.REJECTED,
    IcmpError.ADMIN_PROHIBITED: Outcome.REJECTED,
    IcmpError.HOST_UNREACHABLE: Outcome.REJECTED,
}


@dataclass(eq=False)
class _Probe:
    host: str
    port: int
    local_port: int
    tag: int
    destination: Address
    packet: bytes
    done: asyncio.Future[tuple[Outcome, str]]
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class Prober:
    """Runs INIT probes over ``driver``'s link; the remote UDP port applies to UDP links."""

    def __init__(self, driver: EndpointDriver, *, udp_peer_port: int = 0) -> None:
        self.driver = driver
        self.udp_peer_port = udp_peer_port if driver.link.encapsulated else 0
        self._probes: dict[tuple[int, int, str], _Probe] = {}
        self._tapped = False

    async def probe_many(
        self, targets: Iterable[tuple[str, int]], *, wait: float, concurrency: int
    ) -> AsyncIterator[ProbeResult]:
        """Probe every target with at most ``concurrency`` in flight; results as they finish."""
        semaphore = asyncio.Semaphore(max(1, concurrency))
        done: asyncio.Queue[ProbeResult] = asyncio.Queue()

        async def one(host: str, port: int) -> None:
            async with semaphore:
                await done.put(await self.probe(host, port, wait=wait))

        tasks = [asyncio.ensure_future(one(host, port)) for host, port in targets]
        try:
            for _ in range(len(tasks)):
                yield await done.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def probe(self, host: str, port: int, *, wait: float) -> ProbeResult:
        loop = asyncio.get_running_loop()
        config = self.driver.endpoint.config
        destination = Address(host, self.udp_peer_port)
        local_port = self._free_port(port, host)
        tag = config.random_u32(nonzero=True)
        probe = _Probe(
            host,
            port,
            local_port,
            tag,
            destination,
            probe_init(config, source_port=local_port, destination_port=port, initiate_tag=tag),
            loop.create_future(),
        )
        key = (local_port, port, host)
        self._probes[key] = probe
        if not self._tapped:
            self.driver.add_tap(self)
            self._tapped = True
        try:
            self._send(probe)
            for i in (1, 2):
                probe.timers.append(loop.call_later(wait * i / 3, self._send, probe))
            probe.timers.append(
                loop.call_later(wait, self._finish, probe, Outcome.FILTERED, "no answer")
            )
            outcome, detail = await probe.done
        finally:
            for timer in probe.timers:
                timer.cancel()
            self._probes.pop(key, None)
            if not self._probes and self._tapped:
                self.driver.remove_tap(self)
                self._tapped = False
        return ProbeResult(host, port, outcome, detail)

    def _free_port(self, port: int, host: str) -> int:
        random_bytes = self.driver.endpoint.config.random_bytes
        start = int.from_bytes(random_bytes(2), "big")
        for i in range(_EPHEMERAL_COUNT):
            candidate = _EPHEMERAL_FIRST + (start + i) % _EPHEMERAL_COUNT
            if (candidate, port, host) not in self._probes:
                return candidate
        raise RuntimeError("no free local port for a probe")

    def _send(self, probe: _Probe) -> None:
        if probe.done.done():
            return
        report = self.driver.link.send(probe.packet, probe.destination)
        if report is not None:
            self.offer_icmp(report)

    def _finish(self, probe: _Probe, outcome: Outcome, detail: str) -> None:
        if not probe.done.done():
            probe.done.set_result((outcome, detail))

    # --- the tap --------------------------------------------------------------------------------

    def offer_packet(self, data: bytes, source: Address) -> bool:
        if len(data) < 12:
            return False
        src_port, dst_port, _tag = COMMON_HEADER.unpack_from(data)
        probe = self._probes.get((dst_port, src_port, source.host))
        if probe is None:
            return False
        reply = classify_reply(data, initiate_tag=probe.tag)
        if reply is None:
            return False
        if reply.answer is ProbeAnswer.INIT_ACK:
            # Tear the half-open state down at once: the target keeps no association.
            self.driver.link.send(abort_for(reply), Address(source.host, source.udp_port))
            self._finish(probe, Outcome.OPEN, "INIT-ACK")
        else:
            self._finish(probe, Outcome.CLOSED, "ABORT")
        return True

    def offer_icmp(self, report: IcmpReport) -> bool:
        if len(report.quoted) < 12:
            return False
        src_port, dst_port, _tag = COMMON_HEADER.unpack_from(report.quoted)
        probe = self._probes.get((src_port, dst_port, report.destination.host))
        if probe is None:
            return False
        if len(report.quoted) >= 20 and _U32.unpack_from(report.quoted, 16)[0] != probe.tag:
            return False  # the quoted INIT is not this probe's (RFC 9260 appendix C)
        outcome = _ICMP_OUTCOMES.get(report.kind)
        if outcome is None:
            return True  # fragmentation needed for a bare INIT: ignore, it will be resent
        self._finish(probe, outcome, f"ICMP {report.kind.value}")
        return True
