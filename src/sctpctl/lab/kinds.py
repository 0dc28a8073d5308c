"""The resources the lab serves: one row each, read by the registry, discovery, OpenAPI and tables.

Adding a kind is adding a row here (and its shape in :mod:`sctpctl.lab.schema`); everything that
lists resources iterates :data:`RESOURCES`, so discovery cannot forget one that the router serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sctpctl.lab.schema import SCHEMAS, Obj


class NameRule(Enum):
    """Which DNS rule a kind's names follow (``k8s.io/apimachinery/pkg/util/validation``)."""

    SUBDOMAIN = "subdomain"
    "RFC 1123 subdomain: lower-case alphanumerics, ``-`` and ``.``, at most 253 characters."
    LABEL = "label"
    "RFC 1123 label: lower-case alphanumerics and ``-``, at most 63 characters (namespaces)."
    LABEL_1035 = "label-1035"
    "RFC 1035 label: as a 1123 label, but starting with a letter (services)."
    ANY_PATH_SEGMENT = "path-segment"
    "Anything that fits in a URL path segment (events, whose names carry dots and digits)."


ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None
    "The group of :attr:`kind` when it differs from the parent's (``policy`` for Eviction)."
    version: str = "v1"


STATUS = Subresource("status", "", STATUS_VERBS)  # "" = the parent's kind


@dataclass(frozen=True)
class ResourceType:
    """One served resource (``pods``) of one group-version (``v1``)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    custom: bool = False
    "A custom resource: no strategic merge patch (415), as on a real server."
    names: NameRule = NameRule.SUBDOMAIN
    stored: bool = True
    "False for review kinds, which are answered and forgotten."

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """The store's name for this resource: ``<group>/<plural>``."""
        return f"{self.group}/{self.plural}"

    @property
    def schema(self) -> Obj:
        return SCHEMAS[self.kind]

    @property
    def has_status(self) -> bool:
        return any(s.name == "status" for s in self.subresources)

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


CORE = ""
MCO = "machineconfiguration.openshift.io"

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        CORE,
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        False,
        ("ns",),
        subresources=(STATUS,),
        names=NameRule.LABEL,
    ),
    ResourceType(CORE, "v1", "Node", "nodes", "node", False, ("no",), subresources=(STATUS,)),
    ResourceType(
        CORE,
        "v1",
        "Pod",
        "pods",
        "pod",
        True,
        ("po",),
        ("all",),
        subresources=(
            STATUS,
            Subresource("log", "Pod", ("get",)),
            Subresource("exec", "PodExecOptions", ("create", "get")),
            Subresource("eviction", "Eviction", ("create",), group="policy"),
            Subresource("binding", "Binding", ("create",)),
        ),
    ),
    ResourceType(
        CORE,
        "v1",
        "Service",
        "services",
        "service",
        True,
        ("svc",),
        ("all",),
        subresources=(STATUS,),
        names=NameRule.LABEL_1035,
    ),
    ResourceType(CORE, "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",)),
    ResourceType(CORE, "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    ResourceType(CORE, "v1", "Secret", "secrets", "secret", True),
    ResourceType(
        CORE,
        "v1",
        "Event",
        "events",
        "event",
        True,
        ("ev",),
        names=NameRule.ANY_PATH_SEGMENT,
    ),
    ResourceType(CORE, "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",)),
    ResourceType(
        "discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        True,
        ("netpol",),
    ),
    ResourceType(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        True,
        ("ds",),
        ("all",),
        subresources=(STATUS,),
    ),
    ResourceType(
        MCO, "v1", "MachineConfig", "machineconfigs", "machineconfig", False, ("mc",), custom=True
    ),
    ResourceType(
        MCO,
        "v1",
        "MachineConfigPool",
        "machineconfigpools",
        "machineconfigpool",
        False,
        ("mcp",),
        subresources=(STATUS,),
        custom=True,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        False,
        verbs=("create",),
        stored=False,
    ),
)
"Every served resource, in discovery order."


def group_versions() -> list[tuple[str, str]]:
    """(group, version) pairs in first-seen order; the core group is ``""``."""
    seen: list[tuple[str, str]] = []
    for rt in RESOURCES:
        if (rt.group, rt.version) not in seen:
            seen.append((rt.group, rt.version))
    return seen


def find(group: str, version: str, plural: str) -> ResourceType | None:
    for rt in RESOURCES:
        if rt.group == group and rt.version == version and rt.plural == plural:
            return rt
    return None


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    for rt in RESOURCES:
        if rt.api_version == api_version and rt.kind == kind:
            return rt
    return None


def resource(plural: str, group: str = CORE) -> ResourceType:
    """The resource ``plural`` of ``group`` (for in-process callers: ``resource("pods")``)."""
    for rt in RESOURCES:
        if rt.group == group and rt.plural == plural:
            return rt
    raise KeyError(f"the lab serves no resource {plural!r} in group {group!r}")
