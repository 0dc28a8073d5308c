"""Lint results as SARIF 2.1.0, the format code-scanning UIs read.

Shape (OASIS SARIF 2.1.0; required properties marked *)::

    sarifLog: version*, $schema, runs*[
      run: tool*{driver*{name*, version, rules[reportingDescriptor{id*, ...}]}},
           results[result{message*{text}, ruleId, ruleIndex, level,
                          locations[{physicalLocation{artifactLocation{uri}, region{startLine,
                                                                                 startColumn}}}]}],
           columnKind, invocations[{executionSuccessful*}]]

The fix hint of a finding goes into the message (SARIF's own ``fixes`` need concrete text
replacements, which lint does not compute) and into ``properties.fix``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import Any

from sctpctl import __version__
from sctpctl.manifests.findings import Rule, Severity
from sctpctl.manifests.lint import LintReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def to_sarif(report: LintReport, rules: Iterable[Rule]) -> dict[str, Any]:
    """The SARIF log of one lint run; ``rules`` are every rule that could have fired."""
    catalogue = list(rules)
    index = {rule.id: number for number, rule in enumerate(catalogue)}
    results = []
    for item in report.findings:
        message = f"{item.subject}: {item.message}" if item.subject else item.message
        results.append(
            {
                "ruleId": item.rule.id,
                "ruleIndex": index[item.rule.id],
                "level": _LEVELS[item.severity],
                "message": {"text": f"{message}. Fix: {item.fix}."},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri(item.source)},
                            "region": {
                                "startLine": item.position.line,
                                "startColumn": item.position.column,
                            },
                        }
                    }
                ],
                "properties": {"fix": item.fix, "object": item.subject},
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sctpctl",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_descriptor(rule) for rule in catalogue],
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "columnKind": "unicodeCodePoints",
                "artifacts": [{"location": {"uri": artifact_uri(s)}} for s in report.sources],
                "results": results,
            }
        ],
    }


def artifact_uri(source: str) -> str:
    """A URI reference for a file: relative paths stay relative (code-scanning resolves them
    against the checkout), absolute ones become ``file://`` URIs."""
    if source.startswith("/"):
        return "file://" + urllib.parse.quote(source)
    return urllib.parse.quote(source.replace("\\", "/"))


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.rationale},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"tags": ["sctp", "kubernetes"]},
    }
