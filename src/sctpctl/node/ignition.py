"""Reading the Ignition config of a MachineConfig: the files it writes, or what is wrong with it.

The MachineConfig operator accepts Ignition spec 2.2.0 (translated to 3.x) and 3.0.0 to 3.4.0. Its
daemon writes each ``storage.files`` entry into the node's root filesystem; it fetches nothing,
so only ``data:`` URLs can carry contents, and it refuses ``append``. This module reads a config
the way that daemon would and returns either the files (path, mode, decoded bytes) or every
problem it found, each with the field path that caused it, so a linter can point at a line and
a pool can be marked Degraded with a reason a person can act on.

Rules by spec version (from the Ignition configuration specifications):

==============================  ======================  =====================================
field                           2.2.0                   3.0.0 - 3.4.0
==============================  ======================  =====================================
``files[].filesystem``          required (``root``)     does not exist (an error here)
``files[].overwrite`` default   true                    false; true needs ``contents.source``
``files[].append``              boolean                 list of contents
``verification.hash`` types     sha512                  sha512; sha256 from 3.1.0
``contents.httpHeaders``        -                       from 3.1.0
``mode``                        0 to 0o7777             0 to 0o7777; special bits from 3.4.0
==============================  ======================  =====================================

Modes are integers: YAML ``0644`` (octal, YAML 1.1) and ``420`` are the same mode, and a decimal
``644`` is a different one (0o1204); whether that was meant is a lint question, not a validity one.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from sctpctl.node.dataurl import DataUrlError, is_data_url, parse_data_url

ConfigPath = tuple[str | int, ...]
"A path into a config or an object: mapping keys and sequence indexes."

DEFAULT_FILE_MODE = 0o644
"The mode of a file whose entry gives none (Ignition's default)."
MAX_MODE = 0o7777
SPECIAL_BITS = 0o7000
"setuid, setgid and sticky."


class IgnitionVersion(StrEnum):
    """Ignition spec versions the MachineConfig operator accepts."""

    V2_2_0 = "2.2.0"
    V3_0_0 = "3.0.0"
    V3_1_0 = "3.1.0"
    V3_2_0 = "3.2.0"
    V3_3_0 = "3.3.0"
    V3_4_0 = "3.4.0"

    @property
    def major(self) -> int:
        return int(self.value.split(".", 1)[0])

    @property
    def at_least(self) -> tuple[int, int]:
        major, minor, _ = self.value.split(".")
        return int(major), int(minor)


class ProblemKind(Enum):
    """What kind of mistake a problem is; lint maps kinds to its rules."""

    VERSION = "version"
    "The spec version is missing or unknown, or a field does not belong to that version."
    STRUCTURE = "structure"
    "A field has the wrong type, or a required field is missing."
    PATH = "path"
    "A file path that is not absolute and clean."
    DUPLICATE = "duplicate"
    "Two entries write the same path."
    MODE = "mode"
    "A mode out of range, or with bits the version does not support."
    SOURCE = "source"
    "Contents that cannot be decoded: a bad data: URL, a non-data scheme, bad compression."
    VERIFICATION = "verification"
    "A hash that is malformed or does not match the decoded contents."
    UNSUPPORTED = "unsupported"
    "Valid Ignition that the MachineConfig operator refuses (append)."
    UNKNOWN_FIELD = "unknown-field"
    "A key Ignition does not know (ignored by Ignition, usually a typo)."


class Level(Enum):
    ERROR = "error"
    "The operator would refuse the config (the pool goes Degraded)."
    WARNING = "warning"
    "The config is accepted, but probably not as meant."


@dataclass(frozen=True, slots=True)
class IgnitionProblem:
    path: ConfigPath
    "Where: a path into the object that was read (``('spec', 'config', 'storage', ...)``)."
    kind: ProblemKind
    message: str
    level: Level = Level.ERROR


@dataclass(frozen=True, slots=True)
class IgnitionFile:
    """One file the config writes."""

    path: str
    "Absolute path on the node."
    mode: int
    "Permission bits as an integer (0o644 is 420)."
    contents: bytes | None
    """Decoded (and decompressed) bytes; ``None`` when no source is given: then an existing file
    stays as it is, unless ``overwrite`` replaces it with an empty one (2.x only: in 3.x
    overwrite without a source is an error)."""
    overwrite: bool
    "Whether whatever exists at the path is replaced."
    entry: ConfigPath
    "Where the entry is, for messages."


@dataclass(frozen=True, slots=True)
class IgnitionReading:
    """The result of reading a config: the files it writes and the problems found."""

    version: IgnitionVersion | None
    files: tuple[IgnitionFile, ...] = ()
    "The files the operator would write (entries without errors)."
    problems: tuple[IgnitionProblem, ...] = field(default=())
    attempted: tuple[IgnitionFile, ...] = ()
    """Every entry with a usable path, errors elsewhere in it or not, with its contents when they
    decode: what the author meant to write, for checks of the contents themselves."""

    @property
    def errors(self) -> tuple[IgnitionProblem, ...]:
        return tuple(p for p in self.problems if p.level is Level.ERROR)

    @property
    def warnings(self) -> tuple[IgnitionProblem, ...]:
        return tuple(p for p in self.problems if p.level is Level.WARNING)

    @property
    def ok(self) -> bool:
        """True when the operator would accept the config and write its files."""
        return not self.errors

    def file(self, path: str) -> IgnitionFile | None:
        return next((f for f in self.files if f.path == path), None)

    def reason(self) -> str:
        """One line for a Degraded condition: the first error, and how many more there are."""
        errors = self.errors
        if not errors:
            return ""
        first = errors[0]
        where = ".".join(str(p) for p in first.path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{where}: {first.message}{more}"


_FILE_KEYS_2 = frozenset({"filesystem", "path", "overwrite", "append", "contents", "mode"})
_FILE_KEYS_3 = frozenset({"path", "overwrite", "append", "contents", "mode"})
_OWNER_KEYS = frozenset({"user", "group"})
_CONTENTS_KEYS_2 = frozenset({"compression", "source", "verification"})
_CONTENTS_KEYS_31 = _CONTENTS_KEYS_2 | {"httpHeaders"}


def supported_versions() -> str:
    return ", ".join(v.value for v in IgnitionVersion)


def read_ignition(config: Any, *, base: ConfigPath = ()) -> IgnitionReading:
    """Read an Ignition config (a mapping) and return its files or its problems.

    ``base`` is prepended to every problem's path, so problems found in a MachineConfig point
    into the MachineConfig (:func:`read_machineconfig` passes ``("spec", "config")``).
    """
    reader = _Reader(base)
    version = reader.version(config)
    if version is None:
        return IgnitionReading(None, (), tuple(reader.problems))
    attempted = tuple(reader.files(config, version))
    files = tuple(f for f in attempted if f.entry not in reader.failed)
    return IgnitionReading(version, files, tuple(reader.problems), attempted)


def read_machineconfig(obj: Mapping[str, Any]) -> IgnitionReading:
    """Read ``spec.config`` of a MachineConfig; one without a config writes no files."""
    spec = obj.get("spec")
    if spec is None:
        return IgnitionReading(None)
    if not isinstance(spec, Mapping):
        problem = IgnitionProblem(("spec",), ProblemKind.STRUCTURE, "spec must be a mapping")
        return IgnitionReading(None, (), (problem,))
    config = spec.get("config")
    if config is None:
        return IgnitionReading(None)
    return read_ignition(config, base=("spec", "config"))


class _Reader:
    """Collects problems while walking one config."""

    def __init__(self, base: ConfigPath) -> None:
        self.base = base
        self.problems: list[IgnitionProblem] = []
        self.failed: set[ConfigPath] = set()
        "Entries (full paths) with an error."

    def add(
        self, path: ConfigPath, kind: ProblemKind, message: str, level: Level = Level.ERROR
    ) -> None:
        self.problems.append(IgnitionProblem(self.base + path, kind, message, level))

    def version(self, config: Any) -> IgnitionVersion | None:
        if not isinstance(config, Mapping):
            self.add((), ProblemKind.STRUCTURE, "the Ignition config must be a mapping")
            return None
        ignition = config.get("ignition")
        if not isinstance(ignition, Mapping) or "version" not in ignition:
            self.add(
                ("ignition",),
                ProblemKind.VERSION,
                f"ignition.version is required (one of {supported_versions()})",
            )
            return None
        raw = ignition["version"]
        try:
            return IgnitionVersion(str(raw))
        except ValueError:
            self.add(
                ("ignition", "version"),
                ProblemKind.VERSION,
                f"Ignition version {raw!r} is not supported by the MachineConfig operator "
                f"(supported: {supported_versions()})",
            )
            return None

    def files(self, config: Mapping[str, Any], version: IgnitionVersion) -> Iterator[IgnitionFile]:
        storage = config.get("storage")
        if storage is None:
            return
        if not isinstance(storage, Mapping):
            self.add(("storage",), ProblemKind.STRUCTURE, "storage must be a mapping")
            return
        entries = storage.get("files")
        if entries is None:
            return
        if not isinstance(entries, list):
            self.add(("storage", "files"), ProblemKind.STRUCTURE, "storage.files must be a list")
            return
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            where: ConfigPath = ("storage", "files", index)
            read = self.file(entry, where, version)
            if read is None:
                continue
            if read.path in seen:
                self.add(
                    (*where, "path"),
                    ProblemKind.DUPLICATE,
                    f"{read.path} is already written by storage.files[{seen[read.path]}]; "
                    "every file must have a unique path",
                )
                continue
            seen[read.path] = index
            yield read

    def file(self, entry: Any, where: ConfigPath, version: IgnitionVersion) -> IgnitionFile | None:
        if not isinstance(entry, Mapping):
            self.add(where, ProblemKind.STRUCTURE, "a storage.files entry must be a mapping")
            return None
        before = len(self.problems)
        self.unknown_keys(entry, where, version)
        self.filesystem(entry, where, version)
        path = self.path(entry, where)
        mode = self.mode(entry, where, version)
        overwrite = self.overwrite(entry, where, version)
        contents, has_source = self.contents(entry, where, version)
        self.append(entry, where, version, overwrite)
        if version.major == 3 and overwrite and not has_source:
            self.add(
                (*where, "overwrite"),
                ProblemKind.STRUCTURE,
                "overwrite: true needs contents.source (Ignition 3 will not replace a file "
                "with nothing)",
            )
        if any(p.level is Level.ERROR for p in self.problems[before:]):
            self.failed.add(self.base + where)
        if path is None:
            return None
        return IgnitionFile(path, mode, contents, overwrite, self.base + where)

    def unknown_keys(self, entry: Mapping[str, Any], where: ConfigPath, v: IgnitionVersion) -> None:
        known = (_FILE_KEYS_2 if v.major == 2 else _FILE_KEYS_3) | _OWNER_KEYS
        for key in entry:
            if key not in known and not (key == "filesystem" and v.major == 3):
                self.add(
                    (*where, str(key)),
                    ProblemKind.UNKNOWN_FIELD,
                    f"Ignition {v} has no file field {key!r}; it is ignored",
                    Level.WARNING,
                )
        for owner in _OWNER_KEYS:
            value = entry.get(owner)
            if value is None:
                continue
            if not isinstance(value, Mapping) or not set(value) <= {"id", "name"}:
                self.add(
                    (*where, owner),
                    ProblemKind.STRUCTURE,
                    f"{owner} must be a mapping with 'id' (integer) and/or 'name' (string)",
                )
            elif "id" in value and not _is_int(value["id"]):
                self.add(
                    (*where, owner, "id"), ProblemKind.STRUCTURE, f"{owner}.id must be an integer"
                )

    def filesystem(self, entry: Mapping[str, Any], where: ConfigPath, v: IgnitionVersion) -> None:
        if v.major == 3:
            if "filesystem" in entry:
                self.add(
                    (*where, "filesystem"),
                    ProblemKind.VERSION,
                    f"Ignition {v} has no 'filesystem' field (2.x had it): files are written by "
                    "absolute path; remove it, or declare version 2.2.0",
                )
            return
        if "filesystem" not in entry:
            self.add(
                where,
                ProblemKind.VERSION,
                f"Ignition {v} needs 'filesystem: root' on every file",
            )
        elif entry["filesystem"] != "root":
            self.add(
                (*where, "filesystem"),
                ProblemKind.STRUCTURE,
                f"filesystem {entry['filesystem']!r} is not supported: the MachineConfig "
                "operator writes files on 'root' only",
            )

    def path(self, entry: Mapping[str, Any], where: ConfigPath) -> str | None:
        raw = entry.get("path")
        if raw is None:
            self.add(where, ProblemKind.STRUCTURE, "a file needs a path")
            return None
        if not isinstance(raw, str):
            self.add((*where, "path"), ProblemKind.STRUCTURE, "path must be a string")
            return None
        problem = path_problem(raw)
        if problem:
            self.add((*where, "path"), ProblemKind.PATH, problem)
            return None
        return raw

    def mode(self, entry: Mapping[str, Any], where: ConfigPath, v: IgnitionVersion) -> int:
        raw = entry.get("mode")
        if raw is None:
            return DEFAULT_FILE_MODE
        if not _is_int(raw):
            self.add(
                (*where, "mode"),
                ProblemKind.MODE,
                f"mode must be an integer (0644 is written 420 in JSON), not {raw!r}",
            )
            return DEFAULT_FILE_MODE
        if not 0 <= raw <= MAX_MODE:
            self.add(
                (*where, "mode"),
                ProblemKind.MODE,
                f"mode {raw} is out of range: it must be between 0 and {MAX_MODE} (0o7777)",
            )
        elif raw & SPECIAL_BITS and v.at_least < (3, 4):
            self.add(
                (*where, "mode"),
                ProblemKind.MODE,
                f"mode {raw} (0o{raw:o}) sets setuid/setgid/sticky bits, which Ignition "
                f"{v} does not support (3.4.0 does)",
                Level.WARNING,
            )
        return int(raw)

    def overwrite(self, entry: Mapping[str, Any], where: ConfigPath, v: IgnitionVersion) -> bool:
        raw = entry.get("overwrite")
        if raw is None:
            return v.major == 2
        if not isinstance(raw, bool):
            self.add(
                (*where, "overwrite"), ProblemKind.STRUCTURE, "overwrite must be true or false"
            )
            return v.major == 2
        return raw

    def append(
        self, entry: Mapping[str, Any], where: ConfigPath, v: IgnitionVersion, overwrite: bool
    ) -> None:
        raw = entry.get("append")
        if raw is None or raw is False or raw == []:
            return
        if v.major == 2 and not isinstance(raw, bool):
            self.add(
                (*where, "append"), ProblemKind.STRUCTURE, "append must be true or false in 2.x"
            )
            return
        if v.major == 3 and not isinstance(raw, list):
            self.add((*where, "append"), ProblemKind.STRUCTURE, "append must be a list in 3.x")
            return
        self.add(
            (*where, "append"),
            ProblemKind.UNSUPPORTED,
            "the MachineConfig operator does not support append; write the whole file with "
            "contents.source",
        )

    def contents(
        self, entry: Mapping[str, Any], where: ConfigPath, v: IgnitionVersion
    ) -> tuple[bytes | None, bool]:
        raw = entry.get("contents")
        at = (*where, "contents")
        if raw is None:
            return None, False
        if not isinstance(raw, Mapping):
            self.add(at, ProblemKind.STRUCTURE, "contents must be a mapping")
            return None, False
        known = _CONTENTS_KEYS_2 if v.at_least < (3, 1) else _CONTENTS_KEYS_31
        for key in raw:
            if key not in known:
                self.add(
                    (*at, str(key)),
                    ProblemKind.UNKNOWN_FIELD,
                    f"Ignition {v} has no contents field {key!r}; it is ignored",
                    Level.WARNING,
                )
        source = raw.get("source")
        if source is None:
            return None, False
        if not isinstance(source, str):
            self.add((*at, "source"), ProblemKind.STRUCTURE, "contents.source must be a string")
            return None, True
        if not is_data_url(source):
            scheme = source.partition(":")[0] if ":" in source else ""
            what = f"the {scheme!r} scheme" if scheme else "a URL without a scheme"
            self.add(
                (*at, "source"),
                ProblemKind.SOURCE,
                f"{what} cannot be used here: the MachineConfig daemon fetches nothing, so file "
                "contents must be a data: URL",
            )
            return None, True
        try:
            encoded = parse_data_url(source).data
        except DataUrlError as error:
            self.add((*at, "source"), ProblemKind.SOURCE, f"bad data: URL: {error}")
            return None, True
        data = self.decompress(raw.get("compression"), encoded, at)
        if data is not None:
            self.verify(raw.get("verification"), data, at, v)
        return data, True

    def decompress(self, compression: Any, data: bytes, at: ConfigPath) -> bytes | None:
        if compression in (None, ""):
            return data
        if compression != "gzip":
            self.add(
                (*at, "compression"),
                ProblemKind.SOURCE,
                f"compression {compression!r} is not supported (only gzip, or none)",
            )
            return None
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            self.add((*at, "source"), ProblemKind.SOURCE, f"contents are not valid gzip: {error}")
            return None

    def verify(self, verification: Any, data: bytes, at: ConfigPath, v: IgnitionVersion) -> None:
        if verification is None:
            return
        if not isinstance(verification, Mapping):
            self.add((*at, "verification"), ProblemKind.STRUCTURE, "verification must be a mapping")
            return
        digest = verification.get("hash")
        if digest is None:
            return
        where = (*at, "verification", "hash")
        allowed = ("sha512",) if v.at_least < (3, 1) else ("sha512", "sha256")
        kind, dash, expected = str(digest).partition("-")
        if not dash or kind not in allowed:
            self.add(
                where,
                ProblemKind.VERIFICATION,
                f"hash must be written <type>-<hex> with type {' or '.join(allowed)} in "
                f"Ignition {v}",
            )
            return
        actual = hashlib.new(kind, data).hexdigest()
        if actual != expected.lower():
            self.add(
                where,
                ProblemKind.VERIFICATION,
                f"the {kind} of the decoded contents is {actual[:16]}..., not "
                f"{expected[:16]}...; the operator would refuse the file",
            )


def path_problem(path: str) -> str:
    """Why ``path`` cannot name a file on a node (``""`` when it can).

    Besides being absolute, the path must be clean: no empty, ``.`` or ``..`` components, no
    trailing slash. A ``..`` could climb out of the directory a writer treats as the root.
    """
    if not path.startswith("/"):
        return f"path {path!r} must be absolute"
    if "\x00" in path:
        return "path contains a NUL character"
    if path == "/" or path.endswith("/"):
        return f"path {path!r} names a directory, not a file"
    components = path[1:].split("/")
    if any(part in ("", ".", "..") for part in components):
        return f"path {path!r} must be clean (no '//', '.' or '..' components)"
    return ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
