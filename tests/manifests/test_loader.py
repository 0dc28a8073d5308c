"""Loading YAML keeps positions, flattens Lists and reports bad input with its place."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sctpctl.manifests.loader import LoadError, Position, load_paths, load_text

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: sctpservice
spec:
  type: NodePort
  ports:
    - name: sctpserver
      protocol: SCTP
      port: 30102
"""


def test_positions_point_at_keys() -> None:
    (doc,) = load_text(SERVICE, "svc.yaml")
    assert doc.kind == "Service"
    assert doc.name == "sctpservice"
    assert doc.position(("spec", "ports", 0, "protocol")) == Position(9, 7)
    assert doc.position(("spec", "ports", 0)) == Position(8, 7)
    # a path that was not written falls back to its nearest written ancestor
    assert doc.position(("spec", "ports", 0, "targetPort")) == Position(8, 7)


def test_multi_document_files_and_octal_modes() -> None:
    docs = load_text("kind: A\n---\n---\nkind: B\nmode: 0644\nother: 644\n")
    assert [d.kind for d in docs] == ["A", "B"]
    assert docs[1].index == 2
    assert docs[1].obj["mode"] == 420  # YAML 1.1 octal, as Kubernetes reads it
    assert docs[1].obj["other"] == 644


def test_lists_are_flattened_with_item_positions() -> None:
    text = (
        "kind: List\nitems:\n  - kind: Pod\n    metadata: {name: a}\n"
        "  - kind: Service\n    metadata:\n      name: b\n"
    )
    pod, svc = load_text(text)
    assert (pod.kind, pod.name, svc.kind, svc.name) == ("Pod", "a", "Service", "b")
    assert svc.position(("metadata", "name")) == Position(7, 7)
    assert svc.base == ("items", 1)


def test_typed_lists_are_flattened_too() -> None:
    docs = load_text("kind: PodList\nitems:\n- kind: Pod\n- kind: Pod\n")
    assert [d.kind for d in docs] == ["Pod", "Pod"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("kind: Pod\nmetadata: {name: a\n", "invalid YAML", 3),
        ("kind: Pod\nkind: Service\n", "given twice", 2),
        ("- a\n- b\n", "not a Kubernetes object", 1),
    ],
)
def test_bad_yaml_is_reported_with_a_position(text: str, message: str, line: int) -> None:
    with pytest.raises(LoadError) as caught:
        load_text(text, "bad.yaml")
    assert message in str(caught.value)
    assert caught.value.position is not None
    assert caught.value.position.line == line
    assert str(caught.value).startswith("bad.yaml:")


def test_paths_directories_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.yaml").write_text("kind: B\n")
    (tmp_path / "sub" / "a.yml").write_text("kind: A\n")
    (tmp_path / "notes.txt").write_text("kind: Ignored\n")
    docs = load_paths([str(tmp_path), "-"], stdin=io.StringIO("kind: C\n"))
    assert [d.kind for d in docs] == ["B", "A", "C"]
    assert docs[2].source == "<stdin>"


def test_missing_file() -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_paths(["/nonexistent/x.yaml"])
