"""``sctpctl lab`` where the host lacks what the lab needs: a clear message and exit code 3,
and nothing started or changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from sctpctl.cli.main import cli
from sctpctl.outcomes import ExitCode


@pytest.mark.parametrize("command", [["up"], ["down"]])
def test_without_root_the_lab_refuses_to_start_or_clean(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cli, ["lab", *command, "--state", str(tmp_path / "state")])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert "the lab needs root privileges" in result.output
    assert not (tmp_path / "state").exists()


@pytest.mark.root
def test_without_nft_the_lab_says_which_package_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ip").symlink_to("/usr/sbin/ip")  # ip is there, nft is not
    monkeypatch.setenv("PATH", str(bin_dir))
    result = CliRunner().invoke(cli, ["lab", "up", "--state", str(tmp_path / "state")])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert "nft is not installed (apt-get install nftables)" in result.output


def test_an_unreadable_state_folder_is_an_environment_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", refuse)
    result = CliRunner().invoke(cli, ["lab", "status", "--state", str(tmp_path)])
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = " ".join(result.output.split())  # the console wraps long lines
    assert f"cannot use the lab's state folder {tmp_path}: Permission denied" in message


def test_status_of_a_lab_that_is_not_running_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["lab", "status", "--state", str(tmp_path), "-o", "json"])
    assert result.exit_code == 1
    assert '"running": false' in result.output


def test_a_lab_needs_a_node(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["lab", "up", "--workers", "0", "--masters", "0", "--state", str(tmp_path)]
    )
    assert result.exit_code == ExitCode.USAGE
    assert "a lab needs at least one node" in result.output
