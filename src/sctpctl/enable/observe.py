"""Follow objects of a few kinds through the API's watch, never by polling.

:func:`observe` lists each :class:`Watched` kind once, keeps a local copy of its objects up to
date from a watch started at the list's ``resourceVersion``, and asks a ``decide`` function after
every change whether it has seen enough. It is the one loop behind following a rollout, waiting
for a DaemonSet, and waiting for the status check pods.

The API server ends watches now and then (``timeoutSeconds``, restarts); a watch that ends is
started again from the last ``resourceVersion`` seen, and one whose version has expired (410
Gone) lists again. A lost connection is retried with a growing pause (a rollout of the master
pool reboots the API servers one after the other), and a ``reconnecting`` flag tells ``decide``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sctpctl.k8s.client import Client, Obj
from sctpctl.k8s.errors import ApiServerError, ClusterUnreachable, Gone

log = logging.getLogger(__name__)

R = TypeVar("R")

WATCH_SECONDS = 240
"How long one watch request asks to stay open before the server ends it."
RETRY_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Watched:
    """One kind to follow, optionally narrowed like ``kubectl get -l/--field-selector``."""

    api_version: str
    kind: str
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None


Key = tuple[str, str]
"(namespace, name) of an object."


class Snapshot:
    """The current objects of every watched kind."""

    def __init__(self, watched: tuple[Watched, ...]) -> None:
        self._objects: dict[Watched, dict[Key, Obj]] = {w: {} for w in watched}
        self.reconnecting = False
        "True while a watch is being re-established after a lost connection."

    def objects(self, watched: Watched) -> list[Obj]:
        return list(self._objects[watched].values())

    def by_name(self, watched: Watched) -> dict[str, Obj]:
        return {name: obj for (_, name), obj in self._objects[watched].items()}

    def replace(self, watched: Watched, items: list[Obj]) -> None:
        self._objects[watched] = {_key(o): o for o in items}

    def apply(self, watched: Watched, event_type: str, obj: Obj) -> None:
        if event_type == "DELETED":
            self._objects[watched].pop(_key(obj), None)
        else:
            self._objects[watched][_key(obj)] = obj


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _version(obj: Obj) -> str | None:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return str(version) if version else None


async def _list(client: Client, watched: Watched, snapshot: Snapshot) -> str:
    listing = await client.list(
        watched.api_version,
        watched.kind,
        namespace=watched.namespace,
        label_selector=watched.label_selector,
        field_selector=watched.field_selector,
    )
    for item in listing.items:
        item.setdefault("apiVersion", watched.api_version)
        item.setdefault("kind", watched.kind)
    snapshot.replace(watched, listing.items)
    return listing.resource_version


async def _follow(
    client: Client,
    watched: Watched,
    snapshot: Snapshot,
    version: str,
    changed: asyncio.Queue[BaseException | None],
) -> None:
    """Keep one kind's copy current, forever; every change (and every failure) is queued."""
    failures = 0
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            stream = client.watch(
                watched.api_version,
                watched.kind,
                namespace=watched.namespace,
                label_selector=watched.label_selector,
                field_selector=watched.field_selector,
                resource_version=version,
                timeout_seconds=WATCH_SECONDS,
            )
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    version = _version(event.object) or version
                    if event.type == "BOOKMARK":
                        continue
                    snapshot.apply(watched, event.type, event.object)
                    if snapshot.reconnecting:
                        snapshot.reconnecting = False
                    failures = 0
                    changed.put_nowait(None)
            if loop.time() - started < 1.0:
                await asyncio.sleep(1.0)  # a server that ends watches at once is not hammered
        except Gone:
            version = await _list(client, watched, snapshot)
            changed.put_nowait(None)
        except (ClusterUnreachable, ApiServerError) as error:
            pause = RETRY_PAUSES[min(failures, len(RETRY_PAUSES) - 1)]
            failures += 1
            log.info("watch of %s lost (%s); again in %.1f s", watched.kind, error, pause)
            snapshot.reconnecting = True
            changed.put_nowait(None)
            await asyncio.sleep(pause)
            with contextlib.suppress(ClusterUnreachable, ApiServerError):
                version = await _list(client, watched, snapshot)
                snapshot.reconnecting = False
                changed.put_nowait(None)
        except Exception as error:  # anything else ends observe() with that error
            changed.put_nowait(error)
            return


async def observe(
    client: Client,
    watched: tuple[Watched, ...],
    decide: Callable[[Snapshot], R | None],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 (bounds the whole observation)
) -> R:
    """List, then watch, until ``decide`` returns something other than ``None``.

    ``decide`` runs once after the lists and again after every change. Raises
    ``TimeoutError`` after ``timeout`` seconds and whatever a list or watch raises besides the
    failures retried (see the module docstring).
    """
    snapshot = Snapshot(watched)
    changed: asyncio.Queue[BaseException | None] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(timeout):
            versions = [await _list(client, w, snapshot) for w in watched]
            for w, version in zip(watched, versions, strict=True):
                tasks.append(asyncio.create_task(_follow(client, w, snapshot, version, changed)))
            while True:
                result = decide(snapshot)
                if result is not None:
                    return result
                failure = await changed.get()
                while not changed.empty():  # one decision for a burst of events
                    more = changed.get_nowait()
                    failure = failure or more
                if failure is not None:
                    raise failure
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
