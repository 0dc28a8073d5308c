"""Where SCTP comes from (DESIGN.md section 3): the kernel, else the host stack service of this
network namespace, else an error. The in-process stack only when asked for, since two stacks in
one namespace ABORT each other's associations."""

from __future__ import annotations

from typing import Literal

from .api import NoSctpError, SctpStack
from .inprocess import InProcessStack
from .kernel import KernelStack, kernel_sctp_available
from .links import DEFAULT_UDP_PORT
from .stackclient import HostStack

__all__ = ["Userspace", "open_stack"]

Userspace = Literal["raw", "udp"]


async def open_stack(
    userspace: Userspace | None = None,
    *,
    udp_port: int = DEFAULT_UDP_PORT,
    udp_peer_port: int = DEFAULT_UDP_PORT,
) -> SctpStack:
    """The stack to use. ``userspace`` asks for the in-process stack over raw IP or UDP
    (``LinkError`` when its sockets cannot be opened); otherwise the kernel, then the host stack
    service, then ``NoSctpError``."""
    if userspace is not None:
        return InProcessStack.open(userspace, udp_port=udp_port, udp_peer_port=udp_peer_port)
    if kernel_sctp_available():
        return KernelStack()
    stack = await HostStack.find()
    if stack is not None:
        return stack
    raise NoSctpError()
