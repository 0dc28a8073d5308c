"""The command line skeleton: help, version, exit codes, colour and the plugin entry points."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from sctpctl import __version__
from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.cli.main import cli
from sctpctl.cli.output import OutputFormat, emit, output_option, simple_table
from sctpctl.outcomes import ExitCode, Outcome


def test_help_lists_exit_codes_and_outcomes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.output
    assert "no-sctp-on-target" in result.output
    assert " 13  no-sctp-on-target" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == ExitCode.USAGE


def test_outcome_exit_codes_follow_the_design_table() -> None:
    expected = {
        "open": 0,
        "closed": 10,
        "filtered": 11,
        "rejected": 12,
        "no-sctp-on-target": 13,
        "no-sctp-local": 14,
        "mismatch": 15,
    }
    assert {o.value: int(o.exit_code) for o in Outcome} == expected
    for outcome in Outcome:
        assert Outcome.from_exit_code(int(outcome.exit_code)) is outcome
    assert Outcome.from_exit_code(1) is None


def _sample_group() -> click.Group:
    """A throwaway command attached to the real group, so the real option handling is exercised."""
    group = click.Group(name="sample")

    @group.command()
    @output_option()
    def show(output: OutputFormat) -> None:
        emit(
            output,
            {"kind": "Sample", "items": [{"name": "a", "port": 30102}]},
            table=lambda: simple_table(["name", "port"], [["a", 30102]]),
        )

    @group.command()
    def fail() -> None:
        raise EnvironmentProblem("no cluster reachable", hint="check --kubeconfig")

    @group.command()
    def fail_checks() -> None:
        raise CommandError("2 checks failed")

    return group


@pytest.fixture
def runner_cli() -> click.Group:
    sample = _sample_group()
    for name, command in sample.commands.items():
        cli.add_command(command, name)
    yield cli
    for name in sample.commands:
        cli.commands.pop(name)


def test_output_formats(runner_cli: click.Group) -> None:
    runner = CliRunner()
    as_json = runner.invoke(runner_cli, ["show", "-o", "json"])
    assert json.loads(as_json.output)["items"][0]["port"] == 30102
    as_yaml = runner.invoke(runner_cli, ["show", "-o", "yaml"])
    assert yaml.safe_load(as_yaml.output)["items"][0]["name"] == "a"
    as_table = runner.invoke(runner_cli, ["--color", "never", "show"])
    assert as_table.output.split() == ["NAME", "PORT", "a", "30102"]
    wrong = runner.invoke(runner_cli, ["show", "-o", "xml"])
    assert wrong.exit_code == ExitCode.USAGE


def test_json_never_contains_ansi_even_with_color_always(runner_cli: click.Group) -> None:
    result = CliRunner().invoke(runner_cli, ["--color", "always", "show", "-o", "json"])
    assert "\x1b[" not in result.output


def test_color_always_colours_tables_and_never_does_not(runner_cli: click.Group) -> None:
    coloured = CliRunner().invoke(runner_cli, ["--color", "always", "show"])
    assert "\x1b[" in coloured.output
    plain = CliRunner().invoke(runner_cli, ["--color", "never", "show"])
    assert "\x1b[" not in plain.output


def test_no_color_environment_is_honoured_in_auto_mode(runner_cli: click.Group) -> None:
    result = CliRunner(env={"NO_COLOR": "1", "FORCE_COLOR": None}).invoke(runner_cli, ["show"])
    assert "\x1b[" not in result.output


def test_errors_become_messages_and_exit_codes(runner_cli: click.Group) -> None:
    result = CliRunner().invoke(runner_cli, ["--color", "never", "fail"])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert "error: no cluster reachable" in result.output
    assert "hint: check --kubeconfig" in result.output
    assert "Traceback" not in result.output
    checks = CliRunner().invoke(runner_cli, ["fail-checks"])
    assert checks.exit_code == ExitCode.FAILED


@pytest.mark.parametrize(
    ("script", "prog"), [("sctpctl", "sctpctl"), ("kubectl-sctp", "kubectl sctp")]
)
def test_console_scripts_are_installed(script: str, prog: str) -> None:
    path = Path(sys.executable).parent / script
    assert path.exists(), f"{script} is not installed next to {sys.executable}"
    result = subprocess.run([str(path), "--help"], capture_output=True, text=True, check=True)
    assert f"Usage: {prog}" in result.stdout


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl on PATH")
def test_kubectl_finds_the_plugin() -> None:
    env_path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    result = subprocess.run(
        ["kubectl", "plugin", "list"],
        capture_output=True,
        text=True,
        env={"PATH": env_path, "HOME": "/nonexistent"},
    )
    assert "kubectl-sctp" in result.stdout


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sctpctl", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in result.stdout
