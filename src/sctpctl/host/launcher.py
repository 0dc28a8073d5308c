"""Start one container process: network namespace, private mounts, identity, then ``execve``.

This file runs as its own small program (``python -I -S launcher.py SPEC_JSON``), started by
:mod:`sctpctl.host.process` with a new session, so it imports only the standard library and
nothing of sctpctl: it costs one interpreter start, and it never runs inside the daemon's
multi-threaded process where ``fork`` plus ``setns`` would be unsafe. In order it:

1. enters the pod's (or node's) network namespace (``setns(2)``);
2. unshares a private mount namespace, a UTS namespace (the pod's hostname) and a PID namespace,
   and makes every mount private, so nothing below is ever seen by the host;
3. mounts a fresh sysfs for that network namespace and shows the node's ``sys/module`` at
   ``/sys/module`` (a container sees its node's kernel modules, not the host's);
4. makes each volume's ``mountPath`` exist without touching the host's files: a missing
   directory is created in a writable overlay (upper layer on a tmpfs) of its nearest existing
   ancestor, or, for a new top-level directory, in a new root (a tmpfs holding binds of the old
   root's entries) that the process then moves into;
5. bind-mounts each volume (read-only when asked);
6. makes the interpreter's directories traversable for an unprivileged user (an overlay of the
   directory that hides them, with its mode relaxed; ``/root`` is usually 0700);
7. forks the container's first process (PID 1 of the new PID namespace, with its own
   ``/proc``), which drops to the container's uid/gid, changes to its working directory and
   ``execve`` s the command with exactly the container's environment; the launcher waits and
   exits as it did (128+N for a signal), ignoring SIGTERM and friends meant for the container.

``kubectl exec`` runs through the same program with ``join``: it enters the network, UTS, PID
and mount namespaces of the container's first process and forks the command there.

Failures before ``execve`` print one line to stderr and exit 128 (127 when the command is not
found, 126 when it cannot be executed), as container runtimes do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import stat
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MNT_DETACH = 2


def _load_libc() -> ctypes.CDLL:
    # find_library would run ldconfig as a child process: slow, and a child that a container's
    # first process could be mistaken for. The glibc soname is stable.
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


_libc = _load_libc()


class SetupError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or ''} on {target}",
    )


def _enter_netns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"entering network namespace {path}")
    finally:
        os.close(fd)


def _writable_view(directory: str) -> None:
    """Make ``directory`` writable here only: an overlay whose upper layer is a private tmpfs.

    The lower layer is reached through an ``O_PATH`` descriptor opened before the tmpfs covers
    the directory, so the overlay shows the original contents and keeps every change in memory.
    """
    lower = os.open(directory, os.O_PATH | os.O_DIRECTORY)
    _mount("tmpfs", directory, "tmpfs", 0, "mode=0755")
    for name in (".upper", ".work"):
        os.mkdir(os.path.join(directory, name), 0o755)
    upper = os.open(os.path.join(directory, ".upper"), os.O_PATH | os.O_DIRECTORY)
    work = os.open(os.path.join(directory, ".work"), os.O_PATH | os.O_DIRECTORY)
    _mount(
        "overlay",
        directory,
        "overlay",
        0,
        f"lowerdir=/proc/self/fd/{lower},upperdir=/proc/self/fd/{upper},workdir=/proc/self/fd/{work}",
    )
    for fd in (lower, upper, work):
        os.close(fd)


def _new_root(extra_dirs: list[str]) -> None:
    """Move into a new root that also has the top-level directories ``extra_dirs``: a tmpfs with
    a bind of every entry of the old root.

    The tmpfs is built over ``/sys``, the one directory whose contents are replaced anyway (by a
    sysfs of the container's network namespace), so no host directory has to be borrowed.
    """
    root = "/sys"
    entries = sorted(os.listdir("/"))
    _mount("tmpfs", root, "tmpfs", 0, "mode=0755")
    for name in entries:
        target = os.path.join(root, name)
        info = os.lstat("/" + name)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink("/" + name), target)
        elif stat.S_ISDIR(info.st_mode):
            os.mkdir(target, stat.S_IMODE(info.st_mode))
            if name != "sys":
                _mount("/" + name, target, None, MS_BIND | MS_REC)
        else:
            with open(target, "w"):
                pass
            _mount("/" + name, target, None, MS_BIND)
    for name in extra_dirs:
        os.makedirs(os.path.join(root, name.lstrip("/")), 0o755, exist_ok=True)
    os.chdir(root)
    _mount(root, "/", None, MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def _nearest_directory(path: str) -> str:
    ancestor = os.path.dirname(path)
    while not os.path.isdir(ancestor):
        ancestor = os.path.dirname(ancestor)
    return ancestor


def _ensure_directories(targets: list[str]) -> None:
    """Create missing mount points in views private to this process."""
    missing = [t for t in targets if not os.path.exists(t)]
    top_level = [t for t in missing if _nearest_directory(t) == "/"]
    if top_level:
        _new_root(top_level)
    for target in missing:
        if not os.path.exists(target):
            _writable_view(_nearest_directory(target))
            os.makedirs(target, 0o755, exist_ok=True)


def _reveal(paths: list[str]) -> None:
    """Let an unprivileged user traverse to ``paths``: relax the mode of each closed ancestor in
    an overlay of it (the host keeps its modes)."""
    for path in paths:
        parts = path.strip("/").split("/")
        current = ""
        for part in parts[:-1]:
            current += "/" + part
            mode = os.stat(current).st_mode
            if not mode & stat.S_IXOTH:
                _writable_view(current)
                os.chmod(current, stat.S_IMODE(mode) | 0o011)


def build_namespaces(spec: dict[str, Any]) -> None:
    """A container's own namespaces: its pod's network, and new mount, UTS and PID namespaces
    with the container's view of the files."""
    if spec.get("netns"):
        _enter_netns(spec["netns"])
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID), "unsharing the namespaces")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    hostname = spec.get("hostname")
    if hostname:
        raw = hostname.encode()[:64]
        _check(_libc.sethostname(raw, len(raw)), "setting the hostname")
    mounts: list[dict[str, Any]] = spec.get("mounts") or []
    _ensure_directories([m["target"] for m in mounts])
    # A sysfs of this network namespace (as ip netns exec does), then the node's modules.
    if os.path.ismount("/sys"):
        _check(_libc.umount2(b"/sys", MNT_DETACH), "unmounting /sys")
    _mount("sysfs", "/sys", "sysfs", 0)
    if spec.get("sys_module"):
        _mount(spec["sys_module"], "/sys/module", None, MS_BIND | MS_REC)
    for volume in mounts:
        _mount(volume["source"], volume["target"], None, MS_BIND | MS_REC)
        if volume.get("readonly"):
            _mount(None, volume["target"], None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def join_namespaces(pid: int) -> None:
    """Enter the namespaces of a running container (its first process ``pid``), for exec."""
    descriptors = []
    try:
        for kind, flag in (("net", CLONE_NEWNET), ("uts", CLONE_NEWUTS), ("pid", CLONE_NEWPID)):
            descriptors.append((os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY), flag, kind))
        # The mount namespace last: entering it moves this process's root and cwd there.
        descriptors.append((os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY), CLONE_NEWNS, "mnt"))
        for fd, flag, kind in descriptors:
            _check(_libc.setns(fd, flag), f"entering the {kind} namespace of process {pid}")
    finally:
        for fd, _flag, _kind in descriptors:
            os.close(fd)


def become(spec: dict[str, Any], *, first: bool) -> None:
    """In the process that runs the command: ``/proc`` of the new PID namespace (for the
    container's first process), then the container's identity and working directory."""
    if first:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    uid, gid = int(spec.get("uid", 0)), int(spec.get("gid", 0))
    if uid != 0 and first:
        _reveal(spec.get("reveal") or [])
    os.setgroups([int(g) for g in spec.get("groups") or []])
    os.setgid(gid)
    os.setuid(uid)
    os.chdir(spec.get("cwd") or "/")


def _fail(message: str, code: int) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(code)


def run(spec: dict[str, Any]) -> None:
    """In the forked child: become the container's process and execute the command."""
    argv: list[str] = spec["argv"]
    for signum in RELAYED_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    try:
        become(spec, first=not spec.get("join"))
    except (SetupError, OSError) as error:
        _fail(f"container setup failed: {error}", 128)
    try:
        os.execvpe(argv[0], argv, spec.get("env") or {})
    except FileNotFoundError:
        _fail(f'exec: "{argv[0]}": executable file not found in $PATH', 127)
    except PermissionError:
        _fail(f'exec: "{argv[0]}": permission denied', 126)
    except OSError as error:
        _fail(f'exec: "{argv[0]}": {error.strerror}', 126)


RELAYED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
"""Signals the launcher ignores while it waits: they are meant for the container, whose first
process decides (a PID 1 without a handler ignores them, as in any container)."""


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        if spec.get("join"):
            join_namespaces(int(spec["join"]))
        else:
            build_namespaces(spec)
    except (SetupError, OSError) as error:
        _fail(f"container setup failed: {error}", 128)
    # A new PID namespace starts with the next child, so the command runs in a forked process
    # (the container's PID 1, or a member of its namespace for exec) and the launcher stays
    # only to report how it ended, as a runtime's shim does.
    for signum in RELAYED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        run(spec)
    _pid, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
