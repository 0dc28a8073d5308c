"""Running the lint rules over files, directories and stdin, and summing up the result.

Every source is loaded on its own, so a file that cannot be read or parsed becomes a
``load-error`` finding and the other files are still checked. Rules that relate objects to each
other see the whole input at once (a Service in one file and its pods in another).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from sctpctl.manifests.findings import Finding, Rule, Severity
from sctpctl.manifests.inventory import Inventory
from sctpctl.manifests.loader import Document, LoadError, Position, expand_paths, load_source
from sctpctl.manifests.rules import CHECKS, LOAD_ERROR, RULES, LintOptions

RULES_BY_ID: Mapping[str, Rule] = {rule.id: rule for rule in RULES}


@dataclass(frozen=True, slots=True)
class LintReport:
    """The findings of one run, in file order, and what was read."""

    findings: tuple[Finding, ...]
    sources: tuple[str, ...]
    "Every file (or ``<stdin>``) that was read or tried, in order."
    objects: int
    "How many Kubernetes objects were checked."

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def failed(self, *, strict: bool = False) -> bool:
        """Errors fail a run; with ``strict``, warnings do too."""
        failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
        return any(f.severity in failing for f in self.findings)

    def by_source(self) -> list[tuple[str, list[Finding]]]:
        """Findings grouped by file, files in the order they were read."""
        groups: dict[str, list[Finding]] = {}
        for item in self.findings:
            groups.setdefault(item.source, []).append(item)
        return list(groups.items())

    def summary(self) -> dict[str, int]:
        return {
            "files": len(self.sources),
            "objects": self.objects,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "findings": [f.to_dict() for f in self.findings],
        }


def lint_documents(
    documents: list[Document],
    options: LintOptions | None = None,
    *,
    disabled: Iterable[str] = (),
) -> list[Finding]:
    """Every finding of every rule over ``documents`` (in no particular order)."""
    inventory = Inventory.of(documents)
    chosen = options or LintOptions()
    skip = set(disabled)
    return [
        item for check in CHECKS for item in check(inventory, chosen) if item.rule.id not in skip
    ]


def lint_paths(
    paths: Iterable[str],
    options: LintOptions | None = None,
    *,
    disabled: Iterable[str] = (),
    stdin: TextIO | None = None,
) -> LintReport:
    """Load ``paths`` (files, directories, ``-``) and lint everything that could be loaded."""
    skip = set(disabled)
    unknown = skip - set(RULES_BY_ID)
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    documents: list[Document] = []
    findings: list[Finding] = []
    sources = expand_paths(paths)
    read: list[str] = []
    for source in sources:
        try:
            documents.extend(load_source(source, stdin=stdin))
            read.append("<stdin>" if source == "-" else source)
        except LoadError as error:
            read.append(error.source)
            if LOAD_ERROR.id not in skip:
                findings.append(_load_finding(error))
    findings.extend(lint_documents(documents, options, disabled=skip))
    order = {source: index for index, source in enumerate(read)}
    findings.sort(
        key=lambda f: (
            order.get(f.source, len(order)),
            f.position.line,
            f.position.column,
            f.rule.id,
        )
    )
    return LintReport(tuple(findings), tuple(read), len(documents))


def _load_finding(error: LoadError) -> Finding:
    return Finding(
        rule=LOAD_ERROR,
        severity=Severity.ERROR,
        source=error.source,
        position=error.position or Position(1, 1),
        subject="",
        message=error.message,
        fix="correct the file so that it is YAML of Kubernetes objects, or leave it out",
    )
