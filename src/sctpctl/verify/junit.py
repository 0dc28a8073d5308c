"""JUnit XML for CI systems: one ``<testcase>`` per check (stdlib ``xml.etree``, no dependency).

The shape is the one Jenkins, GitLab and GitHub test reporters read::

    <testsuites name="sctpctl verify" tests= failures= errors= skipped= time=>
      <testsuite name="sctpctl verify" tests= failures= errors= skipped= time= timestamp= hostname=>
        <properties><property name="runId" value=/>...</properties>
        <testcase name="pod-to-clusterip" classname="sctpctl.verify" time=>
          <failure message="..." type="filtered">the failed actions and the log</failure>
          | <skipped message="..."/>
          <system-out>every action with its outcome</system-out>
        </testcase>
      </testsuite>
    </testsuites>

A failure's ``type`` is the outcome word of the check (``filtered``, ``no-sctp-local``, ...).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

from sctpctl.verify.model import CheckResult, Status
from sctpctl.verify.report import Report, failure_lines

SUITE = "sctpctl verify"
CLASSNAME = "sctpctl.verify"


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _testcase(result: CheckResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        {"name": result.check.name, "classname": CLASSNAME, "time": _seconds(result.seconds)},
    )
    if result.status is Status.FAILED:
        failure = ET.SubElement(
            case, "failure", {"message": result.reason or "failed", "type": result.outcome}
        )
        failure.text = "\n".join(failure_lines(result))
    elif result.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", {"message": result.reason})
    lines = [result.check.summary]
    lines += [
        f"{'ok  ' if a.passed else 'FAIL'} {a.action.name}: {a.observation.word}"
        for a in result.actions
    ]
    ET.SubElement(case, "system-out").text = "\n".join(lines)
    return case


def junit_tree(report: Report, *, hostname: str | None = None) -> ET.ElementTree[ET.Element]:
    counts = {
        "tests": str(len(report.results)),
        "failures": str(report.count(Status.FAILED)),
        "errors": "0",
        "skipped": str(report.count(Status.SKIPPED)),
        "time": _seconds(report.seconds),
    }
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE,
            **counts,
            "timestamp": report.started[:19],
            "hostname": hostname or socket.gethostname(),
        },
    )
    properties = ET.SubElement(suite, "properties")
    values = {
        "runId": report.run_id,
        "namespaces": ",".join(report.namespaces),
        "nodes": ",".join(report.selected),
        "interrupted": str(report.interrupted).lower(),
    }
    for name, value in values.items():
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for result in report.results:
        suite.append(_testcase(result))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: Report, path: Path) -> None:
    """Write the report's JUnit XML to ``path`` (through a temporary file: never half-written)."""
    temporary = path.with_name(f".{path.name}.tmp")
    junit_tree(report).write(temporary, encoding="utf-8", xml_declaration=True)
    temporary.replace(path)
