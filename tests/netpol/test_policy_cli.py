"""``sctpctl policy explain`` and ``policy table`` on YAML files, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from sctpctl.cli.main import cli

# The founding procedure's policy (shared/seed), next to its server and client pods and a web pod
# that the policy selects. Despite the procedure's wording ("from any pods with a specific
# label"), role=web selects the *destination*: the rule has no `from`, so any source may connect.
SEED = """\
apiVersion: v1
kind: Pod
metadata:
  name: sctpserver
  labels: {app: sctpserver}
spec:
  containers:
    - name: sctpserver
      image: registry.access.redhat.com/ubi9/ubi
      ports:
        - {containerPort: 30102, name: sctpserver, protocol: SCTP}
status: {podIP: 10.128.2.15}
---
apiVersion: v1
kind: Pod
metadata:
  name: sctpclient
  labels: {app: sctpclient}
spec:
  containers:
    - {name: sctpclient, image: registry.access.redhat.com/ubi9/ubi}
status: {podIP: 10.131.0.7}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {role: web}
status: {podIP: 10.128.2.16}
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-sctp-on-http
spec:
  podSelector:
    matchLabels:
      role: web
  ingress:
  - ports:
    - protocol: SCTP
      port: 80
"""


@pytest.fixture
def seed(tmp_path: Path) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(SEED)
    return str(path)


def run(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--color", "never", "policy", *args], input=stdin)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(
    ("source", "destination", "port", "allowed"),
    [
        ("sctpclient", "web", "80/sctp", True),
        ("203.0.113.9", "web", "80/sctp", True),  # no `from`: sources outside the cluster too
        ("sctpclient", "web", "80/tcp", False),  # an SCTP-only policy isolates TCP
        ("sctpclient", "web", "81/sctp", False),
        ("sctpclient", "sctpserver", "30102/sctp", True),  # not selected: not isolated
        ("default/sctpclient", "10.128.2.16", "80/sctp", True),  # web by its address
    ],
)
def test_explain_the_seed_policy(
    seed: str, source: str, destination: str, port: str, allowed: bool
) -> None:
    result = run("explain", "-f", seed, "--from", source, "--to", destination, "--port", port)
    assert result.exit_code == (0 if allowed else 1), result.output
    assert result.output.startswith("allowed:" if allowed else "denied:")


def test_explain_says_which_rule_allowed_or_what_denied(seed: str) -> None:
    allowed = run("explain", "-f", seed, "--from", "sctpclient", "--to", "web", "--port", "80/sctp")
    assert (
        "ingress at default/web: allowed by default/allow-sctp-on-http ingress[0]" in allowed.output
    )
    denied = run("explain", "-f", seed, "--from", "sctpclient", "--to", "web", "--port", "80/tcp")
    assert "isolated by default/allow-sctp-on-http" in denied.output
    assert "port does not match (SCTP 80)" in denied.output
    assert "egress at default/sctpclient: allowed, not isolated" in denied.output


def test_explain_json(seed: str) -> None:
    result = run(
        "explain",
        "-f",
        seed,
        "--from",
        "sctpclient",
        "--to",
        "web",
        "--port",
        "80/tcp",
        "-o",
        "json",
    )
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert {"allowed", "ingress", "egress"} <= set(body)
    assert body["kind"] == "PolicyVerdict"
    assert body["allowed"] is False
    assert body["ingress"]["isolatedBy"] == ["default/allow-sctp-on-http"]
    assert body["ingress"]["rules"] == [
        {
            "policy": "default/allow-sctp-on-http",
            "direction": "Ingress",
            "rule": 0,
            "peerMatched": True,
            "portMatched": False,
            "peer": None,
            "port": None,
        }
    ]
    assert body["egress"] == {
        "allowed": True,
        "pod": "default/sctpclient",
        "policed": True,
        "isolated": False,
        "isolatedBy": [],
        "allowedBy": [],
        "rules": [],
        "reason": "allowed, not isolated: no NetworkPolicy in namespace default selects "
        "default/sctpclient for egress",
    }
    assert body["traffic"] == {
        "protocol": "TCP",
        "port": 80,
        "from": {"pod": "default/sctpclient", "address": "10.131.0.7"},
        "to": {"pod": "default/web", "address": "10.128.2.16"},
    }


def test_table_text(seed: str) -> None:
    result = run("table", "-f", seed, "--port", "80/sctp", "--port", "80/tcp")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "SCTP 80 (combined, IPv4)",
        "-                  default/sctpclient default/sctpserver    default/web",
        "default/sctpclient         .                  .                  .",
        "default/sctpserver         .                  .                  .",
        "default/web                .                  .                  .",
        "",
        "TCP 80 (combined, IPv4)",
        "-                  default/sctpclient default/sctpserver    default/web",
        "default/sctpclient         .                  .                  X",
        "default/sctpserver         .                  .                  X",
        "default/web                .                  .                  X",
        "",
    ]


def test_table_json_has_the_matrix_with_names(seed: str) -> None:
    result = run("table", "-f", seed, "--port", "80/tcp", "--view", "all", "-o", "json")
    assert result.exit_code == 0
    body = json.loads(result.output)
    assert body["kind"] == "TruthTables"
    assert body["family"] == 4
    assert [t["view"] for t in body["tables"]] == ["combined", "ingress", "egress"]
    combined = body["tables"][0]
    names = ["default/sctpclient", "default/sctpserver", "default/web"]
    assert (combined["protocol"], combined["port"]) == ("TCP", 80)
    assert combined["from"] == names and combined["to"] == names
    assert combined["matrix"] == [[".", ".", "X"]] * 3
    assert combined["counts"] == {"allowed": 6, "denied": 3}
    assert body["tables"][2]["matrix"] == [["."] * 3] * 3  # egress is not isolated anywhere


def test_table_yaml_and_stdin() -> None:
    result = run("table", "-f", "-", "--port", "80/sctp", "-o", "yaml", stdin=SEED)
    assert result.exit_code == 0
    assert yaml.safe_load(result.output)["tables"][0]["matrix"][0] == [".", ".", "."]


def test_compact_tables_number_the_pods(seed: str) -> None:
    result = run("table", "-f", seed, "--port", "80/tcp", "--compact")
    assert result.output.splitlines()[1:5] == [
        "                     012",
        "0 default/sctpclient ..X",
        "1 default/sctpserver ..X",
        "2 default/web        ..X",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "nope", "--to", "web", "--port", "80/sctp"], "no pod default/nope"),
        (["--from", "web", "--to", "web", "--port", "80"], "'80' is not PORT/PROTOCOL"),
        (["--from", "web", "--to", "web", "--port", "80/icmp"], "tcp, udp or sctp"),
        (["--from", "10.0.0.1", "--to", "fd00::1", "--port", "80/sctp"], "not an IPv4 address"),
    ],
)
def test_explain_refuses_bad_arguments_with_exit_2(
    seed: str, args: list[str], message: str
) -> None:
    result = run("explain", "-f", seed, *args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            SEED.replace("protocol: SCTP\n      port: 80", "protocol: SCTP\n      port: 0"),
            ":42:7: ",
        ),
        (
            SEED.replace("protocol: SCTP\n      port: 80", "protocol: sctp\n      port: 80"),
            "upper case",
        ),
        ("kind: Pod\napiVersion: v1\nmetadata: {name: a}\nstatus: {podIP: nope}\n", ":4:"),
        ("kind: [", "invalid YAML"),
        (
            "kind: Pod\napiVersion: v1\nmetadata: {name: a}\nstatus: {podIP: 10.0.0.1}\n---\n"
            "kind: Pod\napiVersion: v1\nmetadata: {name: b}\nstatus: {podIP: 10.0.0.1}\n",
            "both have the IP 10.0.0.1",
        ),
    ],
)
def test_bad_files_are_refused_with_the_place(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    for args in (
        ["table", "--port", "80/sctp"],
        ["explain", "--from", "10.0.0.9", "--to", "10.0.0.8", "--port", "80/sctp"],
    ):
        result = run(*args, "-f", str(path))
        assert result.exit_code == 2, result.output
        assert message in result.output.replace("\n", " ")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    result = run("table", "-f", str(tmp_path / "none.yaml"), "--port", "80/sctp")
    assert result.exit_code == 2
    assert "no such file or directory" in result.output
