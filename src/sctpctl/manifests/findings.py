"""What lint reports: rules (what is checked and why) and findings (where a rule was broken)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sctpctl.manifests.loader import Document, FieldPath, Position


class Severity(StrEnum):
    ERROR = "error"
    "The object will not work as meant: lint exits 1."
    WARNING = "warning"
    "It may work, but probably not as meant: lint exits 1 only with --strict."


@dataclass(frozen=True, slots=True)
class Rule:
    """One check, documented once; findings refer to it by id."""

    id: str
    "Stable kebab-case identifier (``protocol-spelling``), used in output and SARIF."
    severity: Severity
    "The usual severity of its findings (a finding may say otherwise)."
    summary: str
    "One line: what the rule looks for."
    rationale: str
    "Why it matters, with the facts it rests on."


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule at one place."""

    rule: Rule
    severity: Severity
    source: str
    "File name, or ``<stdin>``."
    position: Position
    subject: str
    "The object, ``Kind namespace/name``."
    message: str
    fix: str
    "What to change; every finding has one."

    @property
    def location(self) -> str:
        return f"{self.source}:{self.position.line}:{self.position.column}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "severity": self.severity.value,
            "file": self.source,
            "line": self.position.line,
            "column": self.position.column,
            "object": self.subject,
            "message": self.message,
            "fix": self.fix,
        }


def finding(
    rule: Rule,
    document: Document,
    path: FieldPath,
    message: str,
    fix: str,
    severity: Severity | None = None,
) -> Finding:
    """A finding about ``document`` at the field ``path`` (or its nearest written ancestor)."""
    return Finding(
        rule=rule,
        severity=severity or rule.severity,
        source=document.source,
        position=document.position(path),
        subject=document.describe(),
        message=message,
        fix=fix,
    )
