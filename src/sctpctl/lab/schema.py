"""The shapes of the objects the lab serves, written once and used four ways.

A real API server decodes a request body into Go structs: a field the struct does not have is
"unknown" (an error under ``fieldValidation=Strict``, a warning under ``Warn``, silently dropped
under ``Ignore``), and a value of the wrong JSON type is a 400. The lab has no Go structs, so this
module describes the same structs as a small tree of :class:`Node` values, and that one tree

1. decodes request bodies (:func:`decode`: type errors, unknown fields, pruning),
2. drives strategic merge patch (:class:`ListOf` carries ``x-kubernetes-patch-merge-key`` and
   ``x-kubernetes-patch-strategy``),
3. becomes the OpenAPI v3 ``components.schemas`` that kubectl downloads (:func:`to_openapi`).

Where an object is described only in part, the node is *open* (``open=True`` or :data:`ANY`):
unknown fields there are kept, never reported. That keeps the lab honest: it rejects only what the
real server would reject, and accepts every real field it does not model in detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ScalarType = Literal["string", "integer", "boolean", "number", "int-or-string"]


class Node:
    """A node of a schema tree."""


@dataclass(frozen=True)
class Scalar(Node):
    type: ScalarType


@dataclass(frozen=True)
class Free(Node):
    """Any JSON value, kept as it is (``x-kubernetes-preserve-unknown-fields``)."""


@dataclass(frozen=True)
class Obj(Node):
    fields: Mapping[str, Node]
    open: bool = False
    "Unknown fields are kept instead of being reported (a partly described struct)."


@dataclass(frozen=True)
class ListOf(Node):
    item: Node
    merge_key: str | None = None
    "``x-kubernetes-patch-merge-key``: strategic merge patch merges items by this field."
    strategy: Literal["merge", "replace"] = "replace"
    "``x-kubernetes-patch-strategy``: ``merge`` merges (by key, or as a set of primitives)."


@dataclass(frozen=True)
class MapOf(Node):
    value: Node


STRING = Scalar("string")
INTEGER = Scalar("integer")
BOOLEAN = Scalar("boolean")
NUMBER = Scalar("number")
INT_OR_STRING = Scalar("int-or-string")
ANY = Free()
OPEN = Obj({}, open=True)
STRINGS = ListOf(STRING)
STRING_MAP = MapOf(STRING)


# --- decoding ---------------------------------------------------------------------------------


@dataclass
class Decoded:
    """The result of decoding a body against a schema."""

    value: Any
    "The body with unknown fields removed (what a Go struct would keep)."
    unknown: list[str] = field(default_factory=list)
    "Paths of the unknown fields, in the real server's notation (``spec.containers[0].bogus``)."


class SchemaTypeError(ValueError):
    """A value has the wrong JSON type for its field."""

    def __init__(self, path: str, expected: str, got: Any) -> None:
        self.path = path
        self.expected = expected
        super().__init__(f"{path or '<root>'}: expected {expected}, got {_json_type(got)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _decode(node: Node, value: Any, path: str, unknown: list[str]) -> Any:
    # null is the JSON zero value of every Go field: the real decoder accepts it everywhere.
    if value is None or isinstance(node, Free):
        return value
    if isinstance(node, Scalar):
        return _decode_scalar(node, value, path)
    if isinstance(node, Obj):
        if not isinstance(value, dict):
            raise SchemaTypeError(path, "object", value)
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = node.fields.get(key)
            if child is None:
                if node.open or key.startswith("$"):  # "$" keys are patch directives
                    out[key] = item
                else:
                    unknown.append(_join(path, key))
                continue
            out[key] = _decode(child, item, _join(path, key), unknown)
        return out
    if isinstance(node, ListOf):
        if not isinstance(value, list):
            raise SchemaTypeError(path, "array", value)
        return [_decode(node.item, item, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    if isinstance(node, MapOf):
        if not isinstance(value, dict):
            raise SchemaTypeError(path, "object", value)
        return {k: _decode(node.value, v, _join(path, k), unknown) for k, v in value.items()}
    raise TypeError(f"unknown schema node {node!r}")


def _decode_scalar(node: Scalar, value: Any, path: str) -> Any:
    kind = node.type
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "integer" and is_int:
        return value
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "number" and (is_int or isinstance(value, float)):
        return value
    if kind == "int-or-string" and (is_int or isinstance(value, str)):
        return value
    raise SchemaTypeError(path, kind.replace("-", " or "), value)


def decode(node: Node, value: Any) -> Decoded:
    """Decode ``value`` against ``node``: raise on wrong types, report and drop unknown fields."""
    unknown: list[str] = []
    pruned = _decode(node, value, "", unknown)
    return Decoded(pruned, unknown)


def child(node: Node | None, key: str) -> Node | None:
    """The schema of field ``key`` of an object node (``None`` when not described)."""
    if isinstance(node, Obj):
        return node.fields.get(key)
    if isinstance(node, MapOf):
        return node.value
    return None


# --- OpenAPI ----------------------------------------------------------------------------------


def to_openapi(node: Node) -> dict[str, Any]:
    """The OpenAPI v3 schema of ``node``, with the Kubernetes extensions kubectl reads."""
    if isinstance(node, Free):
        return {"x-kubernetes-preserve-unknown-fields": True}
    if isinstance(node, Scalar):
        if node.type == "int-or-string":
            return {"x-kubernetes-int-or-string": True}
        return {"type": node.type}
    if isinstance(node, Obj):
        doc: dict[str, Any] = {"type": "object"}
        if node.fields:
            doc["properties"] = {k: to_openapi(v) for k, v in node.fields.items()}
        if node.open:
            doc["x-kubernetes-preserve-unknown-fields"] = True
        return doc
    if isinstance(node, ListOf):
        doc = {"type": "array", "items": to_openapi(node.item)}
        if node.merge_key:
            doc["x-kubernetes-patch-merge-key"] = node.merge_key
        if node.strategy == "merge":
            doc["x-kubernetes-patch-strategy"] = "merge"
        return doc
    if isinstance(node, MapOf):
        return {"type": "object", "additionalProperties": to_openapi(node.value)}
    raise TypeError(f"unknown schema node {node!r}")


# --- the shapes -------------------------------------------------------------------------------

OWNER_REFERENCE = Obj(
    {
        "apiVersion": STRING,
        "kind": STRING,
        "name": STRING,
        "uid": STRING,
        "controller": BOOLEAN,
        "blockOwnerDeletion": BOOLEAN,
    }
)

OBJECT_META = Obj(
    {
        "name": STRING,
        "generateName": STRING,
        "namespace": STRING,
        "selfLink": STRING,
        "uid": STRING,
        "resourceVersion": STRING,
        "generation": INTEGER,
        "creationTimestamp": STRING,
        "deletionTimestamp": STRING,
        "deletionGracePeriodSeconds": INTEGER,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "ownerReferences": ListOf(OWNER_REFERENCE, merge_key="uid", strategy="merge"),
        "finalizers": ListOf(STRING, strategy="merge"),
        "managedFields": ListOf(OPEN),
    }
)

LABEL_SELECTOR = Obj(
    {
        "matchLabels": STRING_MAP,
        "matchExpressions": ListOf(Obj({"key": STRING, "operator": STRING, "values": STRINGS})),
    }
)

CONDITIONS = ListOf(OPEN, merge_key="type", strategy="merge")


def kind_object(spec: Node | None = None, status: Node | None = None, **extra: Node) -> Obj:
    """A top-level object: apiVersion, kind, metadata, and the kind's own fields."""
    fields: dict[str, Node] = {"apiVersion": STRING, "kind": STRING, "metadata": OBJECT_META}
    if spec is not None:
        fields["spec"] = spec
    if status is not None:
        fields["status"] = status
    fields.update(extra)
    return Obj(fields)


CONTAINER_PORT = Obj(
    {
        "name": STRING,
        "hostPort": INTEGER,
        "containerPort": INTEGER,
        "protocol": STRING,
        "hostIP": STRING,
    }
)

ENV_VAR = Obj({"name": STRING, "value": STRING, "valueFrom": OPEN})

RESOURCES = Obj(
    {
        "limits": MapOf(INT_OR_STRING),
        "requests": MapOf(INT_OR_STRING),
        "claims": ListOf(OPEN),
    }
)

VOLUME_MOUNT = Obj(
    {
        "name": STRING,
        "readOnly": BOOLEAN,
        "recursiveReadOnly": STRING,
        "mountPath": STRING,
        "subPath": STRING,
        "mountPropagation": STRING,
        "subPathExpr": STRING,
    }
)

CONTAINER = Obj(
    {
        "name": STRING,
        "image": STRING,
        "command": STRINGS,
        "args": STRINGS,
        "workingDir": STRING,
        "ports": ListOf(CONTAINER_PORT, merge_key="containerPort", strategy="merge"),
        "envFrom": ListOf(OPEN),
        "env": ListOf(ENV_VAR, merge_key="name", strategy="merge"),
        "resources": RESOURCES,
        "resizePolicy": ListOf(OPEN),
        "restartPolicy": STRING,
        "volumeMounts": ListOf(VOLUME_MOUNT, merge_key="mountPath", strategy="merge"),
        "volumeDevices": ListOf(OPEN, merge_key="devicePath", strategy="merge"),
        "livenessProbe": OPEN,
        "readinessProbe": OPEN,
        "startupProbe": OPEN,
        "lifecycle": OPEN,
        "terminationMessagePath": STRING,
        "terminationMessagePolicy": STRING,
        "imagePullPolicy": STRING,
        "securityContext": OPEN,
        "stdin": BOOLEAN,
        "stdinOnce": BOOLEAN,
        "tty": BOOLEAN,
    }
)

VOLUME = Obj(
    {
        "name": STRING,
        "hostPath": Obj({"path": STRING, "type": STRING}),
        "emptyDir": OPEN,
        "configMap": OPEN,
        "secret": OPEN,
        "projected": OPEN,
        "persistentVolumeClaim": OPEN,
        "downwardAPI": OPEN,
        "ephemeral": OPEN,
        "csi": OPEN,
        "nfs": OPEN,
        "image": OPEN,
    },
    # Volume sources are many and deprecated ones still decode; only the common ones are typed.
    open=True,
)

POD_SPEC = Obj(
    {
        "volumes": ListOf(VOLUME, merge_key="name", strategy="merge"),
        "initContainers": ListOf(CONTAINER, merge_key="name", strategy="merge"),
        "containers": ListOf(CONTAINER, merge_key="name", strategy="merge"),
        "ephemeralContainers": ListOf(OPEN, merge_key="name", strategy="merge"),
        "restartPolicy": STRING,
        "terminationGracePeriodSeconds": INTEGER,
        "activeDeadlineSeconds": INTEGER,
        "dnsPolicy": STRING,
        "nodeSelector": STRING_MAP,
        "serviceAccountName": STRING,
        "serviceAccount": STRING,
        "automountServiceAccountToken": BOOLEAN,
        "nodeName": STRING,
        "hostNetwork": BOOLEAN,
        "hostPID": BOOLEAN,
        "hostIPC": BOOLEAN,
        "shareProcessNamespace": BOOLEAN,
        "securityContext": OPEN,
        "imagePullSecrets": ListOf(OPEN, merge_key="name", strategy="merge"),
        "hostname": STRING,
        "subdomain": STRING,
        "affinity": OPEN,
        "schedulerName": STRING,
        "tolerations": ListOf(OPEN),
        "hostAliases": ListOf(OPEN, merge_key="ip", strategy="merge"),
        "priorityClassName": STRING,
        "priority": INTEGER,
        "dnsConfig": OPEN,
        "readinessGates": ListOf(OPEN),
        "runtimeClassName": STRING,
        "enableServiceLinks": BOOLEAN,
        "preemptionPolicy": STRING,
        "overhead": MapOf(INT_OR_STRING),
        "topologySpreadConstraints": ListOf(OPEN, merge_key="topologyKey", strategy="merge"),
        "setHostnameAsFQDN": BOOLEAN,
        "os": OPEN,
        "hostUsers": BOOLEAN,
        "schedulingGates": ListOf(OPEN, merge_key="name", strategy="merge"),
        "resourceClaims": ListOf(OPEN, merge_key="name", strategy="merge"),
        "resources": RESOURCES,
    }
)

POD_STATUS = Obj(
    {
        "phase": STRING,
        "conditions": CONDITIONS,
        "message": STRING,
        "reason": STRING,
        "nominatedNodeName": STRING,
        "hostIP": STRING,
        "hostIPs": ListOf(OPEN, merge_key="ip", strategy="merge"),
        "podIP": STRING,
        "podIPs": ListOf(OPEN, merge_key="ip", strategy="merge"),
        "startTime": STRING,
        "initContainerStatuses": ListOf(OPEN),
        "containerStatuses": ListOf(OPEN),
        "qosClass": STRING,
        "ephemeralContainerStatuses": ListOf(OPEN),
        "resize": STRING,
        "resourceClaimStatuses": ListOf(OPEN, merge_key="name", strategy="merge"),
    },
    open=True,
)

POD_TEMPLATE = Obj({"metadata": OBJECT_META, "spec": POD_SPEC})

SERVICE_PORT = Obj(
    {
        "name": STRING,
        "protocol": STRING,
        "appProtocol": STRING,
        "port": INTEGER,
        "targetPort": INT_OR_STRING,
        "nodePort": INTEGER,
    }
)

SERVICE_SPEC = Obj(
    {
        "ports": ListOf(SERVICE_PORT, merge_key="port", strategy="merge"),
        "selector": STRING_MAP,
        "clusterIP": STRING,
        "clusterIPs": STRINGS,
        "type": STRING,
        "externalIPs": STRINGS,
        "sessionAffinity": STRING,
        "loadBalancerIP": STRING,
        "loadBalancerSourceRanges": STRINGS,
        "externalName": STRING,
        "externalTrafficPolicy": STRING,
        "healthCheckNodePort": INTEGER,
        "publishNotReadyAddresses": BOOLEAN,
        "sessionAffinityConfig": OPEN,
        "ipFamilies": STRINGS,
        "ipFamilyPolicy": STRING,
        "allocateLoadBalancerNodePorts": BOOLEAN,
        "loadBalancerClass": STRING,
        "internalTrafficPolicy": STRING,
        "trafficDistribution": STRING,
    }
)

NETWORK_POLICY_PORT = Obj({"protocol": STRING, "port": INT_OR_STRING, "endPort": INTEGER})
NETWORK_POLICY_PEER = Obj(
    {
        "podSelector": LABEL_SELECTOR,
        "namespaceSelector": LABEL_SELECTOR,
        "ipBlock": Obj({"cidr": STRING, "except": STRINGS}),
    }
)
NETWORK_POLICY_SPEC = Obj(
    {
        "podSelector": LABEL_SELECTOR,
        "ingress": ListOf(
            Obj({"from": ListOf(NETWORK_POLICY_PEER), "ports": ListOf(NETWORK_POLICY_PORT)})
        ),
        "egress": ListOf(
            Obj({"to": ListOf(NETWORK_POLICY_PEER), "ports": ListOf(NETWORK_POLICY_PORT)})
        ),
        "policyTypes": STRINGS,
    }
)

NODE_SPEC = Obj(
    {
        "podCIDR": STRING,
        "podCIDRs": ListOf(STRING, strategy="merge"),
        "providerID": STRING,
        "unschedulable": BOOLEAN,
        "taints": ListOf(OPEN),
        "configSource": OPEN,
        "externalID": STRING,
    }
)

NODE_STATUS = Obj(
    {
        "capacity": MapOf(INT_OR_STRING),
        "allocatable": MapOf(INT_OR_STRING),
        "phase": STRING,
        "conditions": CONDITIONS,
        "addresses": ListOf(OPEN, merge_key="type", strategy="merge"),
        "daemonEndpoints": OPEN,
        "nodeInfo": OPEN,
        "images": ListOf(OPEN),
        "volumesInUse": STRINGS,
        "volumesAttached": ListOf(OPEN),
        "config": OPEN,
        "runtimeHandlers": ListOf(OPEN),
        "features": OPEN,
    }
)

DAEMON_SET_SPEC = Obj(
    {
        "selector": LABEL_SELECTOR,
        "template": POD_TEMPLATE,
        "updateStrategy": OPEN,
        "minReadySeconds": INTEGER,
        "revisionHistoryLimit": INTEGER,
    }
)

ENDPOINT_PORT = Obj({"name": STRING, "port": INTEGER, "protocol": STRING, "appProtocol": STRING})

MACHINE_CONFIG_SPEC = Obj(
    {
        "config": ANY,
        "extensions": STRINGS,
        "fips": BOOLEAN,
        "kernelArguments": STRINGS,
        "kernelType": STRING,
        "osImageURL": STRING,
        "baseOSExtensionsContainerImage": STRING,
    }
)

MACHINE_CONFIG_POOL_SPEC = Obj(
    {
        "configuration": OPEN,
        "machineConfigSelector": LABEL_SELECTOR,
        "nodeSelector": LABEL_SELECTOR,
        "maxUnavailable": INT_OR_STRING,
        "paused": BOOLEAN,
        "osImageStream": OPEN,
        "pinnedImageSets": ListOf(OPEN),
    }
)

MACHINE_CONFIG_POOL_STATUS = Obj(
    {
        "observedGeneration": INTEGER,
        "configuration": OPEN,
        "machineCount": INTEGER,
        "updatedMachineCount": INTEGER,
        "readyMachineCount": INTEGER,
        "unavailableMachineCount": INTEGER,
        "degradedMachineCount": INTEGER,
        "conditions": CONDITIONS,
        "certExpirys": ListOf(OPEN),
        "poolSynchronizersStatus": ListOf(OPEN),
    },
    open=True,
)

SCHEMAS: dict[str, Obj] = {
    "Namespace": kind_object(Obj({"finalizers": STRINGS}), OPEN),
    "Node": kind_object(NODE_SPEC, NODE_STATUS),
    "Pod": kind_object(POD_SPEC, POD_STATUS),
    "Service": kind_object(SERVICE_SPEC, OPEN),
    "Endpoints": kind_object(
        subsets=ListOf(
            Obj(
                {
                    "addresses": ListOf(OPEN),
                    "notReadyAddresses": ListOf(OPEN),
                    "ports": ListOf(ENDPOINT_PORT),
                }
            )
        )
    ),
    "EndpointSlice": kind_object(
        addressType=STRING, endpoints=ListOf(OPEN), ports=ListOf(ENDPOINT_PORT)
    ),
    "ConfigMap": kind_object(data=STRING_MAP, binaryData=STRING_MAP, immutable=BOOLEAN),
    "Secret": kind_object(data=STRING_MAP, stringData=STRING_MAP, type=STRING, immutable=BOOLEAN),
    "Event": kind_object(
        involvedObject=OPEN,
        reason=STRING,
        message=STRING,
        source=OPEN,
        firstTimestamp=STRING,
        lastTimestamp=STRING,
        count=INTEGER,
        type=STRING,
        eventTime=STRING,
        series=OPEN,
        action=STRING,
        related=OPEN,
        reportingComponent=STRING,
        reportingInstance=STRING,
    ),
    "ServiceAccount": kind_object(
        secrets=ListOf(OPEN, merge_key="name", strategy="merge"),
        imagePullSecrets=ListOf(OPEN),
        automountServiceAccountToken=BOOLEAN,
    ),
    "NetworkPolicy": kind_object(NETWORK_POLICY_SPEC),
    "DaemonSet": kind_object(DAEMON_SET_SPEC, OPEN),
    "MachineConfig": kind_object(MACHINE_CONFIG_SPEC),
    "MachineConfigPool": kind_object(MACHINE_CONFIG_POOL_SPEC, MACHINE_CONFIG_POOL_STATUS),
    "SelfSubjectAccessReview": kind_object(OPEN, OPEN),
    "Eviction": kind_object(deleteOptions=OPEN),
    "Binding": kind_object(target=OPEN),
}
"The schema of every kind the lab decodes, by kind."
