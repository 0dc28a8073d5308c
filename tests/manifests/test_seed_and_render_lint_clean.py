"""The seed's objects and everything render prints pass lint without a single finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sctpctl.cli.output import dump_yaml_all
from sctpctl.manifests.daemonset import Tolerate, render_daemonset
from sctpctl.manifests.lint import lint_documents, lint_paths
from sctpctl.manifests.loader import load_text
from sctpctl.manifests.verification import verification_objects
from sctpctl.node.machineconfig import RENDERABLE_VERSIONS, render_sctp_machineconfig

SEED = Path(__file__).parent / "seed"


def test_the_seed_directory_lints_clean() -> None:
    report = lint_paths([str(SEED)])
    assert report.findings == ()
    assert report.objects == 9
    assert len(report.sources) == 9


@pytest.mark.parametrize("name", sorted(p.name for p in SEED.glob("*.yaml")))
def test_each_seed_file_lints_clean_on_its_own(name: str) -> None:
    assert lint_paths([str(SEED / name)]).findings == ()


def lint_objects(objects: list[dict[str, Any]]) -> list[str]:
    text = dump_yaml_all(objects)
    return [f"{f.location} {f.rule.id}: {f.message}" for f in lint_documents(load_text(text))]


RENDERED: list[tuple[str, list[dict[str, Any]]]] = [
    *[(f"machineconfig {v}", [render_sctp_machineconfig(ignition=v)]) for v in RENDERABLE_VERSIONS],
    ("machineconfig master", [render_sctp_machineconfig(role="master", name="sctp-master")]),
    ("verify", verification_objects()),
    ("verify elsewhere", verification_objects(port=38412, namespace="ran", image="x/y:1")),
    *[(f"daemonset {t}", [render_daemonset(tolerate=t)]) for t in Tolerate],
    ("daemonset selector", [render_daemonset(node_selector={"sctp": "yes"})]),
]


@pytest.mark.parametrize(("name", "objects"), RENDERED, ids=[r[0] for r in RENDERED])
def test_everything_render_prints_lints_clean(name: str, objects: list[dict[str, Any]]) -> None:
    assert lint_objects(objects) == []


def test_render_verify_together_with_the_seed_machineconfig_lints_clean() -> None:
    seed_mc = yaml.safe_load((SEED / "load-sctp-module.yaml").read_text())
    assert lint_objects([seed_mc, *verification_objects()]) == []
