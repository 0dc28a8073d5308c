"""Label selectors behave as the Kubernetes API documentation says."""

from __future__ import annotations

import pytest

from sctpctl.netpol.selectors import Operator, Requirement, Selector, SelectorError

WEB = {"app": "web", "tier": "front"}


def test_empty_selector_matches_everything_and_nothing_matches_nothing() -> None:
    assert Selector.from_label_selector({}).matches(WEB)
    assert Selector.from_label_selector({}).matches({})
    assert Selector.from_label_selector({}).is_everything
    assert not Selector.nothing().matches(WEB)


def test_match_labels_and_expressions_are_anded() -> None:
    selector = Selector.from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}],
        }
    )
    assert selector.matches(WEB)
    assert not selector.matches({"app": "web", "tier": "db"})
    assert not selector.matches({"tier": "front"})


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        ("In", ["web"], {"app": "web"}, True),
        ("In", ["web"], {}, False),
        ("NotIn", ["web"], {"app": "db"}, True),
        ("NotIn", ["web"], {}, True),  # a missing key is "not in"
        ("NotIn", ["web"], {"app": "web"}, False),
        ("Exists", [], {"app": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"app": "x"}, False),
    ],
)
def test_each_operator(
    operator: str, values: list[str], labels: dict[str, str], expected: bool
) -> None:
    expression = {"key": "app", "operator": operator, "values": values}
    assert (
        Selector.from_label_selector({"matchExpressions": [expression]}).matches(labels) is expected
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]},
        {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["x"]}]},
        {"matchLabels": {"bad key": "x"}},
        {"matchLabels": {"app": "-leading-dash"}},
        {"matchLabel": {"app": "x"}},
    ],
)
def test_invalid_selectors_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(SelectorError):
        Selector.from_label_selector(bad)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("app=web", WEB, True),
        ("app==web", WEB, True),
        ("app!=web", WEB, False),
        ("app!=db", {}, True),
        ("tier in (front, edge)", WEB, True),
        ("tier notin (front)", WEB, False),
        ("!canary", WEB, True),
        ("app", WEB, True),
        ("app,!tier", WEB, False),
        ("app=web,tier in (front),!canary", WEB, True),
        ("example.com/role=x", {"example.com/role": "x"}, True),
    ],
)
def test_string_form(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Selector.parse(text).matches(labels) is expected


@pytest.mark.parametrize("bad", ["app in web", "app in ()", "a b", "!", "app=(x)", "app in (x"])
def test_string_form_errors(bad: str) -> None:
    with pytest.raises(SelectorError):
        Selector.parse(bad)


def test_string_form_round_trips() -> None:
    text = "app=web,env in (prod,staging),!canary,release"
    assert Selector.parse(str(Selector.parse(text))) == Selector.parse(text)
    assert str(Requirement("a", Operator.NOT_IN, frozenset({"x"}))) == "a!=x"
