"""``sctpctl stack serve`` as a function: start, serve until SIGTERM or SIGINT, shut down."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from .control import remove_socket_file, serve_control
from .service import CURRENT, StackService

__all__ = ["run_service"]

log = logging.getLogger(__name__)


async def run_service(
    netns: Sequence[str],
    *,
    control: Path | None = None,
    grace: float = 5.0,
    on_ready: Callable[[StackService], None] | None = None,
) -> None:
    """Serve ``netns`` (none and no control channel: the namespace this process runs in) until
    SIGTERM or SIGINT; then SHUTDOWN every association (``grace`` seconds at most), ABORT the
    rest, and remove the control socket. The control socket appears once every initial
    namespace is served."""
    service = StackService(grace=grace)
    names = list(netns) or ([] if control is not None else [CURRENT])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server: asyncio.Server | None = None
    try:
        for name in names:
            await service.add(name)
        if control is not None:
            server = await serve_control(service, control)
        if on_ready is not None:
            on_ready(service)
        await stop.wait()
        log.info("stopping: shutting down every association")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if server is not None:
            server.close()
        await service.shutdown()
        if control is not None and server is not None:
            remove_socket_file(control)
