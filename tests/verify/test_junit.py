"""JUnit output: one testcase per check, valid against the structure CI systems read."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from sctpctl.verify.catalogue import CATALOGUE
from sctpctl.verify.junit import write_junit
from sctpctl.verify.runner import run_verify
from tests.verify.fakecluster import FakeCluster
from tests.verify.test_runner import FAST, reader

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))


async def _failing_report():  # type: ignore[no-untyped-def]
    cluster = FakeCluster()
    cluster.sctp_nodes = {"worker-0"}  # a failed module check and a skipped cross-node check
    cluster.enforce_policies = False  # failed policy checks
    return await run_verify(cluster, FAST, CATALOGUE, read_modules=reader(cluster))


async def test_junit_has_one_testcase_per_check_and_validates(tmp_path: Path) -> None:
    report = await _failing_report()
    path = tmp_path / "verify.xml"
    write_junit(report, path)
    document = etree.parse(str(path))
    SCHEMA.assertValid(document)
    suite = document.getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in CATALOGUE]
    assert suite.get("tests") == str(len(CATALOGUE))
    assert int(suite.get("failures")) == len(cases_with(cases, "failure")) > 0
    assert int(suite.get("skipped")) == len(cases_with(cases, "skipped")) == 1
    module = next(c for c in cases if c.get("name") == "module-state")
    failure = module.find("failure")
    assert failure.get("type") == "blacklisted"
    assert failure.get("message") == "1 of 2 actions failed"
    assert "node worker-1: sctp module" in failure.text
    skipped = next(c for c in cases if c.find("skipped") is not None)
    assert skipped.get("name") == "pod-to-pod-cross-node"
    assert skipped.find("skipped").get("message") == "fewer than two selected nodes have SCTP"
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["runId"] == report.run_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verify.xml"]  # noqa: ASYNC240


def cases_with(cases: list, child: str) -> list:  # type: ignore[type-arg]
    return [c for c in cases if c.find(child) is not None]


def test_the_schema_rejects_what_ci_readers_would_not_read() -> None:
    broken = etree.fromstring(
        b'<testsuites><testsuite name="s" tests="1" failures="0" errors="0">'
        b'<testcase classname="c" time="1"/></testsuite></testsuites>'
    )
    assert not SCHEMA.validate(broken)  # a testcase without a name
    misordered = etree.fromstring(
        b'<testsuites><testsuite name="s" tests="1" failures="1" errors="0">'
        b'<testcase name="t" classname="c" time="1"><system-out/><failure/></testcase>'
        b"</testsuite></testsuites>"
    )
    assert not SCHEMA.validate(misordered)
