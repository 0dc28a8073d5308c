"""A subset OpenAPI v3: enough for ``kubectl create/apply`` to validate on the server.

kubectl (``--validate=strict``, its default) downloads ``/openapi/v3`` and looks for the PATCH
operation of the object's group-version-kind. When that operation declares the ``fieldValidation``
query parameter, kubectl leaves validation to the server and sends ``fieldValidation=Strict``;
without any OpenAPI it refuses to create anything. So each group-version document lists, per kind,
the object paths with a PATCH operation carrying ``x-kubernetes-group-version-kind`` and that
parameter, plus the kind's schema from :mod:`sctpctl.lab.schema`.

The PATCH operations deliberately have no ``requestBody``: kubectl would then build strategic
merge patches from these schemas instead of its compiled-in types (``kubectl/pkg/cmd/apply``).
Documents are served under ``?hash=`` URLs derived from their content, because kubectl caches them
forever by URL.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from sctpctl.lab.kinds import RESOURCES, ResourceType, group_versions
from sctpctl.lab.schema import to_openapi

KUBERNETES_VERSION = "v1.32.4"

_QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force")


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rt: ResourceType) -> str:
    prefix = rt.group.split(".")[0] if rt.group else "core"
    return f"{prefix}.{rt.version}.{rt.kind}"


def _object_path(rt: ResourceType) -> str:
    base = f"/{gv_path(rt.group, rt.version)}"
    if rt.namespaced:
        base += "/namespaces/{namespace}"
    return f"{base}/{rt.plural}/{{name}}"


@cache
def document(group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group-version (``None`` when it is not served)."""
    if (group, version) not in group_versions():
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in RESOURCES:
        if rt.group != group or rt.version != version or "patch" not in rt.verbs:
            continue
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        paths[_object_path(rt)] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in _QUERY_PARAMETERS
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
        schema = to_openapi(rt.schema)
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[_schema_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }


@cache
def document_bytes(group: str, version: str) -> bytes | None:
    doc = document(group, version)
    return None if doc is None else json.dumps(doc, separators=(",", ":")).encode()


def document_hash(group: str, version: str) -> str:
    body = document_bytes(group, version) or b""
    return hashlib.sha512(body).hexdigest()[:32].upper()


def index() -> dict[str, Any]:
    """``/openapi/v3``: one entry per group-version, with a content-derived URL."""
    return {
        "paths": {
            gv_path(g, v): {
                "serverRelativeURL": f"/openapi/v3/{gv_path(g, v)}?hash={document_hash(g, v)}"
            }
            for g, v in group_versions()
        }
    }
