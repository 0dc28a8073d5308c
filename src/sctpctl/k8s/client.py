"""The Kubernetes client interface the rest of sctpctl uses (``enable``, ``status``, ``verify``).

Objects are plain JSON-shaped dicts (:data:`Obj`), resources are named by ``apiVersion`` and
``kind`` exactly as in manifests, and the server's discovery maps them to URLs, so MachineConfigs
and Pods go through the same calls. Failures are :mod:`sctpctl.k8s.errors`. One implementation
wraps kubernetes-asyncio (:mod:`sctpctl.k8s.adapter`); tests may provide others.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

Obj = dict[str, Any]
"A Kubernetes object as JSON: ``apiVersion``, ``kind``, ``metadata``, ..."
Objects = list[Obj]
"A list of objects (an alias: inside the client class, ``list`` names a method)."


class PatchType(Enum):
    MERGE = "application/merge-patch+json"
    "RFC 7386: maps merge, ``null`` deletes, lists are replaced."
    STRATEGIC = "application/strategic-merge-patch+json"
    "Lists merge by their merge keys (built-in kinds only)."
    JSON = "application/json-patch+json"
    "RFC 6902: a list of operations."


@dataclass(frozen=True)
class ObjectList:
    items: list[Obj]
    resource_version: str
    "Watch from here to see every change after this list."


@dataclass(frozen=True)
class WatchEvent:
    type: str
    "``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK`` (errors are raised, not yielded)."
    object: Obj


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class ResourceInfo:
    """What discovery says about one kind."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool


class Client(Protocol):
    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery: raises :class:`~sctpctl.k8s.errors.NotFound` for a kind not served."""
        ...

    async def get(
        self, api_version: str, kind: str, name: str, *, namespace: str | None = None
    ) -> Obj: ...

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        """Objects of one kind, in ``namespace`` or (``None``) in all namespaces."""
        ...

    async def create(
        self, body: Obj, *, namespace: str | None = None, dry_run: bool = False
    ) -> Obj:
        """Create ``body``; its namespace defaults to ``namespace``."""
        ...

    async def replace(self, body: Obj, *, namespace: str | None = None) -> Obj:
        """Replace an object; ``metadata.resourceVersion``, when set, must be current."""
        ...

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
    ) -> Obj: ...

    async def apply(
        self,
        body: Obj,
        *,
        field_manager: str = "sctpctl",
        force: bool = False,
        namespace: str | None = None,
    ) -> Obj:
        """Server-side apply: create ``body`` or bring the object in line with it."""
        ...

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> Obj: ...

    async def delete_collection(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Objects:
        """Delete every matching object of one kind (one namespace, or all for ``None``)."""
        ...

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes of one kind until ``timeout_seconds`` or the server ends the stream; an
        expired ``resource_version`` raises :class:`~sctpctl.k8s.errors.Gone`. A caller that
        stops early closes the iterator (``contextlib.aclosing``) to free the connection."""
        ...

    async def exec(
        self,
        namespace: str,
        pod: str,
        command: Sequence[str],
        *,
        container: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (bounds the whole exec)
    ) -> ExecResult:
        """Run ``command`` in a pod's container; a non-zero exit is a result, not an error."""
        ...

    async def logs(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
    ) -> str: ...

    async def close(self) -> None: ...
