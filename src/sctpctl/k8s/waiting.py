"""Waiting for objects to reach a state: one list, then a watch, never a polling loop.

:func:`wait_for` keeps the current objects of one kind (by ``namespace/name``) up to date from a
watch that starts at the list's resourceVersion, and returns as soon as ``until`` says the set is
what the caller waits for. A watch the server ends early (its own timeout) is started again from
the last version seen; an expired version (410 Gone) starts over with a fresh list.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from sctpctl.k8s.client import Client, Obj
from sctpctl.k8s.errors import Gone


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


async def wait_for(
    client: Client,
    api_version: str,
    kind: str,
    *,
    until: Callable[[Mapping[str, Obj]], bool],
    namespace: str | None = None,
    label_selector: str | None = None,
    timeout: float,  # noqa: ASYNC109 (a deadline for the whole wait, not one call)
) -> dict[str, Obj]:
    """The objects once ``until(objects)`` is true; ``TimeoutError`` after ``timeout`` seconds.

    ``until`` sees every object of the kind that matches ``namespace`` and ``label_selector``,
    keyed by ``namespace/name`` (``name`` for cluster-scoped kinds); deleted ones are removed.
    """
    objects: dict[str, Obj] = {}
    async with asyncio.timeout(timeout):
        while True:
            listed = await client.list(
                api_version, kind, namespace=namespace, label_selector=label_selector
            )
            objects = {object_key(item): item for item in listed.items}
            if until(objects):
                return objects
            version = listed.resource_version
            try:
                while True:
                    stream = client.watch(
                        api_version,
                        kind,
                        namespace=namespace,
                        label_selector=label_selector,
                        resource_version=version,
                        timeout_seconds=max(1, min(300, int(timeout))),
                    )
                    async with contextlib.aclosing(stream) as events:
                        async for event in events:
                            meta = event.object.get("metadata") or {}
                            version = str(meta.get("resourceVersion") or version)
                            if event.type == "BOOKMARK":
                                continue
                            key = object_key(event.object)
                            if event.type == "DELETED":
                                objects.pop(key, None)
                            else:
                                objects[key] = event.object
                            if until(objects):
                                return objects
            except Gone:
                continue  # the version expired: list again


async def wait_gone(
    client: Client,
    api_version: str,
    kind: str,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    timeout: float,  # noqa: ASYNC109
) -> None:
    """Until no object of the kind matches (``TimeoutError`` after ``timeout`` seconds)."""
    await wait_for(
        client,
        api_version,
        kind,
        namespace=namespace,
        label_selector=label_selector,
        until=lambda objects: not objects,
        timeout=timeout,
    )
