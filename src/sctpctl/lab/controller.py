"""The loop every lab controller runs: watch some resources, and reconcile after changes.

A controller here is level-based, like Kubernetes' own: it does not act on single events but,
whenever anything it watches changed, recomputes what should exist from the current objects and
makes it so. A burst of events therefore costs one pass (the wake-up is a flag, not a queue), a
failed pass is logged and retried at the next change, and a restarted lab needs no replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from sctpctl.lab.kinds import ResourceType
from sctpctl.lab.registry import Registry

log = logging.getLogger(__name__)


async def reconcile_loop(
    registry: Registry,
    watched: Sequence[ResourceType],
    reconcile: Callable[[], Awaitable[object]],
    *,
    name: str,
    settle: float = 0.0,
    field_selector: str | None = None,
) -> None:
    """Run ``reconcile`` once, then after every change of a ``watched`` resource, until
    cancelled. ``settle`` waits that long after a wake-up so a burst becomes one pass."""
    wake = asyncio.Event()
    wake.set()

    async def watch(rt: ResourceType) -> None:
        async for _event in registry.watch(rt, field_selector=field_selector):
            wake.set()

    watchers = [asyncio.create_task(watch(rt), name=f"{name}-watch-{rt.plural}") for rt in watched]
    try:
        while True:
            await wake.wait()
            wake.clear()
            if settle:
                await asyncio.sleep(settle)
            try:
                await reconcile()
            except Exception:
                log.exception("%s: a pass failed; retrying at the next change", name)
    finally:
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(BaseException):
                await task
