"""Container processes: namespace, identity, private mounts, and nothing changed on the host."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from sctpctl.host.process import (
    Launch,
    Mount,
    alive,
    container_process,
    launch,
    record_of,
    signal_group,
)

pytestmark = [pytest.mark.netns, pytest.mark.root]

SHOW = (
    "import os, socket\n"
    "print(os.getuid(), os.getgid(), socket.gethostname())\n"
    "print(sorted(os.listdir('/sys/class/net')))\n"
    "print(open('/sys/module/sctp/initstate').read().strip())\n"
    "print(open('/host/etc/modprobe.d/blacklist.conf').read().strip())\n"
    "try:\n"
    "    open('/host/etc/modprobe.d/new', 'w')\n"
    "except OSError as error:\n"
    "    print('write:', error.strerror)\n"
    "print(os.getcwd(), os.environ['ONLY'], sorted(set(os.environ) - {'LC_CTYPE'}))\n"
    "print(os.getpid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
)


async def _run(spec: Launch) -> tuple[int, str, str]:
    process = await launch(spec)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_container_sees_its_namespace_and_node_as_nobody(
    netns_factory: Any, tmp_path: Path
) -> None:
    name = netns_factory("launch")
    modprobe = tmp_path / "rootfs/etc/modprobe.d"
    modprobe.mkdir(parents=True)
    (modprobe / "blacklist.conf").write_text("blacklist sctp\n")
    modules = tmp_path / "rootfs/sys/module/sctp"
    modules.mkdir(parents=True)
    (modules / "initstate").write_text("live\n")
    host_entry = f"/sctpctl-test-{os.getpid()}"
    spec = Launch(
        argv=(sys.executable, "-c", SHOW.replace("/host", host_entry)),
        env={"PATH": os.environ["PATH"], "ONLY": "this"},
        netns=name,
        cwd="/tmp",
        uid=65534,
        gid=65534,
        hostname="pod-a",
        mounts=(Mount(str(modprobe), f"{host_entry}/etc/modprobe.d", readonly=True),),
        sys_module=str(tmp_path / "rootfs/sys/module"),
    )
    code, out, err = await _run(spec)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "65534 65534 pod-a"
    assert lines[1] == "['lo']"  # the pod's own network namespace (a sysfs of its own)
    assert lines[2] == "live"  # the node's modules, not the host's
    assert lines[3] == "blacklist sctp"
    assert lines[4] == "write: Read-only file system"
    # Exactly the container's environment (Python itself may add LC_CTYPE under the C locale).
    assert lines[5] == "/tmp this ['ONLY', 'PATH']"
    # The first process of its own PID namespace, seeing no process of the host.
    assert lines[6] == "1 [1]"
    # The mount point was made in a private view: the host has no such directory.
    assert not os.path.exists(host_entry)  # noqa: ASYNC240 (one stat, no I/O wait)


async def test_launch_failures_have_runtime_exit_codes(netns_factory: Any) -> None:
    name = netns_factory("fail")
    missing = Launch(argv=("no-such-program",), env={"PATH": "/usr/bin"}, netns=name)
    code, _out, err = await _run(missing)
    assert code == 127
    assert 'exec: "no-such-program": executable file not found in $PATH' in err
    bad_dir = Launch(argv=("true",), env={"PATH": "/usr/bin:/bin"}, netns=name, cwd="/nonexistent")
    code, _out, err = await _run(bad_dir)
    assert code == 128 and "container setup failed" in err


async def test_a_container_is_a_process_group_ended_by_its_record(netns_factory: Any) -> None:
    name = netns_factory("group")
    spec = Launch(
        argv=("sh", "-c", "sleep 60 & sleep 60"), env={"PATH": "/usr/bin:/bin"}, netns=name
    )
    process = await launch(spec)
    record = record_of(process.pid)
    assert alive(record)
    assert os.getpgid(process.pid) == process.pid
    assert signal_group(record, signal.SIGKILL)
    await process.wait()
    assert not alive(record)
    assert not signal_group(record, signal.SIGKILL)  # a dead record is never signalled again


async def test_pid_1_ignores_sigterm_without_a_handler_and_exec_joins_it(
    netns_factory: Any,
) -> None:
    name = netns_factory("pid")
    spec = Launch(argv=("sleep", "60"), env={"PATH": "/usr/bin:/bin"}, netns=name, hostname="c")
    process = await launch(spec)
    record = record_of(process.pid)
    first = None
    for _ in range(100):
        first = container_process(record)
        if first is not None:
            break
        await asyncio.sleep(0.02)
    assert first is not None and first != process.pid
    # kubectl exec: the command runs beside PID 1, in the container's namespaces.
    inside = Launch(
        argv=("sh", "-c", "hostname; cat /proc/1/comm; echo $$"),
        env={"PATH": "/usr/bin:/bin"}, netns=None, join=first,
    )  # fmt: skip
    joined = await launch(inside)
    out, err = await joined.communicate()
    assert joined.returncode == 0, err.decode()
    hostname, comm, pid = out.decode().split()
    assert (hostname, comm) == ("c", "sleep") and int(pid) > 1
    # As in any container, PID 1 without a SIGTERM handler does not die of SIGTERM.
    signal_group(record, signal.SIGTERM)
    await asyncio.sleep(0.3)
    assert process.returncode is None and alive(record)
    signal_group(record, signal.SIGKILL)
    assert await process.wait() in (137, -9)
