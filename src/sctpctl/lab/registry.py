"""The lab's Kubernetes API as an in-process asyncio interface, with a real server's semantics.

The HTTP server (:mod:`sctpctl.lab.apiserver`) is a thin translation over this class, and the lab's
controllers (scheduler, kubelets, endpoints, proxies, machine-config operator) call it directly in
the same process. Both therefore get exactly the same behaviour:

- create: ``generateName``, ``uid``, ``creationTimestamp``, ``generation``, one global
  ``resourceVersion``; defaulting (:mod:`~sctpctl.lab.admission`), validation with 422 causes
  (:mod:`~sctpctl.lab.validation`), ClusterIP and NodePort allocation; 409 AlreadyExists; 404 for a
  missing namespace and 403 for one being deleted;
- update: optimistic concurrency (409 Conflict on a stale ``resourceVersion``), the ``status``
  subresource rule (status writes change only ``.status``, other writes keep it), ``generation``
  bumped on a spec change, no-op writes that change nothing (no new resourceVersion, no event);
- patch: JSON patch, merge patch, strategic merge patch (415 for custom resources) and apply
  (creating when absent);
- delete: finalizers hold an object with ``deletionTimestamp`` until they are removed; pods bound
  to a node are deleted gracefully (``deletionTimestamp`` plus ``deletionGracePeriodSeconds``; the
  node's kubelet stops the containers and deletes again with a zero grace period); namespaces go
  ``Terminating``, everything inside is deleted, and the namespace disappears once it is empty;
- watch: events after a resourceVersion, synthetic ADDED for ``""``/``"0"``, ``sendInitialEvents``
  with the initial-events-end bookmark, periodic bookmarks, selectors applied to events (an object
  that stops matching is reported DELETED, one that starts matching ADDED, as the real watch
  cache does), and 410 Gone for a resourceVersion older than the event history.

Objects cross this boundary as plain dicts (JSON-shaped); callers receive copies and never share
state with the store.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sctpctl.lab import admission, errors, validation
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import RESOURCES, ResourceType, resource
from sctpctl.lab.patch import (
    PatchError,
    PatchType,
    apply_configuration,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from sctpctl.lab.schema import SchemaTypeError, decode
from sctpctl.lab.selectors import FieldSelector, parse_field_selector, parse_label_selector
from sctpctl.lab.store import Key, Store
from sctpctl.netpol.selectors import Selector

Object = dict[str, Any]
Objects = list[Object]
"A list of objects (an alias: inside Registry, ``list`` names the method)."

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

_PRECONDITION_NAMES = {"uid": "UID", "resourceVersion": "ResourceVersion"}

# Characters of generated name suffixes (apimachinery's utilrand: no vowels, no 0/1/3).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def timestamp(seconds: float) -> str:
    """Kubernetes' ``metav1.Time`` format (RFC 3339, whole seconds, UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WatchEvent:
    """One change: ``ADDED``, ``MODIFIED``, ``DELETED``, ``BOOKMARK`` or ``ERROR``."""

    type: str
    object: Object
    resource_version: int
    resource: str = ""
    "The store key of the resource (``/pods``); empty for bookmarks and errors."
    namespace: str = ""
    previous: Object | None = field(default=None, repr=False)
    "The object before a MODIFIED change, used to re-type events for selective watches."


@dataclass(frozen=True)
class ObjectList:
    items: list[Object]
    resource_version: int


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _spec_like(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: what a change of bumps ``generation``."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Registry:
    """The API objects of one lab: create, get, list, update, patch, delete and watch."""

    def __init__(
        self,
        store: Store,
        *,
        networks: admission.Networks | None = None,
        clock: Callable[[], float] = time.time,
        history: int = 20000,
    ) -> None:
        self.store = store
        self.networks = networks or admission.Networks()
        self.clock = clock
        self._history = history
        self._events: list[WatchEvent] = []
        self._event_rvs: list[int] = []
        # Every event with a resourceVersion above this one is in the history.
        self._oldest_rv = store.resource_version
        self._changed = asyncio.Event()

    # --- lookups ------------------------------------------------------------------------------

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.key, (namespace or "") if rt.namespaced else "", name)

    def _require_namespace_arg(self, rt: ResourceType, namespace: str | None) -> str:
        if rt.namespaced and not namespace:
            raise errors.bad_request(f"{rt.plural} is namespaced: a namespace is required")
        return (namespace or "") if rt.namespaced else ""

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> Object:
        obj = self.store.get(self._key(rt, self._require_namespace_arg(rt, namespace), name))
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return copy.deepcopy(obj)

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | Selector | None = None,
        field_selector: str | FieldSelector | None = None,
    ) -> ObjectList:
        labels = _labels(label_selector)
        fields = _fields(field_selector, rt)
        items = [
            copy.deepcopy(obj)
            for obj in self.store.items(rt.key, namespace if rt.namespaced else None)
            if labels.matches(_meta(obj).get("labels")) and fields.matches(obj)
        ]
        return ObjectList(items, self.store.resource_version)

    def peek(self, rt: ResourceType, namespace: str | None = None) -> Objects:
        """The stored objects of ``rt`` themselves, without copies, for in-process controllers
        that only read them (a controller pass over every pod would otherwise copy them all).

        Stored objects are never changed in place: every write stores a new dict. So a caller
        holds one consistent version of each object, and must never modify it.
        """
        return self.store.items(rt.key, namespace if rt.namespaced else None)

    # --- writes -------------------------------------------------------------------------------

    def _decode(self, rt: ResourceType, body: Any) -> Object:
        """Type-check ``body`` like the real decoder and drop fields the kind does not have."""
        if not isinstance(body, dict):
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "the body must be a JSON object"
            )
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if (api_version and api_version != rt.api_version) or (kind and kind != rt.kind):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) or the kind ({kind}) does not "
                f"match the expected {rt.api_version}, Kind={rt.kind}"
            )
        try:
            decoded = decode(rt.schema, body).value
        except SchemaTypeError as error:
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {error}'
            ) from error
        result: Object = decoded
        result["apiVersion"], result["kind"] = rt.api_version, rt.kind
        if not isinstance(result.get("metadata"), dict):
            result["metadata"] = {}
        return result

    def _check_namespace(self, rt: ResourceType, obj: Object, namespace: str | None) -> str:
        meta = obj["metadata"]
        if not rt.namespaced:
            meta.pop("namespace", None)
            return ""
        wanted = namespace or meta.get("namespace") or ""
        if not wanted:
            raise errors.bad_request("the namespace of the object is required")
        if meta.get("namespace") not in (None, "", wanted):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = wanted
        return wanted

    def _namespace_for_create(self, namespace: str) -> None:
        ns = self.store.get(self._key(resource("namespaces"), None, namespace))
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if _meta(ns).get("deletionTimestamp"):
            raise errors.forbidden_request(
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated"
            )

    def _default(self, rt: ResourceType, obj: Object, *, creating: bool) -> None:
        kind = rt.kind
        if kind == "Pod":
            admission.default_pod(obj, creating=creating)
        elif kind == "Service":
            admission.default_service(obj)
        elif kind == "Namespace":
            admission.default_namespace(obj)
        elif kind == "DaemonSet":
            admission.default_daemon_set(obj)
        elif kind == "Secret":
            admission.default_secret(obj)
        elif kind == "EndpointSlice":
            admission.default_endpoint_slice(obj)

    def _validate(self, rt: ResourceType, obj: Object, old: Object | None) -> None:
        causes = validation.validate_metadata(obj["metadata"], rt.names)
        check = validation.VALIDATORS.get(rt.kind)
        if check is not None:
            causes += check(obj, old)
        if rt.kind == "Service":
            others = [
                s
                for s in self.store.items(rt.key)
                if (_meta(s).get("namespace"), _meta(s).get("name"))
                != (_meta(obj).get("namespace"), _meta(obj).get("name"))
            ]
            if old is not None:
                admission.keep_allocations(obj, old)
            if not causes:
                causes += admission.allocate_service(obj, others, self.networks)
        if causes:
            raise errors.invalid_object(rt.group, rt.kind, _meta(obj).get("name", ""), causes)

    def _emit(self, event: WatchEvent) -> None:
        self._events.append(event)
        self._event_rvs.append(event.resource_version)
        if len(self._events) > self._history:
            cut = len(self._events) - self._history
            self._oldest_rv = self._event_rvs[cut - 1]
            del self._events[:cut]
            del self._event_rvs[:cut]
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _store(self, rt: ResourceType, obj: Object, event: str, previous: Object | None) -> Object:
        meta = obj["metadata"]
        rv = self.store.next_resource_version()
        meta["resourceVersion"] = str(rv)
        key = self._key(rt, meta.get("namespace"), meta["name"])
        self.store.put(key, obj, rv)
        self._emit(WatchEvent(event, obj, rv, rt.key, key[1], previous))
        return copy.deepcopy(obj)

    def _remove(self, rt: ResourceType, obj: Object) -> Object:
        meta = obj["metadata"]
        key = self._key(rt, meta.get("namespace"), meta["name"])
        with self.store.transaction():
            rv = self.store.next_resource_version()
            final = copy.deepcopy(obj)
            final["metadata"]["resourceVersion"] = str(rv)
            self.store.delete(key)
        self._emit(WatchEvent("DELETED", final, rv, rt.key, key[1]))
        if rt.namespaced:
            self._finish_namespace(key[1])
        return copy.deepcopy(final)

    async def create(
        self,
        rt: ResourceType,
        body: Any,
        namespace: str | None = None,
        *,
        dry_run: bool = False,
    ) -> Object:
        if "create" not in rt.verbs:
            raise errors.method_not_allowed(f"create is not supported on {rt.plural}")
        obj = self._decode(rt, copy.deepcopy(body))
        ns = self._check_namespace(rt, obj, namespace)
        if not rt.stored:
            return self._review(obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        if ns:
            self._namespace_for_create(ns)
        for field_name in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            meta.pop(field_name, None)
        if rt.has_status and rt.kind not in ("Node", "Namespace", "Pod"):
            obj.pop("status", None)
        self._default(rt, obj, creating=True)
        self._validate(rt, obj, None)
        if self.store.get(self._key(rt, ns, meta["name"])) is not None:
            raise errors.already_exists(rt.group, rt.plural, meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp(self.clock())
        meta["generation"] = 1
        meta.pop("resourceVersion", None)
        if dry_run:
            return obj
        with self.store.transaction():
            created = self._store(rt, obj, "ADDED", None)
            if rt.kind == "Namespace":
                self._create_default_service_account(meta["name"])
        return created

    def _review(self, obj: Object) -> Object:
        """Access reviews: the lab has one all-powerful user, so every answer is yes."""
        obj["status"] = {"allowed": True, "reason": "the lab grants every request"}
        return obj

    def _create_default_service_account(self, namespace: str) -> None:
        rt = resource("serviceaccounts")
        if self.store.get(self._key(rt, namespace, "default")) is not None:
            return
        account: Object = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "default",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": timestamp(self.clock()),
            },
        }
        self._store(rt, account, "ADDED", None)

    def _next_version(
        self, rt: ResourceType, old: Object, candidate: Object, subresource: str | None
    ) -> Object:
        """The object an update of ``old`` to ``candidate`` stores (before validation)."""
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in candidate:
                new["status"] = candidate["status"]
            else:
                new.pop("status", None)
            new["metadata"]["resourceVersion"] = candidate["metadata"].get("resourceVersion")
            return new
        new = candidate
        if rt.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta, old_meta = new["metadata"], old["metadata"]
        for field_name in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if field_name in old_meta:
                meta[field_name] = old_meta[field_name]
            else:
                meta.pop(field_name, None)
        if _spec_like(new) != _spec_like(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        return new

    async def _update(
        self,
        rt: ResourceType,
        old: Object,
        candidate: Object,
        *,
        subresource: str | None,
        dry_run: bool,
    ) -> Object:
        name = old["metadata"]["name"]
        wanted_rv = candidate["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"].get("resourceVersion"):
            raise errors.conflict(rt.group, rt.plural, name, errors.STALE)
        new = self._next_version(rt, old, candidate, subresource)
        if subresource is None:
            self._default(rt, new, creating=False)
        self._validate(rt, new, old)
        new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        if new == old:
            return copy.deepcopy(old)  # a no-op write: no new resourceVersion, no event
        if dry_run:
            return new
        meta = new["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and (rt.kind != "Pod" or not meta.get("deletionGracePeriodSeconds"))
        ):
            return self._remove(rt, new)  # the last finalizer is gone
        return self._store(rt, new, "MODIFIED", old)

    def _target(self, rt: ResourceType, name: str, namespace: str | None) -> Object:
        ns = self._require_namespace_arg(rt, namespace)
        old = self.store.get(self._key(rt, ns, name))
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return copy.deepcopy(old)

    async def update(
        self,
        rt: ResourceType,
        body: Any,
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Object:
        """Replace an object (``PUT``); ``body.metadata.resourceVersion``, when set, must be the
        current one."""
        candidate = self._decode(rt, copy.deepcopy(body))
        ns = self._check_namespace(rt, candidate, namespace)
        body_name = candidate["metadata"].get("name")
        name = name or body_name
        if not name:
            raise errors.bad_request("the name of the object is required")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        candidate["metadata"]["name"] = name
        old = self._target(rt, name, ns or None)
        return await self._update(rt, old, candidate, subresource=subresource, dry_run=dry_run)

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        patch_type: PatchType,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        force: bool = False,
    ) -> tuple[Object, bool]:
        """Patch an object; returns it and whether it was created (only ``APPLY`` creates)."""
        if patch_type is PatchType.STRATEGIC and rt.custom:
            raise errors.unsupported_media_type(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {PatchType.JSON.value}, {PatchType.MERGE.value}, {PatchType.APPLY.value}"
            )
        ns = self._require_namespace_arg(rt, namespace)
        old_stored = self.store.get(self._key(rt, ns, name))
        if old_stored is None:
            if patch_type is not PatchType.APPLY:
                raise errors.not_found(rt.group, rt.plural, name)
            body = copy.deepcopy(patch) if isinstance(patch, dict) else patch
            if isinstance(body, dict):
                body.setdefault("metadata", {}).setdefault("name", name)
            return await self.create(rt, body, ns or None, dry_run=dry_run), True
        old = copy.deepcopy(old_stored)
        try:
            if patch_type is PatchType.JSON:
                patched = json_patch(old, patch)
            elif patch_type is PatchType.MERGE:
                patched = merge_patch(old, patch)
            elif patch_type is PatchType.STRATEGIC:
                patched = strategic_merge_patch(old, patch, rt.schema)
            else:
                patched = apply_configuration(old, patch, rt.schema, custom=rt.custom)
        except PatchError as error:
            raise StatusError(422, "Invalid", f"the patch could not be applied: {error}") from error
        candidate = self._decode(rt, patched)
        candidate["metadata"]["name"] = name
        self._check_namespace(rt, candidate, ns or None)
        if patch_type is PatchType.APPLY or candidate["metadata"].get("resourceVersion") == old[
            "metadata"
        ].get("resourceVersion"):
            # Apply and patches that do not name a resourceVersion never conflict.
            candidate["metadata"].pop("resourceVersion", None)
        updated = await self._update(rt, old, candidate, subresource=subresource, dry_run=dry_run)
        return updated, False

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Object:
        """Delete an object; returns its final state (or, for graceful deletion, the object
        with ``deletionTimestamp`` set)."""
        old = self._target(rt, name, namespace)
        meta = old["metadata"]
        for field_name in ("uid", "resourceVersion"):
            wanted = (preconditions or {}).get(field_name)
            if wanted and wanted != meta.get(field_name):
                raise errors.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: {_PRECONDITION_NAMES[field_name]} in precondition: "
                    f"{wanted}, {field_name} in object meta: {meta.get(field_name)}",
                )
        if dry_run:
            return old
        now = self.clock()
        if rt.kind == "Namespace":
            return self._delete_namespace(rt, old, now)
        if rt.kind == "Pod" and (old.get("spec") or {}).get("nodeName"):
            grace = grace_period_seconds
            if grace is None:
                grace = int((old.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            if grace > 0 or meta.get("finalizers"):
                return self._mark_deleted(rt, old, now, grace)
        elif meta.get("finalizers"):
            return self._mark_deleted(rt, old, now, 0)
        return self._remove(rt, old)

    def _mark_deleted(self, rt: ResourceType, old: Object, now: float, grace: int) -> Object:
        meta = old["metadata"]
        current = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and current is not None and current <= grace:
            return old  # already going, at least as fast
        previous = copy.deepcopy(old)
        meta["deletionTimestamp"] = timestamp(now + grace)
        meta["deletionGracePeriodSeconds"] = grace
        return self._store(rt, old, "MODIFIED", previous)

    def _delete_namespace(self, rt: ResourceType, namespace: Object, now: float) -> Object:
        name = namespace["metadata"]["name"]
        if not namespace["metadata"].get("deletionTimestamp"):
            previous = copy.deepcopy(namespace)
            namespace["metadata"]["deletionTimestamp"] = timestamp(now)
            namespace["metadata"]["deletionGracePeriodSeconds"] = 0
            namespace.setdefault("status", {})["phase"] = "Terminating"
            namespace = self._store(rt, namespace, "MODIFIED", previous)
        for inner in RESOURCES:
            if not inner.namespaced or not inner.stored:
                continue
            for obj in self.store.items(inner.key, name):
                obj = copy.deepcopy(obj)
                if inner.kind == "Pod" and (obj.get("spec") or {}).get("nodeName"):
                    grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
                    self._mark_deleted(inner, obj, now, grace)
                elif _meta(obj).get("finalizers"):
                    self._mark_deleted(inner, obj, now, 0)
                else:
                    self._remove(inner, obj)
        gone = self._finish_namespace(name)
        return gone if gone is not None else namespace

    def _finish_namespace(self, name: str) -> Object | None:
        """Remove a terminating namespace once nothing is left in it."""
        rt = resource("namespaces")
        namespace = self.store.get(self._key(rt, None, name))
        if namespace is None or not _meta(namespace).get("deletionTimestamp"):
            return None
        if self.store.keys_in_namespace(name):
            return None
        return self._remove(rt, copy.deepcopy(namespace))

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | Selector | None = None,
        field_selector: str | FieldSelector | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> Objects:
        found = await self.list(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        deleted: Objects = []
        for obj in found.items:
            meta = obj["metadata"]
            try:
                deleted.append(
                    await self.delete(
                        rt,
                        meta["name"],
                        meta.get("namespace"),
                        grace_period_seconds=grace_period_seconds,
                        dry_run=dry_run,
                    )
                )
            except StatusError as error:
                if error.code != 404:  # gone meanwhile (e.g. with its namespace)
                    raise
        return deleted

    # --- pod subresources ---------------------------------------------------------------------

    async def bind(self, namespace: str, pod: str, node: str) -> Object:
        """Assign a pod to a node (``pods/binding``), once."""
        rt = resource("pods")
        old = self._target(rt, pod, namespace)
        current = (old.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict(
                "", "pods", pod, f'pod {pod} is already assigned to node "{current}"'
            )
        if old["metadata"].get("deletionTimestamp"):
            raise errors.conflict("", "pods", pod, "pod is being deleted, cannot be assigned")
        new = copy.deepcopy(old)
        new["spec"]["nodeName"] = node
        return self._store(rt, new, "MODIFIED", old)

    async def evict(
        self, namespace: str, pod: str, *, grace_period_seconds: int | None = None
    ) -> Object:
        """Evict a pod (``pods/eviction``): a graceful delete (no disruption budgets here)."""
        return await self.delete(
            resource("pods"), pod, namespace, grace_period_seconds=grace_period_seconds
        )

    # --- watch --------------------------------------------------------------------------------

    async def watch(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | Selector | None = None,
        field_selector: str | FieldSelector | None = None,
        send_initial_events: bool | None = None,
        allow_bookmarks: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 (a watch parameter, as in the API)
        bookmark_interval: float = 5.0,
    ) -> AsyncIterator[WatchEvent]:
        """Changes of ``rt`` objects, as the watch protocol delivers them.

        ``resource_version`` ``None``, ``""`` or ``"0"`` (or ``send_initial_events``) starts with a
        synthetic ADDED per current object; ``N`` streams the changes after N, or yields one
        ERROR event (410 Expired) when N is older than the history. Ends after ``timeout``.
        """
        labels = _labels(label_selector)
        fields = _fields(field_selector, rt)
        scope = namespace if rt.namespaced and namespace else None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout

        def matches(obj: Object | None) -> bool:
            return (
                obj is not None and labels.matches(_meta(obj).get("labels")) and fields.matches(obj)
            )

        if resource_version not in (None, "", "0"):
            try:
                position = int(resource_version)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
        else:
            position = -1
        initial = send_initial_events or position < 0
        if position < 0 or send_initial_events:
            position = self.store.resource_version
        if initial:
            for obj in self.store.items(rt.key, scope):
                if matches(obj):
                    yield WatchEvent("ADDED", copy.deepcopy(obj), position, rt.key)
            if send_initial_events and allow_bookmarks:
                yield self._bookmark(rt, position, initial_events_end=True)
        next_bookmark = loop.time() + bookmark_interval
        while True:
            if position < self._oldest_rv:
                yield WatchEvent(
                    "ERROR",
                    errors.gone(f"too old resource version: {position} ({self._oldest_rv})").status,
                    position,
                )
                return
            waiter = self._changed
            start = bisect.bisect_right(self._event_rvs, position)
            for event in self._events[start:]:
                position = event.resource_version
                if event.resource != rt.key or (scope is not None and event.namespace != scope):
                    continue
                now_matches = matches(event.object)
                if event.type == "MODIFIED":
                    was = matches(event.previous)
                    if now_matches and not was:
                        yield WatchEvent("ADDED", copy.deepcopy(event.object), position, rt.key)
                    elif was and not now_matches:
                        yield WatchEvent("DELETED", copy.deepcopy(event.object), position, rt.key)
                    elif now_matches:
                        yield WatchEvent("MODIFIED", copy.deepcopy(event.object), position, rt.key)
                elif now_matches:
                    yield WatchEvent(event.type, copy.deepcopy(event.object), position, rt.key)
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            if allow_bookmarks and now >= next_bookmark:
                yield self._bookmark(rt, max(position, self.store.resource_version))
                next_bookmark = now + bookmark_interval
            limit = next_bookmark if allow_bookmarks else None
            if deadline is not None:
                limit = deadline if limit is None else min(limit, deadline)
            if waiter is self._changed and not (self._event_rvs and self._event_rvs[-1] > position):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        waiter.wait(), None if limit is None else max(0.0, limit - loop.time())
                    )

    def _bookmark(
        self, rt: ResourceType, rv: int, *, initial_events_end: bool = False
    ) -> WatchEvent:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return WatchEvent(
            "BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}, rv
        )

    # --- bootstrap ----------------------------------------------------------------------------

    async def bootstrap(self) -> None:
        """Create what every cluster has: the system namespaces (each with its ``default``
        ServiceAccount) and the ``default/kubernetes`` Service. Idempotent."""
        namespaces = resource("namespaces")
        for name in SYSTEM_NAMESPACES:
            if self.store.get(self._key(namespaces, None, name)) is None:
                await self.create(namespaces, {"metadata": {"name": name}})
        services = resource("services")
        if self.store.get(self._key(services, "default", "kubernetes")) is None:
            await self.create(
                services,
                {
                    "metadata": {
                        "name": "kubernetes",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "clusterIP": self.networks.kubernetes_service_ip,
                        "ports": [
                            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
                        ],
                    },
                },
                "default",
            )


def _labels(selector: str | Selector | None) -> Selector:
    if isinstance(selector, Selector):
        return selector
    return parse_label_selector(selector)


def _fields(selector: str | FieldSelector | None, rt: ResourceType) -> FieldSelector:
    if isinstance(selector, FieldSelector):
        return selector
    return parse_field_selector(selector, rt.kind)
