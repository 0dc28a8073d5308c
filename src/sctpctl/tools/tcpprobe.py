"""``sctpctl probe --tcp``: the same scan over TCP, for policies that must isolate TCP.

An SCTP-only NetworkPolicy must still isolate the pods it selects for TCP (the upstream e2e test
"should properly isolate pods that are selected by a policy allowing SCTP"). Proving that needs a
TCP probe with the same outcome words, and no listener: a port that nobody listens on answers a
SYN with RST when the packet gets there.

- ``open``: the handshake completed (SYN-ACK); the connection is closed at once;
- ``closed``: RST (connection refused): the packet reached the host, nobody listens;
- ``filtered``: no answer before the deadline (dropped);
- ``rejected``: an ICMP unreachable (host or network unreachable, administratively prohibited).

The kernel's TCP does the work; no SCTP is needed on this host.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Sequence

from sctpctl.outcomes import Outcome
from sctpctl.sockets import ProbeResult

__all__ = ["probe_tcp"]

_REJECTED = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.EHOSTDOWN}
)


async def _one(host: str, port: int, wait: float) -> ProbeResult:
    try:
        async with asyncio.timeout(wait):
            _reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return ProbeResult(host, port, Outcome.FILTERED, f"no answer within {wait:g} s")
    except ConnectionRefusedError:
        return ProbeResult(host, port, Outcome.CLOSED, "RST: nothing listens on that port")
    except OSError as error:
        if error.errno in _REJECTED:
            return ProbeResult(host, port, Outcome.REJECTED, f"ICMP unreachable: {error.strerror}")
        return ProbeResult(host, port, Outcome.REJECTED, str(error))
    writer.close()
    with contextlib.suppress(OSError):  # a peer that resets at once still sent SYN-ACK
        await writer.wait_closed()
    return ProbeResult(host, port, Outcome.OPEN, "SYN-ACK")


async def probe_tcp(
    targets: Sequence[tuple[str, int]], *, wait: float, concurrency: int
) -> list[ProbeResult]:
    """Every target, ``concurrency`` at a time, in the order given."""
    gate = asyncio.Semaphore(concurrency)

    async def limited(host: str, port: int) -> ProbeResult:
        async with gate:
            return await _one(host, port, wait)

    return list(await asyncio.gather(*(limited(h, p) for h, p in targets)))
