"""Reading Ignition configs inside MachineConfigs: files to write, or precise problems."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from sctpctl.node.dataurl import encode_data_url
from sctpctl.node.ignition import (
    IgnitionFile,
    IgnitionVersion,
    Level,
    ProblemKind,
    read_ignition,
    read_machineconfig,
)

SEED = Path(__file__).parents[1] / "manifests" / "seed"


def config(version: str, *files: dict[str, Any]) -> dict[str, Any]:
    return {"ignition": {"version": version}, "storage": {"files": list(files)}}


def v3(**entry: Any) -> dict[str, Any]:
    return config("3.2.0", {"path": "/etc/x.conf", **entry})


def v2(**entry: Any) -> dict[str, Any]:
    return config("2.2.0", {"path": "/etc/x.conf", "filesystem": "root", **entry})


def src(text: str) -> dict[str, str]:
    return {"source": encode_data_url(text.encode())}


@pytest.mark.parametrize(
    "name", ["load-sctp-module.yaml", "load-sctp-module-3.1.0.yaml", "load-sctp-module-2.2.0.yaml"]
)
def test_the_three_published_machineconfigs_write_the_same_files(name: str) -> None:
    obj = yaml.safe_load((SEED / name).read_text())
    reading = read_machineconfig(obj)
    assert reading.problems == ()
    assert [(f.path, f.mode, f.contents, f.overwrite) for f in reading.files] == [
        ("/etc/modprobe.d/sctp-blacklist.conf", 0o644, b"", True),
        ("/etc/modules-load.d/sctp-load.conf", 0o644, b"sctp", True),
    ]
    assert reading.files[1].entry == ("spec", "config", "storage", "files", 1)


def test_every_operator_version_is_known() -> None:
    assert [v.value for v in IgnitionVersion] == [
        "2.2.0",
        "3.0.0",
        "3.1.0",
        "3.2.0",
        "3.3.0",
        "3.4.0",
    ]
    for version in ("3.0.0", "3.3.0", "3.4.0"):
        reading = read_ignition(config(version, {"path": "/a", "contents": src("x")}))
        assert reading.ok
        assert reading.files[0].contents == b"x"


def test_defaults_differ_between_2_and_3() -> None:
    (two,) = read_ignition(v2(contents=src("x"))).files
    (three,) = read_ignition(v3(contents=src("x"))).files
    assert two.overwrite is True and three.overwrite is False
    assert two.mode == three.mode == 0o644


def test_no_source_means_leave_the_file_as_it_is() -> None:
    (file,) = read_ignition(v3()).files
    assert file == IgnitionFile("/etc/x.conf", 0o644, None, False, ("storage", "files", 0))


# One row per problem: the config, the path of the problem, its kind and words of its message.
PROBLEMS: list[tuple[str, Any, tuple[Any, ...], ProblemKind, str]] = [
    ("no version", {"storage": {}}, ("ignition",), ProblemKind.VERSION, "is required"),
    (
        "unknown version",
        {"ignition": {"version": "3.5.0"}},
        ("ignition", "version"),
        ProblemKind.VERSION,
        "'3.5.0' is not supported",
    ),
    (
        "version as a number",
        {"ignition": {"version": 3.2}},
        ("ignition", "version"),
        ProblemKind.VERSION,
        "not supported",
    ),
    ("not a mapping", ["x"], (), ProblemKind.STRUCTURE, "must be a mapping"),
    (
        "files not a list",
        {"ignition": {"version": "3.2.0"}, "storage": {"files": {}}},
        ("storage", "files"),
        ProblemKind.STRUCTURE,
        "must be a list",
    ),
    (
        "2.2.0 without filesystem",
        config("2.2.0", {"path": "/a", "contents": src("")}),
        ("storage", "files", 0),
        ProblemKind.VERSION,
        "needs 'filesystem: root'",
    ),
    (
        "2.2.0 other filesystem",
        v2(filesystem="data", contents=src("")),
        ("storage", "files", 0, "filesystem"),
        ProblemKind.STRUCTURE,
        "writes files on 'root' only",
    ),
    (
        "3.x with filesystem",
        v3(filesystem="root", contents=src("")),
        ("storage", "files", 0, "filesystem"),
        ProblemKind.VERSION,
        "has no 'filesystem' field",
    ),
    (
        "relative path",
        config("3.2.0", {"path": "etc/x", "contents": src("")}),
        ("storage", "files", 0, "path"),
        ProblemKind.PATH,
        "must be absolute",
    ),
    (
        "path escaping the root",
        config("3.2.0", {"path": "/etc/../../x", "contents": src("")}),
        ("storage", "files", 0, "path"),
        ProblemKind.PATH,
        "must be clean",
    ),
    (
        "directory path",
        config("3.2.0", {"path": "/etc/", "contents": src("")}),
        ("storage", "files", 0, "path"),
        ProblemKind.PATH,
        "names a directory",
    ),
    (
        "no path",
        config("3.2.0", {"contents": src("")}),
        ("storage", "files", 0),
        ProblemKind.STRUCTURE,
        "needs a path",
    ),
    (
        "duplicate path",
        config("3.2.0", {"path": "/a", "contents": src("")}, {"path": "/a", "contents": src("")}),
        ("storage", "files", 1, "path"),
        ProblemKind.DUPLICATE,
        "already written by storage.files[0]",
    ),
    (
        "mode as a string",
        v3(mode="0644", contents=src("")),
        ("storage", "files", 0, "mode"),
        ProblemKind.MODE,
        "must be an integer",
    ),
    (
        "mode too large",
        v3(mode=0o10000, contents=src("")),
        ("storage", "files", 0, "mode"),
        ProblemKind.MODE,
        "out of range",
    ),
    (
        "overwrite without source",
        v3(overwrite=True),
        ("storage", "files", 0, "overwrite"),
        ProblemKind.STRUCTURE,
        "needs contents.source",
    ),
    (
        "overwrite not a boolean",
        v3(overwrite="yes", contents=src("")),
        ("storage", "files", 0, "overwrite"),
        ProblemKind.STRUCTURE,
        "true or false",
    ),
    (
        "http source",
        v3(contents={"source": "https://example.com/sctp.conf"}),
        ("storage", "files", 0, "contents", "source"),
        ProblemKind.SOURCE,
        "'https' scheme cannot be used",
    ),
    (
        "bad data url",
        v3(contents={"source": "data:;base64,###"}),
        ("storage", "files", 0, "contents", "source"),
        ProblemKind.SOURCE,
        "not valid base64",
    ),
    (
        "unknown compression",
        v3(contents={"source": "data:,x", "compression": "bzip2"}),
        ("storage", "files", 0, "contents", "compression"),
        ProblemKind.SOURCE,
        "only gzip",
    ),
    (
        "bad gzip",
        v3(contents={"source": "data:,x", "compression": "gzip"}),
        ("storage", "files", 0, "contents", "source"),
        ProblemKind.SOURCE,
        "not valid gzip",
    ),
    (
        "wrong hash",
        v3(contents={"source": "data:,x", "verification": {"hash": "sha512-00"}}),
        ("storage", "files", 0, "contents", "verification", "hash"),
        ProblemKind.VERIFICATION,
        "not 00",
    ),
    (
        "sha256 before 3.1.0",
        config(
            "3.0.0",
            {"path": "/a", "contents": {"source": "data:,x", "verification": {"hash": "sha256-0"}}},
        ),
        ("storage", "files", 0, "contents", "verification", "hash"),
        ProblemKind.VERIFICATION,
        "type sha512 in Ignition 3.0.0",
    ),
    (
        "append in 3.x",
        v3(contents=src(""), append=[src("sctp")]),
        ("storage", "files", 0, "append"),
        ProblemKind.UNSUPPORTED,
        "does not support append",
    ),
    (
        "append in 2.x",
        v2(contents=src(""), append=True),
        ("storage", "files", 0, "append"),
        ProblemKind.UNSUPPORTED,
        "does not support append",
    ),
    (
        "user id not a number",
        v3(contents=src(""), user={"id": "root"}),
        ("storage", "files", 0, "user", "id"),
        ProblemKind.STRUCTURE,
        "must be an integer",
    ),
]


@pytest.mark.parametrize(
    ("config_", "path", "kind", "words"),
    [row[1:] for row in PROBLEMS],
    ids=[row[0] for row in PROBLEMS],
)
def test_problems_are_precise(
    config_: Any, path: tuple[Any, ...], kind: ProblemKind, words: str
) -> None:
    reading = read_ignition(config_, base=("spec", "config"))
    assert not reading.ok
    found = [(p.path, p.kind) for p in reading.errors]
    assert (("spec", "config", *path), kind) in found, reading.problems
    assert any(words in p.message for p in reading.errors), [p.message for p in reading.errors]
    assert reading.reason().startswith("spec.config")


def test_a_bad_entry_is_left_out_and_the_good_ones_kept() -> None:
    reading = read_ignition(
        config("3.2.0", {"path": "relative"}, {"path": "/good", "contents": src("ok")})
    )
    assert [f.path for f in reading.files] == ["/good"]
    assert len(reading.errors) == 1


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"contents": src(""), "overwrites": True}, "no file field 'overwrites'"),
        ({"contents": {"source": "data:,", "sorce": "x"}}, "no contents field 'sorce'"),
        ({"contents": src(""), "mode": 0o4755}, "setuid/setgid/sticky"),
    ],
)
def test_warnings_do_not_stop_the_file(entry: dict[str, Any], words: str) -> None:
    reading = read_ignition(v3(**entry))
    assert reading.ok
    assert len(reading.files) == 1
    assert [p.level for p in reading.problems] == [Level.WARNING]
    assert words in reading.problems[0].message


def test_special_bits_are_fine_from_3_4_0() -> None:
    reading = read_ignition(config("3.4.0", {"path": "/a", "mode": 0o4755, "contents": src("")}))
    assert reading.problems == ()


def test_gzip_and_hashes_are_checked_on_the_decoded_contents() -> None:
    packed = gzip.compress(b"sctp\n")
    digest = hashlib.sha256(b"sctp\n").hexdigest()
    contents = {
        "source": encode_data_url(packed, as_base64=True),
        "compression": "gzip",
        "verification": {"hash": f"sha256-{digest}"},
    }
    reading = read_ignition(v3(contents=contents))
    assert reading.problems == ()
    assert reading.files[0].contents == b"sctp\n"


def test_machineconfig_without_config_writes_nothing() -> None:
    reading = read_machineconfig({"kind": "MachineConfig", "spec": {"kernelArguments": ["x"]}})
    assert reading.ok and reading.files == () and reading.version is None
