"""Patch formats against the lab's schemas: list merge keys and directives."""

from __future__ import annotations

import pytest

from sctpctl.lab.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from sctpctl.lab.schema import SCHEMAS

SERVICE = {"spec": {"ports": [{"name": "ngap", "port": 38412, "protocol": "SCTP",
                               "nodePort": 30001}], "selector": {"app": "a"}}}  # fmt: skip


def test_kubectl_apply_port_change_replaces_the_port_by_merge_key() -> None:
    patch = {"spec": {"$setElementOrder/ports": [{"port": 38413}], "ports": [
        {"name": "ngap", "port": 38413, "protocol": "SCTP", "targetPort": 38413},
        {"$patch": "delete", "port": 38412}]}}  # fmt: skip
    out = strategic_merge_patch(SERVICE, patch, SCHEMAS["Service"])
    assert out["spec"]["ports"] == [
        {"name": "ngap", "port": 38413, "protocol": "SCTP", "targetPort": 38413}
    ]
    assert out["spec"]["selector"] == {"app": "a"}


def test_strategic_merge_merges_containers_by_name_and_keeps_other_fields() -> None:
    pod = {"spec": {"containers": [{"name": "a", "image": "1", "args": ["x"]},
                                   {"name": "b", "image": "2"}]}}  # fmt: skip
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "b", "image": "3"}]}},
                                SCHEMAS["Pod"])  # fmt: skip
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "1", "args": ["x"]},
        {"name": "b", "image": "3"},
    ]


def test_replace_directive_and_primitive_list_deletion() -> None:
    meta = {"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}}}
    out = strategic_merge_patch(
        meta,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"],
                      "labels": {"$patch": "replace", "z": "3"}}},
        SCHEMAS["Pod"],
    )  # fmt: skip
    assert out["metadata"] == {"finalizers": ["b"], "labels": {"z": "3"}}


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    out = merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None}, "l": [3]})
    assert out == {"a": {"c": 2}, "l": [3]}


def test_json_patch_operations_and_failures() -> None:
    doc = {"a": [1, 2], "b": {"c~d": 1}}
    out = json_patch(doc, [
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "replace", "path": "/b/c~0d", "value": 2},
        {"op": "move", "from": "/a/0", "path": "/m"},
        {"op": "test", "path": "/m", "value": 1},
    ])  # fmt: skip
    assert out == {"a": [2, 3], "b": {"c~d": 2}, "m": 1}
    assert doc == {"a": [1, 2], "b": {"c~d": 1}}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "remove", "path": "/nope"}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "test", "path": "/a/0", "value": 9}])
