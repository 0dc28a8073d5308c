"""Label and field selectors, parsed from the query-string syntax kubectl sends.

Label selectors are sctpctl's one implementation (:mod:`sctpctl.netpol.selectors`); here they only
get the API server's error type. Field selectors accept ``=``, ``==`` and ``!=`` on the
fields a kind supports (:data:`FIELDS`); any other field is a 400, as on a real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sctpctl.lab.errors import StatusError, bad_request
from sctpctl.netpol.selectors import Selector, SelectorError


def parse_label_selector(text: str | None) -> Selector:
    """The ``?labelSelector=`` string as a selector; a malformed one is a 400."""
    try:
        return Selector.parse(text or "")
    except SelectorError as error:
        raise bad_request(f"unable to parse requirement: {error}") from error


def label_selector_text(selector: Mapping[str, Any] | None) -> str:
    """A ``metav1.LabelSelector`` written the way ``kubectl get -o wide`` shows it."""
    if not selector:
        return "<none>"
    try:
        return str(Selector.from_label_selector(selector)) or "<none>"
    except SelectorError:
        return "<invalid>"


def _path(*keys: str) -> Callable[[Mapping[str, Any]], str]:
    def get(obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


_COMMON = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}
FIELDS: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "Pod": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "Node": {"spec.unschedulable": _path("spec", "unschedulable")},
    "Namespace": {"status.phase": _path("status", "phase")},
    "Secret": {"type": _path("type")},
    "Event": {
        **{
            f"involvedObject.{f}": _path("involvedObject", f)
            for f in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
}
"Field selectors beyond metadata.name and metadata.namespace, per kind (as the real server)."


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[Callable[[Mapping[str, Any]], str], bool, str], ...] = ()
    "(getter, equal?, value) for each term."
    names: tuple[tuple[str, bool, str], ...] = ()
    "The parsed terms by field name (used to narrow lookups, e.g. ``metadata.name=x``)."

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((get(obj) == value) == equal for get, equal, value in self.terms)

    def exact_name(self) -> str | None:
        for field, equal, value in self.names:
            if field == "metadata.name" and equal:
                return value
        return None


def parse_field_selector(text: str | None, kind: str) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector()
    supported = {**_COMMON, **FIELDS.get(kind, {})}
    terms = []
    names = []
    for part in text.split(","):
        match = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if match is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = match.groups()
        getter = supported.get(field)
        if getter is None:
            raise _unsupported_field(field, kind)
        terms.append((getter, op != "!=", value))
        names.append((field, op != "!=", value))
    return FieldSelector(tuple(terms), tuple(names))


def _unsupported_field(field: str, kind: str) -> StatusError:
    return bad_request(f"field label not supported: {field}")
