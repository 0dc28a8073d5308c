"""The node check: what each status pod reads, from files only, and the state it decides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sctpctl.cli.main import cli
from sctpctl.enable.checkpods import check_pod, parse_report, run_namespace
from sctpctl.enable.nodestate import ModuleReport, ModuleState, read_node_state

RELEASE = "5.14.0-427.el9.x86_64"


def make_node(
    tmp_path: Path,
    *,
    modprobe: dict[str, str] | None = None,
    modules_load: dict[str, str] | None = None,
    initstate: str | None = None,
    module_tree: str | None = "kernel/net/sctp/sctp.ko.xz: kernel/lib/libcrc32c.ko.xz\n",
    builtin: str = "",
    cmdline: str = "BOOT_IMAGE=/vmlinuz root=UUID=x",
) -> tuple[Path, Path]:
    """A node's files as the check pod sees them: (host root, system root)."""
    host, system = tmp_path / "host", tmp_path / "system"
    for folder, files in (("etc/modprobe.d", modprobe), ("etc/modules-load.d", modules_load)):
        (host / folder).mkdir(parents=True)
        for name, text in (files or {}).items():
            (host / folder / name).write_text(text)
    tree = host / "lib/modules" / RELEASE
    tree.mkdir(parents=True)
    if module_tree is not None:
        (tree / "modules.dep").write_text(module_tree)
        (tree / "modules.builtin").write_text(builtin)
    (system / "proc").mkdir(parents=True)
    (system / "proc/cmdline").write_text(cmdline)
    if initstate is not None:
        (system / "sys/module/sctp").mkdir(parents=True)
        if initstate != "builtin":
            (system / "sys/module/sctp/initstate").write_text(initstate + "\n")
    return host, system


def read(host: Path, system: Path) -> ModuleReport:
    return read_node_state(host, system_root=system, kernel=RELEASE)


RHCOS = {"sctp-blacklist.conf": "blacklist sctp\n"}


def test_rhcos_out_of_the_box_is_blacklisted(tmp_path: Path) -> None:
    report = read(*make_node(tmp_path, modprobe=RHCOS))
    assert report.state is ModuleState.BLACKLISTED
    assert report.blocked_by == ("/etc/modprobe.d/sctp-blacklist.conf:1: blacklist sctp",)
    assert (
        report.detail == "sctp is blocked by /etc/modprobe.d/sctp-blacklist.conf:1: blacklist sctp"
    )
    assert report.module_file == "kernel/net/sctp/sctp.ko.xz"


def test_after_the_machineconfig_and_a_reboot_it_is_loaded(tmp_path: Path) -> None:
    files = make_node(
        tmp_path,
        modprobe={"sctp-blacklist.conf": ""},
        modules_load={"sctp-load.conf": "sctp"},
        initstate="live",
    )
    report = read(*files)
    assert report.state is ModuleState.LOADED and report.boot == "loaded-at-boot"
    assert report.loaded_by == ("/etc/modules-load.d/sctp-load.conf:1: sctp",)


def test_configured_but_not_rebooted_yet_is_not_loaded(tmp_path: Path) -> None:
    report = read(
        *make_node(
            tmp_path, modprobe={"sctp-blacklist.conf": ""}, modules_load={"sctp-load.conf": "sctp"}
        )
    )
    assert report.state is ModuleState.NOT_LOADED
    assert "has not rebooted since" in report.detail


def test_loaded_by_hand_despite_the_blacklist_says_it_will_not_survive_a_reboot(
    tmp_path: Path,
) -> None:
    report = read(*make_node(tmp_path, modprobe=RHCOS, initstate="live"))
    assert report.state is ModuleState.LOADED
    assert "will not be loaded after a reboot" in report.detail


def test_a_kernel_without_the_module_is_absent_even_when_blacklisted(tmp_path: Path) -> None:
    report = read(*make_node(tmp_path, modprobe=RHCOS, module_tree="kernel/fs/xfs/xfs.ko.xz:\n"))
    assert report.state is ModuleState.ABSENT and report.module_file is None


def test_built_in_sctp_is_loaded(tmp_path: Path) -> None:
    report = read(*make_node(tmp_path, initstate="builtin", builtin="kernel/net/sctp/sctp.ko\n"))
    assert report.state is ModuleState.LOADED and report.initstate == "builtin"


def test_without_a_readable_module_list_absence_is_not_claimed(tmp_path: Path) -> None:
    report = read(*make_node(tmp_path, module_tree=None))
    assert report.state is ModuleState.NOT_LOADED and report.module_file is None


def test_the_kernel_command_line_blocks_too(tmp_path: Path) -> None:
    report = read(*make_node(tmp_path, cmdline="ro module_blacklist=sctp,dccp"))
    assert report.state is ModuleState.BLACKLISTED
    assert report.blocked_by == ("/proc/cmdline:1: module_blacklist=sctp,dccp",)


def test_the_report_survives_the_trip_through_pod_logs(tmp_path: Path) -> None:
    host, _ = make_node(tmp_path, modprobe=RHCOS)
    result = CliRunner().invoke(cli, ["node-state", "--root", str(host)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["kind"] == "NodeModuleState"
    assert document["state"] in ("blacklisted", "absent")  # this machine's kernel decides
    assert parse_report("a warning line\n" + result.output) == ModuleReport.from_json(document)
    with pytest.raises(ValueError, match="no JSON"):
        parse_report("exec format error")


def test_the_check_pod_reads_host_paths_read_only_and_opens_no_socket() -> None:
    pod = check_pod("worker-0", run_id="abc", namespace="ns", image="registry.local/sctpctl:1")
    spec = pod["spec"]
    assert spec["nodeName"] == "worker-0" and spec["restartPolicy"] == "Never"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    (container,) = spec["containers"]
    assert container["command"] == ["sctpctl", "node-state", "--root", "/host", "-o", "json"]
    assert container["image"] == "registry.local/sctpctl:1"
    assert "privileged" not in container["securityContext"]
    assert all(m["readOnly"] for m in container["volumeMounts"])
    assert {v["hostPath"]["path"]: v["hostPath"]["type"] for v in spec["volumes"]} == {
        "/etc/modprobe.d": "Directory",
        "/etc/modules-load.d": "Directory",
        "/lib/modules": "Directory",
    }
    assert pod["metadata"]["labels"]["sctpctl.io/status"] == "abc"
    namespace = run_namespace("abc")
    assert namespace["metadata"]["name"] == "sctpctl-status-abc"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
