"""The image real clusters run (``Containerfile``): what can be checked without a container
runtime. Its build stage makes sctpctl's wheel; that wheel is built here the same way and must
carry the package and the commands the cluster pods run. Its final stage must run as non-root."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = ROOT / "Containerfile"


def stages() -> list[list[str]]:
    """The Containerfile's instructions, one list per stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result


def test_the_image_is_a_slim_python_base_that_runs_as_a_numeric_non_root_user() -> None:
    final = stages()[-1]
    assert re.match(r"FROM \S*python:3\.1[1-9]-slim\b", final[0])
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER: it would run as root"
    # A numeric uid lets runAsNonRoot admission verify it without reading /etc/passwd.
    assert users[-1].isdigit() and int(users[-1]) != 0


def test_the_build_stage_makes_the_wheel_the_final_stage_installs() -> None:
    build, final = stages()[0], stages()[-1]
    assert any("pip wheel" in line and "/wheels" in line for line in build)
    assert any("COPY --from=build /wheels" in line for line in final)
    assert any("pip install" in line and "/wheels/*.whl" in line for line in final)


@pytest.mark.slow
def test_the_wheel_carries_sctpctl_and_its_commands(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("sctpctl-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
        (metadata,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        ]
    for module in ("cli/main.py", "sctp/association.py", "tools/listen.py", "verify/__init__.py"):
        assert f"sctpctl/{module}" in names
    assert not [n for n in names if n.startswith("tests/")]
    for command in (
        "sctpctl = sctpctl.cli.main:main",
        "kubectl-sctp = sctpctl.cli.main:kubectl_main",
    ):
        assert command in scripts
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(map(normalized, requires)) == sorted(map(normalized, project["dependencies"]))


def normalized(requirement: str) -> tuple[str, frozenset[str]]:
    parsed = Requirement(requirement)
    return parsed.name.lower(), frozenset(str(s) for s in parsed.specifier)
