"""Whether sctp loads at boot, decided from modprobe.d and modules-load.d contents."""

from __future__ import annotations

import pytest

from sctpctl.node.modules import (
    RHCOS_MODPROBE_D,
    BootState,
    ConfigLine,
    module_boot_state,
)

LOAD = {"/etc/modules-load.d/sctp-load.conf": "sctp"}
EMPTIED = {"/etc/modprobe.d/sctp-blacklist.conf": ""}


def test_rhcos_as_shipped_blacklists_sctp() -> None:
    result = module_boot_state(RHCOS_MODPROBE_D, {})
    assert result.state is BootState.BLACKLISTED
    assert result.blocked_by == (
        ConfigLine("/etc/modprobe.d/sctp-blacklist.conf", 1, "blacklist sctp"),
    )


def test_the_procedure_needs_both_files() -> None:
    # only the load file: systemd-modules-load applies the blacklist and skips sctp
    assert module_boot_state(RHCOS_MODPROBE_D, LOAD).state is BootState.BLACKLISTED
    # only the emptied blacklist: nothing loads it at boot
    assert module_boot_state(EMPTIED, {}).state is BootState.NOT_CONFIGURED
    # both: loaded at boot
    both = module_boot_state(EMPTIED, LOAD)
    assert both.state is BootState.LOADED_AT_BOOT
    assert both.loaded_by == (ConfigLine("/etc/modules-load.d/sctp-load.conf", 1, "sctp"),)
    assert "loaded at boot by /etc/modules-load.d/sctp-load.conf:1" in both.explain()


@pytest.mark.parametrize(
    ("line", "state"),
    [
        ("blacklist sctp", BootState.BLACKLISTED),
        ("  blacklist   sctp  ", BootState.BLACKLISTED),
        ("install sctp /bin/true", BootState.BLACKLISTED),
        ("install sctp /bin/false", BootState.BLACKLISTED),
        ("install sctp exit 1", BootState.BLACKLISTED),
        ("install sctp /sbin/modprobe --ignore-install sctp", BootState.LOADED_AT_BOOT),
        ("install sctp \\\n  /bin/true", BootState.BLACKLISTED),  # continued line
        ("# blacklist sctp", BootState.LOADED_AT_BOOT),
        ("blacklist sctp_diag", BootState.LOADED_AT_BOOT),
        ("blacklist dccp", BootState.LOADED_AT_BOOT),
        ("options sctp foo=1", BootState.LOADED_AT_BOOT),
    ],
)
def test_modprobe_lines(line: str, state: BootState) -> None:
    modprobe_d = {"/etc/modprobe.d/local.conf": line + "\n"}
    assert module_boot_state(modprobe_d, LOAD).state is state


@pytest.mark.parametrize(
    ("text", "listed"),
    [
        ("sctp", True),
        ("sctp\n", True),
        ("  sctp  \n", True),
        ("# sctp\n", False),
        ("; sctp\n", False),
        ("dummy\nsctp\n", True),
        ("sctp_diag\n", False),
        ("stcp\n", False),
        ("", False),
    ],
)
def test_modules_load_lines(text: str, listed: bool) -> None:
    state = module_boot_state(EMPTIED, {"/etc/modules-load.d/x.conf": text}).state
    assert (state is BootState.LOADED_AT_BOOT) is listed


def test_only_conf_files_count() -> None:
    assert module_boot_state({}, {"/etc/modules-load.d/sctp.txt": "sctp"}).state is (
        BootState.NOT_CONFIGURED
    )
    assert module_boot_state({"/etc/modprobe.d/old.conf.bak": "blacklist sctp"}, LOAD).state is (
        BootState.LOADED_AT_BOOT
    )


def test_dashes_and_underscores_are_the_same_in_module_names() -> None:
    result = module_boot_state({"a.conf": "blacklist nf-conntrack"}, {}, module="nf_conntrack")
    assert result.state is BootState.BLACKLISTED


@pytest.mark.parametrize(
    "cmdline", ["module_blacklist=sctp", "modprobe.blacklist=dccp,sctp", "ro module_blacklist=sctp"]
)
def test_kernel_command_line_blocks(cmdline: str) -> None:
    result = module_boot_state(EMPTIED, LOAD, kernel_cmdline=cmdline)
    assert result.state is BootState.BLACKLISTED
    assert result.blocked_by[0].file == "/proc/cmdline"


def test_evidence_points_at_the_line() -> None:
    text = "# comment\n\nalias foo bar\nblacklist sctp\n"
    result = module_boot_state({"/etc/modprobe.d/x.conf": text}, {})
    assert [str(c) for c in result.blocked_by] == ["/etc/modprobe.d/x.conf:4: blacklist sctp"]
    assert result.explain().startswith("sctp is blocked by /etc/modprobe.d/x.conf:4")
