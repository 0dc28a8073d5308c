"""A node's files: the root filesystem folder it boots from, and its kubelet's pod folders.

Layout under ``<state>/nodes/<node>/``::

    rootfs/etc/modprobe.d/sctp-blacklist.conf   "blacklist sctp" at first boot, as on RHCOS
    rootfs/etc/modules-load.d/
    rootfs/etc/machine-config-daemon/orig/      originals of files a MachineConfig replaced
    rootfs/lib/modules/                         present, as on any node, but holds no kernel
    rootfs/sys/module/sctp/initstate            "live" only while the node has SCTP
    pods/<uid>/<container>/<restart>.log        container logs (CRI format)
    pods/<uid>/volumes/<name>/                  emptyDir volumes
    stack.sock, stack.log                       the host stack service's control socket and log,
                                                while the node has SCTP (:mod:`nodesctp`)

A MachineConfig's files are written here by the node's machine-config daemon; when a later
config no longer has a file, the original is put back (or the file removed if there was none),
which is how deleting a MachineConfig rolls its files back, as the real daemon does with its
``/etc/machine-config-daemon/orig`` copies.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RHCOS_FILES: Mapping[str, bytes] = {"/etc/modprobe.d/sctp-blacklist.conf": b"blacklist sctp\n"}
"What a node's root filesystem holds about sctp when it is installed."
MODPROBE_D = "/etc/modprobe.d"
MODULES_LOAD_D = "/etc/modules-load.d"
ORIGINALS = "/etc/machine-config-daemon/orig"
INITSTATE = "/sys/module/sctp/initstate"


class RootfsError(ValueError):
    """A path that does not stay inside the node's root filesystem."""


@dataclass(frozen=True)
class NodeFiles:
    root: Path
    "``<state>/nodes/<node>``."

    @property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    @property
    def pods(self) -> Path:
        return self.root / "pods"

    @property
    def stack_socket(self) -> Path:
        return self.root / "stack.sock"

    def pod_dir(self, uid: str) -> Path:
        return self.pods / uid

    def host_path(self, path: str) -> Path:
        """Where an absolute node path (``/etc/modprobe.d``) lives in the rootfs folder."""
        if not path.startswith("/"):
            raise RootfsError(f"{path!r} is not an absolute path")
        clean = posixpath.normpath(path)
        if clean.startswith("//"):
            clean = clean[1:]
        if ".." in clean.split("/"):
            raise RootfsError(f"{path!r} leaves the node's root filesystem")
        return self.rootfs / clean.lstrip("/")

    def install(self) -> None:
        """Create the root filesystem of a freshly installed node (once; kept across boots)."""
        marker = self.rootfs / ".installed"
        if marker.exists():
            return
        for directory in (MODPROBE_D, MODULES_LOAD_D, "/lib/modules", "/sys/module", ORIGINALS):
            self.host_path(directory).mkdir(parents=True, exist_ok=True)
        for path, contents in RHCOS_FILES.items():
            self.host_path(path).write_bytes(contents)
        marker.touch()

    def read_dir(self, directory: str) -> dict[str, str]:
        """Every regular file of a node directory: ``{"/etc/modprobe.d/x.conf": text}``."""
        folder = self.host_path(directory)
        found: dict[str, str] = {}
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.is_file():
                    found[f"{directory}/{entry.name}"] = entry.read_text(errors="replace")
        return found

    def write_file(self, path: str, contents: bytes, mode: int) -> None:
        """Write a file as the machine-config daemon does, keeping the original once."""
        target = self.host_path(path)
        backup = self.host_path(ORIGINALS + path + ".mcdorig")
        absent = self.host_path(ORIGINALS + path + ".mcdnone")
        if not backup.exists() and not absent.exists():
            backup.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.copy2(target, backup)
            else:
                absent.touch()
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(contents)
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, target)

    def restore_file(self, path: str) -> None:
        """Undo :meth:`write_file`: the original back, or no file if there was none."""
        target = self.host_path(path)
        backup = self.host_path(ORIGINALS + path + ".mcdorig")
        absent = self.host_path(ORIGINALS + path + ".mcdnone")
        if backup.exists():
            os.replace(backup, target)
        elif absent.exists():
            target.unlink(missing_ok=True)
            absent.unlink()

    def set_sctp_live(self, live: bool) -> None:
        """``/sys/module/sctp/initstate``: ``live`` while the module is loaded, absent otherwise."""
        state = self.host_path(INITSTATE)
        if live:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text("live\n")
        else:
            state.unlink(missing_ok=True)
            if state.parent.is_dir() and not any(state.parent.iterdir()):
                state.parent.rmdir()

    @property
    def sctp_live(self) -> bool:
        return self.host_path(INITSTATE).exists()
