"""An in-memory cluster behind sctpctl's ``Client`` interface, for what the lab cannot show: a
cluster without the MachineConfig API group, and an account without some permission.

It serves the kinds it is given, refuses the (verb, kind) pairs in ``forbidden`` with 403 (and
says so in access reviews), and can stand in for the kubelet of status check pods: a check pod
created while ``node_reports`` holds its node's report finishes at once with that output.
A watch replays the changes after its resourceVersion and ends (the caller watches again).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from sctpctl.k8s.client import ExecResult, Obj, ResourceInfo, WatchEvent
from sctpctl.k8s.errors import AlreadyExists, Forbidden, NotFound
from tests.fakestore import ObjectStore

CORE_KINDS = {
    ("v1", "Node"): ("nodes", False),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): ("selfsubjectaccessreviews", False),
}
MC_KINDS = {
    ("machineconfiguration.openshift.io/v1", "MachineConfig"): ("machineconfigs", False),
    ("machineconfiguration.openshift.io/v1", "MachineConfigPool"): ("machineconfigpools", False),
}


def _forbidden(verb: str, plural: str) -> Forbidden:
    message = f'{plural} is forbidden: User "dev" cannot {verb} resource "{plural}"'
    return Forbidden({"code": 403, "reason": "Forbidden", "message": message}, code=403)


class FakeCluster(ObjectStore):
    def __init__(
        self,
        objects: Sequence[Obj] = (),
        *,
        openshift: bool = True,
        forbidden: set[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.kinds = {**CORE_KINDS, **(MC_KINDS if openshift else {})}
        self.forbidden = forbidden or set()
        self.reviews_allow_all = False
        "Access reviews say yes to everything (the policy changes between review and call)."
        self.node_reports: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.watching = asyncio.Event()
        "Set once something watches (for status: once every check pod exists)."
        for obj in objects:
            self._store(copy.deepcopy(obj))

    def _check(self, verb: str, kind: str) -> None:
        self.calls.append((verb, kind))
        for (_, known), (plural, _) in self.kinds.items():
            if known == kind:
                if (verb, plural) in self.forbidden:
                    raise _forbidden(verb, plural)
                return
        raise NotFound({"code": 404, "message": f"no {kind}"}, code=404)

    # --- the rest of the Client interface -----------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        found = self.kinds.get((api_version, kind))
        if found is None:
            raise NotFound({"code": 404, "message": f"no {kind} in {api_version}"}, code=404)
        return ResourceInfo(api_version, kind, found[0], found[1])

    async def create(
        self, body: Obj, *, namespace: str | None = None, dry_run: bool = False
    ) -> Obj:
        kind = body["kind"]
        self._check("create", kind)
        obj = copy.deepcopy(body)
        if kind == "SelfSubjectAccessReview":
            attributes = obj["spec"]["resourceAttributes"]
            denied = (attributes["verb"], attributes["resource"]) in self.forbidden
            denied = denied and not self.reviews_allow_all
            obj["status"] = {"allowed": not denied}
            return obj
        meta = obj.setdefault("metadata", {})
        if namespace and not meta.get("namespace"):
            meta["namespace"] = namespace
        if not meta.get("name"):
            meta["name"] = meta.get("generateName", "x-") + str(self.version + 1)
        if self.key(obj) in self.objects:
            raise AlreadyExists({"code": 409, "reason": "AlreadyExists"}, code=409)
        if kind == "Pod":
            node = obj["spec"].get("nodeName")
            if node in self.node_reports:
                obj["status"] = {"phase": "Succeeded"}
                meta["annotations"] = {"log": json.dumps(self.node_reports[node])}
        return self._store(obj)

    async def watch(
        self, api_version: str, kind: str, *, resource_version: str | None = None, **_: Any
    ) -> AsyncGenerator[WatchEvent, None]:
        self._check("watch", kind)
        self.watching.set()
        since = int(resource_version or 0)
        for version, event_type, obj in list(self.events):
            if version > since and obj["kind"] == kind:
                yield WatchEvent(event_type, copy.deepcopy(obj))

    async def exec(self, namespace: str, pod: str, command: Sequence[str], **_: Any) -> ExecResult:
        raise NotImplementedError("the commands under test do not exec")

    async def logs(self, namespace: str, pod: str, **_: Any) -> str:
        self._check("get", "Pod")
        found = self.objects[("Pod", namespace, pod)]
        return str(found["metadata"].get("annotations", {}).get("log", ""))
