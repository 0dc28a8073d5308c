"""Shared pieces of the sockets tests: loopback UDP ports and in-process stacks."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from sctpctl.sockets.inprocess import InProcessStack


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def udp_pair() -> AsyncIterator[tuple[InProcessStack, InProcessStack]]:
    """A server and a client stack over UDP encapsulation on 127.0.0.1, on free ports."""
    server = InProcessStack.open("udp", udp_port=0, udp_host="127.0.0.1")
    client = InProcessStack.open(
        "udp", udp_port=0, udp_host="127.0.0.1", udp_peer_port=server.udp_port
    )
    try:
        yield server, client
    finally:
        await client.close()
        await server.close()
