"""EndpointSlices (and the legacy Endpoints) of every Service with a selector.

:func:`desired_slices` is the whole rule, pure: the pods of the Service's namespace that match
its selector and have an address and are not finished become endpoints; ``ready`` follows the
pod's ``Ready`` condition and ``terminating`` its ``deletionTimestamp``. A named ``targetPort``
resolves against each pod's container ports (name *and* protocol), so pods that number the port
differently land in different slices, as in the real controller; a pod without the named port is
left out of that port's slice. The :class:`EndpointsController` writes the result and removes
the slices of Services that are gone, whenever a Service or a pod changes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sctpctl.lab.controller import reconcile_loop
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.registry import Registry
from sctpctl.netpol.selectors import Selector, SelectorError

log = logging.getLogger(__name__)

SERVICES = resource("services")
PODS = resource("pods")
SLICES = resource("endpointslices", "discovery.k8s.io")
ENDPOINTS = resource("endpoints")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"

PortKey = tuple[tuple[str, int, str], ...]
"(name, number, protocol) of each port of a slice."


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _resolve(port: Mapping[str, Any], pod: Mapping[str, Any]) -> int | None:
    target = port.get("targetPort", port.get("port"))
    protocol = port.get("protocol", "TCP")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for declared in container.get("ports") or []:
            if declared.get("name") == target and declared.get("protocol", "TCP") == protocol:
                return int(declared["containerPort"])
    return None


def selected_pods(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Any]:
    spec = service.get("spec") or {}
    if not spec.get("selector"):
        return []
    try:
        selector = Selector.from_match_labels(spec["selector"])
    except SelectorError:
        return []
    namespace = service["metadata"]["namespace"]
    found = []
    for pod in pods:
        meta, status = pod["metadata"], pod.get("status") or {}
        if meta.get("namespace") != namespace or not status.get("podIP"):
            continue
        if status.get("phase") in ("Succeeded", "Failed"):
            continue
        if selector.matches(meta.get("labels")):
            found.append(pod)
    return found


def desired_slices(
    service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
) -> dict[PortKey, list[dict[str, Any]]]:
    """Per set of resolved ports, the endpoints that serve exactly those numbers."""
    ports = (service.get("spec") or {}).get("ports") or []
    groups: dict[PortKey, list[dict[str, Any]]] = {}
    for pod in sorted(selected_pods(service, pods), key=lambda p: p["metadata"]["name"]):
        key: list[tuple[str, int, str]] = []
        for port in ports:
            number = _resolve(port, pod)
            if number is not None:
                key.append((port.get("name", ""), number, port.get("protocol", "TCP")))
        if ports and not key:
            continue
        meta, status = pod["metadata"], pod["status"]
        terminating = bool(meta.get("deletionTimestamp"))
        ready = _pod_ready(pod) and not terminating
        groups.setdefault(tuple(key), []).append(
            {
                "addresses": [status["podIP"]],
                "conditions": {
                    "ready": ready,
                    "serving": _pod_ready(pod),
                    "terminating": terminating,
                },
                "nodeName": (pod.get("spec") or {}).get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            }
        )
    return groups


def slice_body(
    service: Mapping[str, Any], key: PortKey, endpoints: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    meta = service["metadata"]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta['name']}-",
            "namespace": meta["namespace"],
            "labels": {SERVICE_NAME_LABEL: meta["name"], MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": list(endpoints),
        "ports": [{"name": name, "port": number, "protocol": proto} for name, number, proto in key],
    }


def endpoints_body(
    service: Mapping[str, Any], groups: Mapping[PortKey, Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """The legacy ``v1/Endpoints`` (what ``kubectl get endpoints`` shows)."""
    meta = service["metadata"]
    subsets = []
    for key, endpoints in sorted(groups.items()):
        ready = [e for e in endpoints if e["conditions"]["ready"]]
        unready = [e for e in endpoints if not e["conditions"]["ready"]]

        def addresses(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
            return [
                {"ip": e["addresses"][0], "nodeName": e["nodeName"], "targetRef": e["targetRef"]}
                for e in items
            ]

        subset: dict[str, Any] = {
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in key]
        }
        if ready:
            subset["addresses"] = addresses(ready)
        if unready:
            subset["notReadyAddresses"] = addresses(unready)
        subsets.append(subset)
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
        },
    }
    if subsets:
        body["subsets"] = subsets
    return body


def _numbered_ports(service: Mapping[str, Any]) -> PortKey:
    """The Service's ports whose target is a number (a named one has no number without pods)."""
    found = []
    for port in (service.get("spec") or {}).get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, int):
            found.append((port.get("name", ""), target, port.get("protocol", "TCP")))
    return tuple(found)


def _slice_key(slice_: Mapping[str, Any]) -> PortKey:
    return tuple(
        (p.get("name", ""), int(p.get("port") or 0), p.get("protocol", "TCP"))
        for p in slice_.get("ports") or []
    )


class EndpointsController:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def run(self) -> None:
        await reconcile_loop(self.registry, (SERVICES, PODS), self.reconcile, name="endpoints")

    async def reconcile(self) -> None:
        registry = self.registry
        services = registry.peek(SERVICES)
        pods = registry.peek(PODS)
        slices = (
            await registry.list(SLICES, label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}")
        ).items
        existing: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in slices:
            meta = item["metadata"]
            owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL, "")
            existing.setdefault((meta["namespace"], owner), []).append(item)
        wanted_services = set()
        for service in services:
            meta = service["metadata"]
            if not (service.get("spec") or {}).get("selector"):
                continue
            wanted_services.add((meta["namespace"], meta["name"]))
            groups = desired_slices(service, pods)
            await self._sync_service(
                service, groups, existing.get((meta["namespace"], meta["name"]), [])
            )
        for (namespace, name), items in existing.items():
            if (namespace, name) not in wanted_services:
                for item in items:
                    await self._delete(SLICES, item["metadata"]["name"], namespace)
                await self._delete(ENDPOINTS, name, namespace)

    async def _sync_service(
        self,
        service: dict[str, Any],
        groups: dict[PortKey, list[dict[str, Any]]],
        current: list[dict[str, Any]],
    ) -> None:
        namespace = service["metadata"]["namespace"]
        if not groups:
            # An empty slice still says which ports the Service has (the real controller keeps
            # one, so clients can tell "no endpoints" from "not processed yet").
            groups = {_numbered_ports(service): []}
        unused = list(current)
        for key, endpoints in groups.items():
            body = slice_body(service, key, endpoints)
            match = next((s for s in unused if _slice_key(s) == key), None)
            if match is None:
                await self.registry.create(SLICES, body, namespace)
                continue
            unused.remove(match)
            owners = body["metadata"]["ownerReferences"]
            if match.get("endpoints") != body["endpoints"] or (
                match["metadata"].get("ownerReferences") != owners
            ):
                updated = dict(match)
                updated["endpoints"] = body["endpoints"]
                updated["metadata"] = {**match["metadata"], "ownerReferences": owners}
                with contextlib.suppress(StatusError):
                    await self.registry.update(SLICES, updated, namespace)
        for item in unused:
            await self._delete(SLICES, item["metadata"]["name"], namespace)
        legacy = endpoints_body(service, {k: v for k, v in groups.items() if v})
        try:
            old = await self.registry.get(ENDPOINTS, service["metadata"]["name"], namespace)
        except StatusError as error:
            if error.code != 404:
                raise
            await self.registry.create(ENDPOINTS, legacy, namespace)
            return
        if old.get("subsets") != legacy.get("subsets"):
            old["subsets"] = legacy.get("subsets", [])
            if not old["subsets"]:
                old.pop("subsets")
            with contextlib.suppress(StatusError):
                await self.registry.update(ENDPOINTS, old, namespace)

    async def _delete(self, rt: Any, name: str, namespace: str) -> None:
        try:
            await self.registry.delete(rt, name, namespace)
        except StatusError as error:
            if error.code != 404:
                raise
