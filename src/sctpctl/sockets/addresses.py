"""Host and port arguments: ``HOST:PORT``, ``[V6]:PORT``, ``PORT``, and name resolution."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

__all__ = ["parse_endpoint", "parse_port", "resolve"]


def parse_port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        raise ValueError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not in 1-65535")
    return port


def parse_endpoint(text: str, *, host_required: bool) -> tuple[str | None, int]:
    """``HOST:PORT`` (``[2001:db8::1]:5000`` for IPv6) or, unless ``host_required``, ``PORT``."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{text!r}: write an IPv6 address as [ADDRESS]:PORT")
        return host, parse_port(rest[1:])
    host_part, sep, port_part = text.rpartition(":")
    if not sep:
        if host_required:
            raise ValueError(f"{text!r}: expected HOST:PORT")
        return None, parse_port(text)
    if ":" in host_part:
        raise ValueError(f"{text!r}: write an IPv6 address as [ADDRESS]:PORT")
    if not host_part:
        raise ValueError(f"{text!r}: the host is empty")
    return host_part, parse_port(port_part)


async def resolve(host: str) -> str:
    """An IP address for ``host`` (literals as they are; names through the resolver, IPv4
    first)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise ValueError(f"cannot resolve {host!r}: {error.strerror}") from error
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])
