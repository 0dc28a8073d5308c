"""SARIF output carries the required properties of SARIF 2.1.0 and every finding's place and fix.

Required properties checked (OASIS SARIF 2.1.0, sections 3.13-3.49): sarifLog.version and runs;
run.tool; tool.driver; toolComponent.name; reportingDescriptor.id; result.message;
message.text (or id); physicalLocation.artifactLocation (or address); region.startLine >= 1;
invocation.executionSuccessful. Levels are one of none/note/warning/error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sctpctl.manifests.lint import lint_paths
from sctpctl.manifests.rules import RULES
from sctpctl.manifests.sarif import artifact_uri, to_sarif

BAD = """\
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  type: LoadBalancer
  ports:
    - {protocol: sctp, port: 30102}
    - {protocol: SCTP, port: 30103}
"""


def check_sarif(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    assert isinstance(log["runs"], list) and log["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        rules = driver.get("rules", [])
        ids = [rule["id"] for rule in rules]
        assert len(ids) == len(set(ids))
        for rule in rules:
            assert rule["shortDescription"]["text"]
            assert rule["defaultConfiguration"]["level"] in {"none", "note", "warning", "error"}
        for invocation in run.get("invocations", []):
            assert isinstance(invocation["executionSuccessful"], bool)
        for result in run.get("results", []):
            assert result["message"]["text"]
            assert result["level"] in {"none", "note", "warning", "error"}
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            for location in result["locations"]:
                physical = location["physicalLocation"]
                assert physical["artifactLocation"]["uri"]
                assert physical["region"]["startLine"] >= 1
                assert physical["region"]["startColumn"] >= 1


def test_sarif_of_a_failing_file(tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text(BAD)
    log = to_sarif(lint_paths([str(path)]), RULES)
    check_sarif(log)
    json.dumps(log)  # serialisable as it is
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("service-type", "error"),
        ("protocol-spelling", "error"),
    ]
    spelling = results[1]
    region = spelling["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 7, "startColumn": 8}
    assert "Fix: write protocol: SCTP" in spelling["message"]["text"]
    assert spelling["properties"]["fix"] == "write protocol: SCTP"
    uri = spelling["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "file://" + str(path)


def test_sarif_lists_every_rule_even_without_results() -> None:
    log = to_sarif(lint_paths([str(Path(__file__).parent / "seed")]), RULES)
    check_sarif(log)
    assert log["runs"][0]["results"] == []
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == [r.id for r in RULES]


def test_artifact_uris() -> None:
    assert artifact_uri("deploy/sctp server.yaml") == "deploy/sctp%20server.yaml"
    assert artifact_uri("/abs/x.yaml") == "file:///abs/x.yaml"
    assert artifact_uri("<stdin>") == "%3Cstdin%3E"
