"""Events, as the scheduler, kubelets and nodes record them (``kubectl describe``, ``get events``).

An Event names the object it is about (``involvedObject``), a reason (``Scheduled``, ``Started``,
``BackOff``, ``NodeNotReady``...), a message and the component that saw it. A repeat of the same
reason and message for the same object raises ``count`` and ``lastTimestamp`` instead of adding
an Event, as the real recorder aggregates. The real API server forgets Events after an hour; the
lab keeps at most :data:`MAX_EVENTS` and drops the oldest beyond that.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import Registry, timestamp

log = logging.getLogger(__name__)

EVENTS = resource("events")
MAX_EVENTS = 2000


def _involved(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    involved = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", ""),
        "name": meta["name"],
        "uid": meta.get("uid", ""),
    }
    if meta.get("namespace"):
        involved["namespace"] = meta["namespace"]
    return involved


async def record(
    registry: Registry,
    obj: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    component: str,
    host: str | None = None,
    warning: bool = False,
) -> None:
    """Record (or count again) an Event about ``obj``; failures are logged, never raised."""
    involved = _involved(obj)
    namespace = involved.get("namespace") or "default"
    now = timestamp(registry.clock())
    try:
        for event in registry.peek(EVENTS, namespace):
            same = event.get("involvedObject") or {}
            if (
                same.get("uid") == involved["uid"]
                and event.get("reason") == reason
                and event.get("message") == message
            ):
                meta = event["metadata"]
                await registry.patch(
                    EVENTS,
                    meta["name"],
                    {"count": int(event.get("count") or 1) + 1, "lastTimestamp": now},
                    PatchType.MERGE,
                    meta["namespace"],
                )
                return
        source: dict[str, str] = {"component": component}
        if host:
            source["host"] = host
        await registry.create(
            EVENTS,
            {
                "metadata": {"name": f"{involved['name']}.{secrets.token_hex(8)}"},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": "Warning" if warning else "Normal",
                "count": 1,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": source,
                "reportingComponent": component,
                "reportingInstance": host or "",
            },
            namespace,
        )
        await _trim(registry)
    except StatusError as error:
        log.debug("event %s for %s not recorded: %s", reason, involved["name"], error)


async def _trim(registry: Registry) -> None:
    events = registry.peek(EVENTS)
    if len(events) <= MAX_EVENTS:
        return
    oldest = sorted(events, key=lambda e: (e.get("lastTimestamp") or "", e["metadata"]["name"]))
    for event in oldest[: len(events) - MAX_EVENTS]:
        meta = event["metadata"]
        try:
            await registry.delete(EVENTS, meta["name"], meta["namespace"])
        except StatusError as error:
            if error.code != 404:
                raise
