"""API discovery documents, in the three forms clients ask for.

- Aggregated discovery (``apidiscovery.k8s.io`` ``v2`` and ``v2beta1``): one document for ``/api``
  and one for ``/apis`` listing every resource. kubectl >= 1.30 asks for v2 first, 1.27-1.29 only
  for v2beta1; the server answers with the first version in the client's Accept header that it
  serves, because answering v2 to a v2beta1 client makes it see no resources at all.
- Legacy discovery (``APIVersions``, ``APIGroupList``, ``APIGroup``, ``APIResourceList``) for every
  other Accept header: the Python clients' DynamicClient and kr8s use it.

Everything is generated from :data:`sctpctl.lab.kinds.RESOURCES`.
"""

from __future__ import annotations

from typing import Any

from sctpctl.lab.kinds import RESOURCES, ResourceType, group_versions

AGGREGATED_VERSIONS = ("v2", "v2beta1")


def aggregated_version(accept: str) -> str | None:
    """The aggregated discovery version to answer with, from an Accept header, or ``None``."""
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if (
            params.get("g") == "apidiscovery.k8s.io"
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("v") in AGGREGATED_VERSIONS
        ):
            return params["v"]
    return None


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        doc["shortNames"] = list(rt.short_names)
    if rt.categories:
        doc["categories"] = list(rt.categories)
    if rt.subresources:
        doc["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {
                    "group": rt.group if sub.group is None else sub.group,
                    "version": sub.version if sub.group is not None else rt.version,
                    "kind": sub.kind or rt.kind,
                },
                "verbs": list(sub.verbs),
            }
            for sub in rt.subresources
        ]
    return doc


def aggregated(version: str, *, core: bool) -> dict[str, Any]:
    """The aggregated document for ``/api`` (``core=True``) or ``/apis``."""
    items = []
    for group, gv_version in group_versions():
        if (group == "") != core:
            continue
        items.append(
            {
                "metadata": {"name": group},
                "versions": [
                    {
                        "version": gv_version,
                        "freshness": "Current",
                        "resources": [
                            _aggregated_resource(rt)
                            for rt in RESOURCES
                            if rt.group == group and rt.version == gv_version
                        ],
                    }
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(group: str) -> dict[str, Any]:
    versions = [
        {"groupVersion": f"{group}/{v}", "version": v} for g, v in group_versions() if g == group
    ]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def api_group_list() -> dict[str, Any]:
    groups: list[str] = []
    for group, _version in group_versions():
        if group and group not in groups:
            groups.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in groups]}


def api_group(group: str) -> dict[str, Any] | None:
    if not group or all(g != group for g, _v in group_versions()):
        return None
    return _group(group)


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The ``APIResourceList`` of one group-version (``None`` when it is not served)."""
    if (group, version) not in group_versions():
        return None
    resources: list[dict[str, Any]] = []
    for rt in RESOURCES:
        if rt.group != group or rt.version != version:
            continue
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in rt.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub.name}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": sub.kind or rt.kind,
                "verbs": list(sub.verbs),
            }
            if sub.group is not None:
                sub_entry["group"], sub_entry["version"] = sub.group, sub.version
            resources.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
