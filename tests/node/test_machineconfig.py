"""The procedure's MachineConfig, rendered in its three published versions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sctpctl.node.ignition import IgnitionVersion, read_ignition, read_machineconfig
from sctpctl.node.machineconfig import (
    RENDERABLE_VERSIONS,
    render_sctp_machineconfig,
    sctp_boot_effect,
)
from sctpctl.node.modules import BootState

SEED = Path(__file__).parents[1] / "manifests" / "seed"
SEED_FILES = {
    IgnitionVersion.V3_2_0: "load-sctp-module.yaml",
    IgnitionVersion.V3_1_0: "load-sctp-module-3.1.0.yaml",
    IgnitionVersion.V2_2_0: "load-sctp-module-2.2.0.yaml",
}


def test_the_default_is_the_seed_object() -> None:
    seed = yaml.safe_load((SEED / "load-sctp-module.yaml").read_text())
    assert render_sctp_machineconfig() == seed


@pytest.mark.parametrize("version", RENDERABLE_VERSIONS)
def test_each_published_version_is_rendered_as_documented(version: IgnitionVersion) -> None:
    seed = yaml.safe_load((SEED / SEED_FILES[version]).read_text())
    assert render_sctp_machineconfig(ignition=version) == seed


@pytest.mark.parametrize("version", RENDERABLE_VERSIONS)
def test_rendered_objects_enable_sctp_on_rhcos(version: IgnitionVersion) -> None:
    reading = read_machineconfig(render_sctp_machineconfig(ignition=version))
    assert reading.problems == ()
    assert sctp_boot_effect(reading.files).state is BootState.LOADED_AT_BOOT


def test_role_and_name_are_applied() -> None:
    obj = render_sctp_machineconfig(name="sctp-cnf", role="worker-cnf")
    assert obj["metadata"] == {
        "name": "sctp-cnf",
        "labels": {"machineconfiguration.openshift.io/role": "worker-cnf"},
    }


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "Load_SCTP"}, "not a valid object name"),
        ({"role": "worker cnf"}, "not a valid label value"),
        ({"ignition": "3.4.0"}, "not one of the published versions"),
        ({"ignition": "9.9.9"}, "9.9.9"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        render_sctp_machineconfig(**kwargs)


@pytest.mark.parametrize(
    ("files", "state"),
    [
        ({}, BootState.BLACKLISTED),
        ({"/etc/modules-load.d/sctp-load.conf": "data:,sctp"}, BootState.BLACKLISTED),
        ({"/etc/modprobe.d/sctp-blacklist.conf": "data:,"}, BootState.NOT_CONFIGURED),
        (
            {
                "/etc/modprobe.d/sctp-blacklist.conf": "data:,%23blacklist%20sctp",
                "/etc/modules-load.d/sctp.conf": "data:,sctp%0A",
            },
            BootState.LOADED_AT_BOOT,
        ),
        (
            # a file in a subdirectory is read by neither kmod nor systemd
            {
                "/etc/modprobe.d/sctp-blacklist.conf": "data:,",
                "/etc/modules-load.d/old/sctp.conf": "data:,sctp",
            },
            BootState.NOT_CONFIGURED,
        ),
    ],
)
def test_boot_effect_on_an_rhcos_node(files: dict[str, str], state: BootState) -> None:
    config = {
        "ignition": {"version": "3.2.0"},
        "storage": {
            "files": [
                {"path": p, "overwrite": True, "contents": {"source": s}} for p, s in files.items()
            ]
        },
    }
    assert sctp_boot_effect(read_ignition(config).files).state is state


def test_a_file_without_source_keeps_or_empties_the_node_file() -> None:
    def state(version: str, **entry: object) -> BootState:
        files = [
            {"path": "/etc/modprobe.d/sctp-blacklist.conf", **entry},
            {"path": "/etc/modules-load.d/sctp.conf", "contents": {"source": "data:,sctp"}},
        ]
        if version.startswith("2"):
            for file in files:
                file["filesystem"] = "root"
        config = {"ignition": {"version": version}, "storage": {"files": files}}
        reading = read_ignition(config)
        assert reading.ok, reading.problems
        return sctp_boot_effect(reading.files).state

    # 3.x without source and without overwrite: RHCOS's blacklist stays
    assert state("3.2.0") is BootState.BLACKLISTED
    # 2.2.0 overwrites by default: the file is replaced by an empty one
    assert state("2.2.0") is BootState.LOADED_AT_BOOT
    assert state("2.2.0", overwrite=False) is BootState.BLACKLISTED
