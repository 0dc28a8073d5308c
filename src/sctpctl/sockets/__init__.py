"""One asyncio API for SCTP applications over three backends: kernel, host stack, in-process.

``open_stack()`` picks the backend as DESIGN.md section 3 says (kernel, then the host stack
service of this network namespace, else ``NoSctpError``; the in-process stack over raw IP or UDP
only when asked for). A stack connects, listens and probes; associations send and receive
messages with their stream, PPID and unordered flag. See docs/sockets.md.
"""

from .api import (
    ConnectError,
    Message,
    NoSctpError,
    ProbeResult,
    SctpAssociation,
    SctpError,
    SctpListener,
    SctpStack,
    Termination,
)
from .backends import Userspace, open_stack
from .inprocess import InProcessStack
from .kernel import KernelStack
from .links import DEFAULT_UDP_PORT, LinkError
from .stackclient import HostStack

__all__ = [
    "DEFAULT_UDP_PORT",
    "ConnectError",
    "HostStack",
    "InProcessStack",
    "KernelStack",
    "LinkError",
    "Message",
    "NoSctpError",
    "ProbeResult",
    "SctpAssociation",
    "SctpError",
    "SctpListener",
    "SctpStack",
    "Termination",
    "Userspace",
    "open_stack",
]
