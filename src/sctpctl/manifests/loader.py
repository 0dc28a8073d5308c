"""Loading Kubernetes YAML with the position of every field, for messages that point at a line.

``load_paths`` reads files, directories (``*.yaml``, ``*.yml``, ``*.json``, recursively, in name
order) and ``-`` for stdin; every YAML document becomes a :class:`Document`, and ``List``
objects (``kind: List`` and ``*List`` kinds with ``items``) are flattened into one document per
item. The positions of keys and values are kept in a map from field paths
(``("spec", "ports", 0, "protocol")``) to 1-based line and column, the way editors and SARIF count.

YAML is read as Kubernetes reads it (YAML 1.1 scalars: ``0644`` is octal 420, ``yes`` is true),
and a mapping key given twice is an error, as it is for ``kubectl apply``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

FieldPath = tuple[str | int, ...]
"A path into a document: mapping keys and sequence indexes."

YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    "1-based line."
    column: int
    "1-based column."


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object read from a file, with where each of its fields was written."""

    source: str
    "The file it came from, or ``<stdin>``."
    obj: dict[str, Any]
    "The object as plain data."
    positions: Mapping[FieldPath, Position] = field(default_factory=dict)
    "Positions of fields (for a mapping entry: the key's position)."
    index: int = 0
    "Index of the YAML document in its file (0-based)."
    base: FieldPath = ()
    "Where the object sits inside its YAML document (``('items', 3)`` for an item of a List)."

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        metadata = self.obj.get("metadata")
        return str(metadata.get("name", "")) if isinstance(metadata, Mapping) else ""

    @property
    def namespace(self) -> str | None:
        metadata = self.obj.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("namespace") is not None:
            return str(metadata["namespace"])
        return None

    def position(self, path: FieldPath = ()) -> Position:
        """The position of ``path``, or of its nearest ancestor that was written down."""
        full = self.base + tuple(path)
        while True:
            found = self.positions.get(full)
            if found is not None:
                return found
            if not full:
                return Position(1, 1)
            full = full[:-1]

    def describe(self) -> str:
        """``Kind namespace/name`` for messages."""
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '<no kind>'} {name or '<no name>'}"


class LoadError(Exception):
    """A file that cannot be read as Kubernetes YAML; says where and why."""

    def __init__(self, source: str, message: str, position: Position | None = None) -> None:
        where = f"{source}:{position.line}:{position.column}" if position else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.message = message
        self.position = position


def load_paths(paths: Iterable[str], *, stdin: TextIO | None = None) -> list[Document]:
    """Load every document of the given files, directories and ``-`` (stdin)."""
    documents: list[Document] = []
    for item in expand_paths(paths):
        documents.extend(load_source(item, stdin=stdin))
    return documents


def expand_paths(paths: Iterable[str]) -> list[str]:
    """The sources behind ``paths``: directories become their YAML files (recursively, in name
    order); files, missing paths and ``-`` stay as given (loading reports what is wrong)."""
    sources: list[str] = []
    for item in paths:
        path = Path(item)
        if item != "-" and path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
            sources.extend(str(file) for file in files)
        else:
            sources.append(item)
    return sources


def load_source(item: str, *, stdin: TextIO | None = None) -> list[Document]:
    """Load one file, or stdin for ``-``; raises :class:`LoadError` with the place of a problem."""
    if item == "-":
        stream = stdin if stdin is not None else sys.stdin
        try:
            text = stream.read()
        except (OSError, UnicodeDecodeError) as error:
            raise LoadError("<stdin>", f"cannot read: {error}") from error
        return load_text(text, "<stdin>")
    path = Path(item)
    if not path.exists():
        raise LoadError(item, "no such file or directory")
    return _load_file(path)


def _load_file(path: Path) -> list[Document]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LoadError(str(path), f"cannot read: {error}") from error
    return load_text(text, str(path))


def load_text(text: str, source: str = "<string>") -> list[Document]:
    """Load every document in a YAML (or JSON) text."""
    documents: list[Document] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        position = Position(mark.line + 1, mark.column + 1) if mark is not None else None
        raise LoadError(source, f"invalid YAML: {error.problem}", position) from error
    except yaml.YAMLError as error:
        raise LoadError(source, f"invalid YAML: {error}") from error
    for index, node in enumerate(nodes):
        if node is None:
            continue
        positions: dict[FieldPath, Position] = {}
        _collect_positions(node, (), positions, source)
        try:
            obj = yaml.constructor.SafeConstructor().construct_document(node)
        except yaml.YAMLError as error:
            raise LoadError(source, f"invalid YAML: {error}", positions.get(())) from error
        if obj is None:
            continue
        if not isinstance(obj, dict):
            raise LoadError(
                source,
                f"document {index + 1} is a {type(obj).__name__}, not a Kubernetes object",
                positions.get(()),
            )
        documents.extend(_flatten(Document(source, obj, positions, index)))
    return documents


def _flatten(document: Document) -> Iterator[Document]:
    """Yield the items of a List (recursively), or the document itself."""
    obj = document.obj
    is_list = obj.get("kind") == "List" or (
        str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list)
    )
    if not is_list:
        yield document
        return
    items = obj.get("items") or []
    if not isinstance(items, list):
        raise LoadError(document.source, "a List's items must be a sequence", document.position())
    for number, item in enumerate(items):
        base = (*document.base, "items", number)
        if not isinstance(item, dict):
            position = document.positions.get(base, document.position())
            raise LoadError(document.source, f"item {number} of a List is not an object", position)
        yield from _flatten(
            Document(document.source, item, document.positions, document.index, base)
        )


def _collect_positions(
    node: yaml.Node, path: FieldPath, out: dict[FieldPath, Position], source: str
) -> None:
    out.setdefault(path, Position(node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys point at their anchor; the ancestor's position is used
            key = str(key_node.value)
            if key in seen:
                mark = key_node.start_mark
                raise LoadError(
                    source,
                    f"mapping key {key!r} is given twice",
                    Position(mark.line + 1, mark.column + 1),
                )
            seen.add(key)
            child = (*path, key)
            out[child] = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_positions(value_node, child, out, source)
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            _collect_positions(item, (*path, number), out, source)


def iter_objects(documents: Iterable[Document], kind: str) -> Iterator[Document]:
    """The documents of one kind."""
    return (d for d in documents if d.kind == kind)
