"""A decoder for the protobuf request bodies kubectl 1.32 sends, answered in JSON.

client-go 1.32 prefers protobuf for its typed clients, so ``kubectl create namespace``,
``create configmap``, ``create secret`` and ``auth can-i`` POST
``application/vnd.kubernetes.protobuf`` bodies and do not fall back to JSON on a 415. Their Accept
header lists JSON too, so only *decoding* is needed.

Wire format (``k8s.io/apimachinery/pkg/runtime/serializer/protobuf``): the magic ``k8s\\0``, then a
``runtime.Unknown`` message ``{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
4: contentType}`` whose ``raw`` is the object's own message. Field numbers come from the
``generated.proto`` files of ``k8s.io/api``. Only the kinds and fields listed in :data:`MESSAGES`
are understood; any other kind is a clear 415.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Union

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """The body is not a protobuf message the lab understands."""


# A field is (json name, kind); kind is a scalar type name or a nested message spec.
Spec = Mapping[int, tuple[str, Union[str, "Spec"]]]

OBJECT_META: Spec = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    6: ("resourceVersion", "string"),
    11: ("labels", "map<string>"),
    12: ("annotations", "map<string>"),
    14: ("finalizers", "repeated<string>"),
}

DELETE_OPTIONS: Spec = {
    1: ("gracePeriodSeconds", "int"),
    2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
    3: ("orphanDependents", "bool"),
    4: ("propagationPolicy", "string"),
    5: ("dryRun", "repeated<string>"),
}

MESSAGES: dict[str, Spec] = {
    "Namespace": {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("finalizers", "repeated<string>")}),
    },
    "ConfigMap": {
        1: ("metadata", OBJECT_META),
        2: ("data", "map<string>"),
        3: ("binaryData", "map<bytes>"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", OBJECT_META),
        2: ("data", "map<bytes>"),
        3: ("type", "string"),
        4: ("stringData", "map<string>"),
        5: ("immutable", "bool"),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", OBJECT_META),
        2: (
            "spec",
            {
                1: (
                    "resourceAttributes",
                    {
                        1: ("namespace", "string"),
                        2: ("verb", "string"),
                        3: ("group", "string"),
                        4: ("version", "string"),
                        5: ("resource", "string"),
                        6: ("subresource", "string"),
                        7: ("name", "string"),
                    },
                ),
                2: ("nonResourceAttributes", {1: ("path", "string"), 2: ("verb", "string")}),
            },
        ),
    },
    "Eviction": {1: ("metadata", OBJECT_META), 2: ("deleteOptions", DELETE_OPTIONS)},
    "DeleteOptions": DELETE_OPTIONS,
}
"The messages the decoder knows, by kind."


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message: ints for varints, bytes otherwise."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated length-delimited field")
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string")
    try:
        return value.decode()
    except UnicodeDecodeError as error:
        raise ProtobufError("a string field is not UTF-8") from error


def decode_message(data: bytes, spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in fields(data):
        entry = spec.get(number)
        if entry is None:
            continue  # a field the lab does not use
        name, kind = entry
        if isinstance(kind, Mapping):
            if not isinstance(value, bytes):
                raise ProtobufError(f"{name}: expected a message")
            out[name] = decode_message(value, kind)
        elif kind == "string":
            out[name] = _text(value)
        elif kind in ("int", "bool"):
            if not isinstance(value, int):
                raise ProtobufError(f"{name}: expected a varint")
            out[name] = bool(value) if kind == "bool" else value - (1 << 64) * (value >> 63)
        elif kind == "repeated<string>":
            out.setdefault(name, []).append(_text(value))
        elif kind.startswith("map<"):
            if not isinstance(value, bytes):
                raise ProtobufError(f"{name}: expected a map entry")
            entry_fields = dict(fields(value))
            key = _text(entry_fields.get(1, b""))
            raw = entry_fields.get(2, b"")
            if kind == "map<bytes>":
                if not isinstance(raw, bytes):
                    raise ProtobufError(f"{name}: expected bytes")
                out.setdefault(name, {})[key] = base64.b64encode(raw).decode()
            else:
                out.setdefault(name, {})[key] = _text(raw)
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\0``-framed body into the JSON object it stands for."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic")
    envelope = dict(fields(body[len(MAGIC) :]))
    type_meta = envelope.get(1, b"")
    raw = envelope.get(2, b"")
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("malformed runtime.Unknown envelope")
    meta = {k: _text(v) for k, v in fields(type_meta) if k in (1, 2)}
    api_version, kind = meta.get(1, ""), meta.get(2, "")
    spec = MESSAGES.get(kind)
    if spec is None:
        raise ProtobufError(
            f"protobuf bodies of kind {kind or '<none>'!r} are not supported; send JSON"
        )
    obj = decode_message(raw, spec)
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
