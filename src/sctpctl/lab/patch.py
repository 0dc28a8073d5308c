"""The four patch formats of the Kubernetes API, as pure functions of (object, patch) -> object.

- JSON Patch (RFC 6902, ``application/json-patch+json``): a list of operations on JSON pointers
  (RFC 6901).
- JSON Merge Patch (RFC 7386, ``application/merge-patch+json``): maps merge recursively, ``null``
  deletes, anything else (lists included) replaces.
- Strategic merge patch (``application/strategic-merge-patch+json``, built-in kinds only): a merge
  patch in which lists whose schema says ``patchStrategy: merge`` are merged, by their
  ``patchMergeKey`` for lists of maps, as sets for lists of primitives; with the directives
  ``$patch: replace|delete|merge``, ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``
  and ``$retainKeys`` (``k8s.io/apimachinery/pkg/util/strategicpatch``). The merge keys come from
  :mod:`sctpctl.lab.schema`.
- Apply (``application/apply-patch+yaml``): server-side apply approximated as "merge the applied
  configuration in, strategically for built-in kinds"; field ownership is not tracked.

Every function raises :class:`PatchError` for a patch that cannot be applied; the registry turns
it into the 422 a real server sends.
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any

from sctpctl.lab.schema import ListOf, Node, child


class PatchType(Enum):
    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


class PatchError(ValueError):
    """The patch is malformed or does not apply to the object."""


# --- RFC 6902 ---------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    """RFC 6901 §3-4: ``/a/b~1c`` is ``["a", "b/c"]``; ``~1`` is ``/``, ``~0`` is ``~``."""
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}: must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if for_insert and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (not for_insert and index == len(container)):
        raise PatchError(f"array index {index} out of bounds")
    return index


def _walk(doc: Any, tokens: list[str], path: str) -> Any:
    """The value ``tokens`` lead to in ``doc``; a missing step is a :class:`PatchError`."""
    target = doc
    for token in tokens:
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list):
            target = target[_index(target, token, for_insert=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return target


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    return _walk(doc, tokens[:-1], path)


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _pointer(path), path)


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], for_insert=True), value)
    else:
        raise PatchError(f"path {path!r} does not exist")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    if isinstance(parent, dict) and tokens[-1] in parent:
        del parent[tokens[-1]]
    elif isinstance(parent, list):
        del parent[_index(parent, tokens[-1], for_insert=False)]
    else:
        raise PatchError(f"path {path!r} does not exist")
    return doc


def json_patch(obj: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch; the input is not modified."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(obj)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"operation {number} needs 'op' and 'path'")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {number} ({kind}) needs a 'value'")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # RFC 6902 §4.3: the target must exist
            doc = _remove(doc, path) if _pointer(path) else doc
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f"operation {number} ({kind}) needs 'from'")
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"test operation {number} failed: {path!r} differs")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc


# --- RFC 7386 ---------------------------------------------------------------------------------


def merge_patch(obj: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch; the input is not modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch --------------------------------------------------------------------

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def strategic_merge_patch(obj: Any, patch: Any, schema: Node | None) -> Any:
    """Apply a strategic merge patch using the list strategies and merge keys of ``schema``."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(copy.deepcopy(obj) if isinstance(obj, dict) else {}, patch, schema)
    return {} if merged is None else merged


def _strip(value: Any) -> Any:
    """A patch value with its directives removed (what gets stored when nothing merges)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [
            _strip(v)
            for v in value
            if not (isinstance(v, dict) and v.get("$patch") in ("delete", "replace"))
            or (isinstance(v, dict) and v.get("$patch") == "replace" and len(v) > 1)
        ]
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Node | None) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive not in (None, "merge"):
        raise PatchError(f"unknown $patch directive {directive!r}")
    orders = {k[len(_ORDER) :]: v for k, v in patch.items() if k.startswith(_ORDER)}
    for key, values in patch.items():
        if key.startswith(_DELETE_PRIMITIVES):
            field = key[len(_DELETE_PRIMITIVES) :]
            if isinstance(original.get(field), list) and isinstance(values, list):
                original[field] = [v for v in original[field] if v not in values]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        sub = child(schema, key)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict) and isinstance(original.get(key), dict):
            merged = _merge_map(original[key], value, sub)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif (
            isinstance(value, list)
            and isinstance(sub, ListOf)
            and sub.strategy == "merge"
            and isinstance(original.get(key), list)
        ):
            original[key] = _merge_list(original[key], value, sub)
        elif isinstance(value, dict):
            merged = _merge_map({}, value, sub)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        else:
            original[key] = _strip(value)
    for field, order in orders.items():
        if isinstance(original.get(field), list) and isinstance(order, list):
            listed = child(schema, field)
            merge_key = listed.merge_key if isinstance(listed, ListOf) else None
            original[field] = _reorder(original[field], order, merge_key)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for key in list(original):
            if key not in retain:
                del original[key]
    return original


def _merge_list(original: list[Any], patch: list[Any], schema: ListOf) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    key = schema.merge_key
    if key is None:  # a set of primitives
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(item)
        return result
    result = list(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"list items must be maps carrying the merge key {key!r}")
        position = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            result = [o for o in result if not (isinstance(o, dict) and o.get(key) == item[key])]
        elif position is None:
            result.append(_strip(item))
        else:
            merged = _merge_map(result[position], item, schema.item)
            if merged is None:
                del result[position]
            else:
                result[position] = merged
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def identity(item: Any) -> Any:
        if key is not None and isinstance(item, dict):
            return item.get(key)
        return item

    wanted = [identity(o) for o in order]
    ranked = [
        (wanted.index(identity(i)) if identity(i) in wanted else len(wanted), n, i)
        for n, i in enumerate(items)
    ]
    return [item for _rank, _n, item in sorted(ranked, key=lambda t: (t[0], t[1]))]


# --- server-side apply (approximation) --------------------------------------------------------


def apply_configuration(obj: Any, applied: Any, schema: Node | None, *, custom: bool) -> Any:
    """Merge an applied configuration into ``obj``.

    Approximates server-side apply for the case of one applier per field: maps merge; a list the
    configuration names is the applier's, so it holds exactly the configuration's items (items of
    keyed lists keep the fields others set on them, such as an allocated ``nodePort``); fields
    the configuration leaves out are kept, because ownership is not tracked. Custom resources
    merge as a JSON merge patch, where lists are atomic anyway.
    """
    if not isinstance(applied, dict):
        raise PatchError("an applied configuration must be an object")
    if custom:
        return merge_patch(obj, applied)
    return _apply_map(copy.deepcopy(obj) if isinstance(obj, dict) else {}, applied, schema)


def _apply_map(current: dict[str, Any], applied: dict[str, Any], schema: Node | None) -> Any:
    for key, value in applied.items():
        sub = child(schema, key)
        old = current.get(key)
        if value is None:
            current.pop(key, None)
        elif isinstance(value, dict) and isinstance(old, dict):
            current[key] = _apply_map(old, value, sub)
        elif (
            isinstance(value, list)
            and isinstance(sub, ListOf)
            and sub.merge_key
            and isinstance(old, list)
        ):
            merge_key = sub.merge_key
            by_key = {o.get(merge_key): o for o in old if isinstance(o, dict)}
            current[key] = [
                _apply_map(copy.deepcopy(by_key[item.get(merge_key)]), item, sub.item)
                if isinstance(item, dict) and item.get(merge_key) in by_key
                else copy.deepcopy(item)
                for item in value
            ]
        else:
            current[key] = copy.deepcopy(value)
    return current
