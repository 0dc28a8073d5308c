"""Kubernetes label selectors: the structured form (``metav1.LabelSelector``) and the string form.

Semantics, from the Kubernetes API documentation ("Labels and Selectors"):

- ``matchLabels`` and ``matchExpressions`` are ANDed; an empty selector (``{}``) matches every
  object, while a *missing* selector means different things per API field, so callers decide what
  ``None`` means (:meth:`Selector.nothing` vs :meth:`Selector.everything`).
- ``In`` and ``NotIn`` need a non-empty ``values``; ``Exists`` and ``DoesNotExist`` need none.
- ``NotIn`` and ``!=`` also match objects that do not carry the key at all.

The string form is what ``?labelSelector=`` and ``kubectl -l`` use:
``app=web,tier!=db,env in (prod,staging),!canary,release``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class SelectorError(ValueError):
    """A selector that the API server would reject (the message says why)."""


class Operator(Enum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key operator values`` term of a selector."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator is Operator.IN:
            return self.key in labels and labels[self.key] in self.values
        if self.operator is Operator.NOT_IN:
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        values = sorted(self.values)
        if self.operator is Operator.EXISTS:
            return self.key
        if self.operator is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if self.operator is Operator.IN and len(values) == 1:
            return f"{self.key}={values[0]}"
        if self.operator is Operator.NOT_IN and len(values) == 1:
            return f"{self.key}!={values[0]}"
        word = "in" if self.operator is Operator.IN else "notin"
        return f"{self.key} {word} ({','.join(values)})"


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed selector: the AND of its requirements, or a selector that matches nothing."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False

    @classmethod
    def everything(cls) -> Selector:
        return cls()

    @classmethod
    def nothing(cls) -> Selector:
        return cls(matches_nothing=True)

    @classmethod
    def from_label_selector(cls, selector: Mapping[str, Any] | None) -> Selector:
        """Parse a ``metav1.LabelSelector`` dict; ``None`` is treated as ``{}`` (everything)."""
        if selector is None:
            return cls.everything()
        if not isinstance(selector, Mapping):
            raise SelectorError("a label selector must be a mapping")
        unknown = set(selector) - {"matchLabels", "matchExpressions"}
        if unknown:
            raise SelectorError(f"unknown field(s) in label selector: {', '.join(sorted(unknown))}")
        requirements = list(cls.from_match_labels(selector.get("matchLabels")).requirements)
        expressions = selector.get("matchExpressions") or []
        if not isinstance(expressions, list):
            raise SelectorError("matchExpressions must be a list")
        for expression in expressions:
            requirements.append(_requirement_from_expression(expression))
        return cls(tuple(requirements))

    @classmethod
    def from_match_labels(cls, labels: Mapping[str, Any] | None) -> Selector:
        """Parse a plain ``key: value`` map (``matchLabels``, a Service's ``spec.selector``)."""
        if labels is None:
            return cls.everything()
        if not isinstance(labels, Mapping):
            raise SelectorError("matchLabels must be a mapping of label keys to values")
        requirements = []
        for key, value in labels.items():
            _check_key(str(key))
            _check_value(str(value))
            requirements.append(Requirement(str(key), Operator.IN, frozenset({str(value)})))
        return cls(tuple(requirements))

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse the string form (``a=b,c!=d,e in (x,y),!f,g``); an empty string matches all."""
        return cls(tuple(_parse_requirements(text)))

    @property
    def is_everything(self) -> bool:
        return not self.matches_nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.matches_nothing:
            return False
        present = labels or {}
        return all(requirement.matches(present) for requirement in self.requirements)

    def __str__(self) -> str:
        if self.matches_nothing:
            return "<none>"
        return ",".join(str(r) for r in self.requirements)


_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY_RE = re.compile(
    rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$"
)
_VALUE_RE = re.compile(rf"^({_NAME})?$")


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if not _KEY_RE.match(key) or len(name) > 63 or len(prefix) > 253:
        raise SelectorError(f"invalid label key {key!r}")


def _check_value(value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise SelectorError(f"invalid label value {value!r}")


def _requirement_from_expression(expression: Any) -> Requirement:
    if not isinstance(expression, Mapping):
        raise SelectorError("each matchExpressions entry must be a mapping")
    key = expression.get("key")
    if not isinstance(key, str):
        raise SelectorError("matchExpressions entry without a key")
    _check_key(key)
    try:
        operator = Operator(expression.get("operator"))
    except ValueError:
        raise SelectorError(
            f"matchExpressions operator {expression.get('operator')!r} for key {key!r} is not "
            "one of In, NotIn, Exists, DoesNotExist"
        ) from None
    values = expression.get("values") or []
    if not isinstance(values, list):
        raise SelectorError(f"matchExpressions values for key {key!r} must be a list")
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        raise SelectorError(f"operator {operator.value} for key {key!r} needs at least one value")
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        raise SelectorError(f"operator {operator.value} for key {key!r} takes no values")
    for value in values:
        _check_value(str(value))
    return Requirement(key, operator, frozenset(str(v) for v in values))


_TOKEN_RE = re.compile(r"\s*(?:(\()|(\))|(,)|(!=|==|=|!)|([^\s,()!=]+))")


def _tokens(text: str) -> Iterable[str]:
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            return
        match = _TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise SelectorError(f"cannot parse selector {text!r} at position {position}")
        position = match.end()
        yield next(group for group in match.groups() if group is not None)


def _parse_requirements(text: str) -> list[Requirement]:
    tokens = list(_tokens(text))
    requirements: list[Requirement] = []
    i = 0

    def expect_value() -> str:
        nonlocal i
        if i < len(tokens) and tokens[i] not in {",", "(", ")", "=", "==", "!=", "!"}:
            i += 1
            return tokens[i - 1]
        return ""  # an empty value is legal: "key=" selects the empty label value

    while i < len(tokens):
        if tokens[i] == "!":
            if i + 1 >= len(tokens):
                raise SelectorError(f"selector {text!r} ends after '!'")
            key = tokens[i + 1]
            _check_key(key)
            requirements.append(Requirement(key, Operator.DOES_NOT_EXIST))
            i += 2
        else:
            key = tokens[i]
            _check_key(key)
            i += 1
            op = tokens[i] if i < len(tokens) else ","
            if op in ("=", "=="):
                i += 1
                value = expect_value()
                _check_value(value)
                requirements.append(Requirement(key, Operator.IN, frozenset({value})))
            elif op == "!=":
                i += 1
                value = expect_value()
                _check_value(value)
                requirements.append(Requirement(key, Operator.NOT_IN, frozenset({value})))
            elif op in ("in", "notin"):
                i += 1
                if i >= len(tokens) or tokens[i] != "(":
                    raise SelectorError(f"selector {text!r}: expected '(' after {op!r}")
                i += 1
                values: set[str] = set()
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] != ",":
                        _check_value(tokens[i])
                        values.add(tokens[i])
                    i += 1
                if i >= len(tokens):
                    raise SelectorError(f"selector {text!r}: missing ')'")
                i += 1
                if not values:
                    raise SelectorError(f"selector {text!r}: {op!r} needs at least one value")
                operator = Operator.IN if op == "in" else Operator.NOT_IN
                requirements.append(Requirement(key, operator, frozenset(values)))
            elif op == ",":
                requirements.append(Requirement(key, Operator.EXISTS))
            else:
                raise SelectorError(f"selector {text!r}: unexpected {op!r} after key {key!r}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise SelectorError(f"selector {text!r}: expected ',' before {tokens[i]!r}")
            i += 1
    return requirements
