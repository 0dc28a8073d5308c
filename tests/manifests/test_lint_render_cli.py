"""``sctpctl lint`` and ``sctpctl render`` on the command line: outputs, exit codes, stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sctpctl.cli.main import cli
from sctpctl.manifests.rules import RULES
from sctpctl.outcomes import ExitCode

SEED = Path(__file__).parent / "seed"

BAD_SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  ports:
    - {protocol: sctp, port: 30102}
"""
WARNING_ONLY = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: x
      ports: [{containerPort: 30102, protocol: SCTP, hostPort: 30102}]
"""


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--color", "never", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_lint_seed_is_clean_and_exits_0() -> None:
    code, out = run("lint", str(SEED))
    assert code == ExitCode.OK
    assert out.strip() == "9 files, 9 objects: 0 errors, 0 warnings"


def test_lint_groups_findings_by_file_with_place_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "svc.yaml"
    bad.write_text(BAD_SERVICE)
    code, out = run("lint", str(bad), str(SEED / "sctp-server.yaml"))
    assert code == ExitCode.FAILED
    lines = out.splitlines()
    assert lines[0] == str(bad)
    assert lines[1].split() == [
        "6:8",
        "error",
        "protocol-spelling",
        "Service",
        "svc:",
        "protocol",
        "'sctp'",
        "must",
        "be",
        "written",
        "'SCTP':",
        "the",
        "API",
        "is",
        "case-sensitive",
    ]
    assert lines[2].strip() == "fix: write protocol: SCTP"
    assert lines[-1] == "2 files, 2 objects: 1 error, 0 warnings"


def test_lint_reads_stdin() -> None:
    code, out = run("lint", "-", stdin=BAD_SERVICE)
    assert code == ExitCode.FAILED
    assert out.startswith("<stdin>\n")
    code, _ = run("lint", "-", stdin=(SEED / "sctp-service.yaml").read_text())
    assert code == ExitCode.OK


def test_warnings_fail_only_with_strict() -> None:
    assert run("lint", "-", stdin=WARNING_ONLY)[0] == ExitCode.OK
    assert run("lint", "--strict", "-", stdin=WARNING_ONLY)[0] == ExitCode.FAILED


def test_lint_json() -> None:
    code, out = run("lint", "-o", "json", "-", stdin=BAD_SERVICE)
    assert code == ExitCode.FAILED
    report = json.loads(out)
    assert report["kind"] == "LintReport"
    assert report["summary"] == {"files": 1, "objects": 1, "errors": 1, "warnings": 0}
    assert report["findings"] == [
        {
            "rule": "protocol-spelling",
            "severity": "error",
            "file": "<stdin>",
            "line": 6,
            "column": 8,
            "object": "Service svc",
            "message": "protocol 'sctp' must be written 'SCTP': the API is case-sensitive",
            "fix": "write protocol: SCTP",
        }
    ]


def test_lint_sarif() -> None:
    code, out = run("lint", "-o", "sarif", "-", stdin=BAD_SERVICE)
    assert code == ExitCode.FAILED
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "protocol-spelling"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such file or directory"),
        ("kind: Pod\nmetadata: {name: a\n", "invalid YAML"),
        ("kind: Pod\nkind: Service\n", "given twice"),
        (b"\xff\xfe not utf-8", "cannot read"),
    ],
)
def test_unreadable_files_are_findings_not_tracebacks(
    tmp_path: Path, content: str | bytes | None, words: str
) -> None:
    path = tmp_path / "broken.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, out = run("lint", str(path), str(SEED / "sctp-client.yaml"))
    assert code == ExitCode.FAILED
    assert "load-error" in out and words in out
    assert "Traceback" not in out
    assert out.splitlines()[-1] == "2 files, 1 object: 1 error, 0 warnings"


def test_directories_are_read_recursively(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "svc.yml").write_text(BAD_SERVICE)
    (tmp_path / "notes.txt").write_text("not yaml: [")
    code, out = run("lint", str(tmp_path))
    assert code == ExitCode.FAILED
    assert out.splitlines()[0].endswith("a/b/svc.yml")


@pytest.mark.parametrize(
    "args",
    [
        ("lint",),
        ("lint", "--node-port-range", "32767-30000", "-"),
        ("lint", "--node-port-range", "abc", "-"),
        ("lint", "--disable", "no-such-rule", "-"),
        ("lint", "-o", "yaml", "-"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert run(*args, stdin="")[0] == ExitCode.USAGE


def test_options_reach_the_rules() -> None:
    lb = (SEED / "sctp-service.yaml").read_text().replace("NodePort", "LoadBalancer")
    assert run("lint", "-", stdin=lb)[0] == ExitCode.FAILED
    assert run("lint", "--allow-loadbalancer", "-", stdin=lb)[0] == ExitCode.OK
    assert run("lint", "--disable", "protocol-spelling", "-", stdin=BAD_SERVICE)[0] == ExitCode.OK


def test_list_rules() -> None:
    code, out = run("lint", "--list-rules")
    assert code == ExitCode.OK
    ids = {r.id for r in RULES}
    firsts = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert [word for word in firsts if word in ids] == [r.id for r in RULES]  # long rows fold
    code, out = run("lint", "--list-rules", "-o", "json")
    assert [r["id"] for r in json.loads(out)["rules"]] == [r.id for r in RULES]


def test_colour_on_a_terminal_only_when_asked() -> None:
    coloured = CliRunner().invoke(cli, ["--color", "always", "lint", "-"], input=BAD_SERVICE)
    assert "\x1b[" in coloured.output
    plain = CliRunner().invoke(cli, ["--color", "never", "lint", "-"], input=BAD_SERVICE)
    assert "\x1b[" not in plain.output
    as_json = CliRunner().invoke(cli, ["--color", "always", "lint", "-o", "json", "-"], input="")
    assert "\x1b[" not in as_json.output


def test_render_machineconfig_default_is_the_seed_object() -> None:
    code, out = run("render", "machineconfig")
    assert code == ExitCode.OK
    assert yaml.safe_load(out) == yaml.safe_load((SEED / "load-sctp-module.yaml").read_text())


@pytest.mark.parametrize(
    ("version", "seed"),
    [("3.1.0", "load-sctp-module-3.1.0.yaml"), ("2.2.0", "load-sctp-module-2.2.0.yaml")],
)
def test_render_machineconfig_older_versions(version: str, seed: str) -> None:
    code, out = run("render", "machineconfig", "--ignition", version)
    assert code == ExitCode.OK
    assert yaml.safe_load(out) == yaml.safe_load((SEED / seed).read_text())


def test_render_machineconfig_flags_and_json() -> None:
    code, out = run(
        "render", "machineconfig", "--role", "worker-cnf", "--name", "sctp", "-o", "json"
    )
    assert code == ExitCode.OK
    obj = json.loads(out)
    assert obj["metadata"] == {
        "name": "sctp",
        "labels": {"machineconfiguration.openshift.io/role": "worker-cnf"},
    }


def test_render_verify_prints_three_documents_and_a_hint_on_stderr() -> None:
    result = CliRunner().invoke(cli, ["render", "verify", "--port", "38412", "-n", "ran"])
    assert result.exit_code == ExitCode.OK
    docs = list(yaml.safe_load_all(result.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Pod", "sctpserver"),
        ("Service", "sctpservice"),
        ("Pod", "sctpclient"),
    ]
    assert "kubectl exec -n ran sctpclient -- sctpctl connect $CLUSTER_IP:38412" in result.stderr
    as_json = CliRunner().invoke(cli, ["render", "verify", "-o", "json"])
    listed = json.loads(as_json.stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 3


def test_render_daemonset_flags() -> None:
    code, out = run(
        "render",
        "daemonset",
        "--node-selector",
        "sctp=on",
        "--node-selector",
        "kubernetes.io/os=linux",
        "--tolerate",
        "all",
        "-n",
        "sctp-system",
    )
    assert code == ExitCode.OK
    ds = yaml.safe_load(out)
    assert ds["metadata"]["namespace"] == "sctp-system"
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"sctp": "on", "kubernetes.io/os": "linux"}
    assert spec["tolerations"] == [{"operator": "Exists"}]


@pytest.mark.parametrize(
    "args",
    [
        ("render", "machineconfig", "--ignition", "3.4.0"),
        ("render", "machineconfig", "--name", "Bad_Name"),
        ("render", "verify", "--port", "0"),
        ("render", "verify", "-n", "Not_A_Namespace"),
        ("render", "daemonset", "--node-selector", "novalue"),
        ("render", "daemonset", "--node-selector", "bad key=x"),
    ],
)
def test_render_usage_errors(args: tuple[str, ...]) -> None:
    code, out = run(*args)
    assert code == ExitCode.USAGE
    assert "Traceback" not in out


@pytest.mark.parametrize("what", ["machineconfig", "verify", "daemonset"])
def test_render_output_passes_lint_through_a_pipe(what: str) -> None:
    rendered = CliRunner().invoke(cli, ["render", what]).stdout
    code, out = run("lint", "--strict", "-", stdin=rendered)
    assert code == ExitCode.OK, out


@pytest.mark.parametrize("what", ["machineconfig", "verify", "daemonset"])
def test_render_is_byte_stable_across_processes(what: str) -> None:
    def once(seed: str) -> bytes:
        return subprocess.run(
            [sys.executable, "-m", "sctpctl", "render", what],
            capture_output=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout

    first = once("1")
    assert first and first == once("2")
