"""The storage half of an in-memory cluster behind sctpctl's ``Client`` interface, shared by the
fakes of ``tests/enable`` and ``tests/verify``: objects by (kind, namespace, name), one growing
resourceVersion, a change log for watches, label selectors through sctpctl's one implementation
(:mod:`sctpctl.netpol.selectors`), and deletion with a namespace taking its objects along.

A subclass adds ``resource``, ``create``, ``watch``, ``exec`` and ``logs`` as the cluster it
stands for behaves, and refuses verbs in ``_check``.
"""

from __future__ import annotations

import copy
from typing import Any

from sctpctl.k8s.client import Obj, ObjectList, Objects
from sctpctl.k8s.errors import NotFound
from sctpctl.netpol.selectors import Selector

Key = tuple[str, str, str]


def not_found(kind: str, name: str) -> NotFound:
    return NotFound({"code": 404, "message": f'{kind} "{name}" not found'}, code=404)


def labels_match(obj: Obj, selector: str | None) -> bool:
    """Whether ``obj`` matches a ``?labelSelector=`` string (empty: everything)."""
    return Selector.parse(selector or "").matches(obj["metadata"].get("labels") or {})


class ObjectStore:
    def __init__(self) -> None:
        self.objects: dict[Key, Obj] = {}
        self.version = 0
        self.events: list[tuple[int, str, Obj]] = []
        "(resourceVersion, ADDED|MODIFIED|DELETED, object) of every change, in order."
        self.closed = False

    def _check(self, verb: str, kind: str) -> None:
        """Raise to refuse ``verb`` on ``kind`` (every verb is allowed here)."""

    @staticmethod
    def key(obj: Obj) -> Key:
        meta = obj["metadata"]
        return obj["kind"], meta.get("namespace") or "", meta["name"]

    def _store(self, obj: Obj) -> Obj:
        """Keep ``obj`` (owned by the store from now on) at a new resourceVersion; a copy back."""
        self.version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        key = self.key(obj)
        self.events.append((self.version, "MODIFIED" if key in self.objects else "ADDED", obj))
        self.objects[key] = obj
        return copy.deepcopy(obj)

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return [
            o
            for (k, ns, _), o in self.objects.items()
            if k == kind and (namespace is None or ns == namespace)
        ]

    async def get(
        self, api_version: str, kind: str, name: str, *, namespace: str | None = None
    ) -> Obj:
        self._check("get", kind)
        found = self.objects.get((kind, namespace or "", name))
        if found is None:
            raise not_found(kind, name)
        return copy.deepcopy(found)

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        self._check("list", kind)
        found = self.of_kind(kind, namespace)
        items = [copy.deepcopy(o) for o in found if labels_match(o, label_selector)]
        return ObjectList(items, str(self.version))

    async def replace(self, body: Obj, *, namespace: str | None = None) -> Obj:
        self._check("update", body["kind"])
        return self._store(copy.deepcopy(body))

    async def apply(self, body: Obj, **_: Any) -> Obj:
        self._check("patch", body["kind"])
        return self._store(copy.deepcopy(body))

    async def patch(self, *args: Any, **kwargs: Any) -> Obj:
        raise NotImplementedError("the commands under test do not patch")

    async def delete(
        self, api_version: str, kind: str, name: str, *, namespace: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> Obj:  # fmt: skip
        self._check("delete", kind)
        found = self.objects.pop((kind, namespace or "", name), None)
        if found is None:
            raise not_found(kind, name)
        self.version += 1
        self.events.append((self.version, "DELETED", found))
        if kind == "Namespace":
            for key in [k for k in self.objects if k[1] == name]:
                del self.objects[key]
        return found

    async def delete_collection(
        self, api_version: str, kind: str, *, namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Objects:  # fmt: skip
        self._check("deletecollection", kind)
        gone = [o for o in self.of_kind(kind, namespace) if labels_match(o, label_selector)]
        for obj in gone:
            del self.objects[self.key(obj)]
        return gone

    async def close(self) -> None:
        self.closed = True
