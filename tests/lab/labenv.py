"""A whole lab for a test module: ``sctpctl lab up`` in a temporary state folder, the real kubectl
against it, helpers to run things in pods and on the external host, and ``lab down`` at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sctpctl.host import netns
from tests.lab.harness import KUBECTL

TCP_ECHO = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('', int(sys.argv[1]))); s.listen(16); print('listening', flush=True)\n"
    "while True:\n"
    "    c, peer = s.accept(); data = c.recv(1024)\n"
    "    print('from', peer[0], data.decode(), flush=True); c.sendall(b'echo:' + data); c.close()\n"
)
"A TCP server for pods: answers ``echo:<data>`` and logs the peer address."

TCP_CLIENT = (
    "import socket,sys\n"
    "try:\n"
    "    address, timeout = (sys.argv[1], int(sys.argv[2])), float(sys.argv[3])\n"
    "    c = socket.create_connection(address, timeout=timeout)\n"
    "    c.sendall(sys.argv[4].encode()); print(c.recv(1024).decode())\n"
    "except socket.timeout: print('timeout'); sys.exit(11)\n"
    "except ConnectionRefusedError: print('refused'); sys.exit(10)\n"
    "except OSError as e: print('error', e); sys.exit(12)\n"
)
"A TCP client: exit 0 with the answer, 10 refused, 11 timeout (dropped), 12 other errors."


def wait_for(
    what: Callable[[], Any], *, timeout: float = 30, message: str = "", interval: float = 0.2
) -> Any:
    """What ``what()`` returns once it is truthy; an AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = what()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting: {message} (last: {last!r})")


class Lab:
    def __init__(self, root: Path, *, workers: int = 2, masters: int = 1) -> None:
        self.root = root
        self.state = root / "state"
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.masters = masters

    # --- lifecycle ----------------------------------------------------------------------------

    def sctpctl(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "sctpctl", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "SCTPCTL_LAB_STATE": str(self.state), "NO_COLOR": "1"},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sctpctl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.sctpctl(
            "lab", "up", "--workers", str(self.workers), "--masters", str(self.masters),
            "--reboot-seconds", "1", "--restart-backoff", "1", *extra,
        )  # fmt: skip

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.sctpctl("lab", "down", check=False)

    def config(self) -> dict[str, Any]:
        return json.loads((self.state / "lab.json").read_text())

    @property
    def prefix(self) -> str:
        return f"sctplab-{self.config()['lab_id']}"

    def namespaces(self) -> list[str]:
        found = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [line.split()[0] for line in found.splitlines() if line.startswith(self.prefix)]

    # --- kubectl ------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.state / "kubeconfig"),
            "KUBECACHEDIR": str(self.home / "cache"),
        }

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [KUBECTL, *args], input=input, capture_output=True, text=True, env=self.env(),
            timeout=timeout, cwd=self.root,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def jsonpath(self, *args: str, path: str) -> str:
        return self.kubectl(*args, "-o", f"jsonpath={path}").stdout

    def wait_for(self, what: Callable[[], Any], *, timeout: float = 30, message: str = "") -> Any:
        return wait_for(what, timeout=timeout, message=message)

    def wait_for_pool(self, *, with_config: str, present: bool, pool: str = "worker") -> None:
        """Until the pool has rolled out (``Updated``) a configuration with, or without, the
        MachineConfig ``with_config``."""

        def rolled_out() -> bool:
            status = self.json("get", "mcp", pool)["status"]
            conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
            sources = [s["name"] for s in status["configuration"].get("source", [])]
            return (with_config in sources) == present and conditions.get("Updated") == "True"

        self.wait_for(rolled_out, timeout=90, message=f"pool {pool} rolled out")

    def pod_ready(self, name: str, namespace: str = "default") -> None:
        self.kubectl(
            "wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=60s"
        )

    def exec(
        self, pod: str, *command: str, namespace: str = "default", timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return self.kubectl(
            "exec", "-n", namespace, pod, "--", *command, check=False, timeout=timeout
        )

    def tcp(
        self,
        pod: str,
        host: str,
        port: int,
        *,
        namespace: str = "default",
        message: str = "hi",
        timeout: float = 2,
    ) -> tuple[int, str]:
        result = self.exec(
            pod,
            "python",
            "-c",
            TCP_CLIENT,
            host,
            str(port),
            str(timeout),
            message,
            namespace=namespace,
        )
        return result.returncode, result.stdout.strip()

    def node_nft(self, node: str, table: str) -> str:
        """``nft list table ip TABLE`` inside a node's namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", f"{self.prefix}-node-{node}",
             "nft", "list", "table", "ip", table],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    def external(
        self, *argv: str, timeout: float = 30, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a program on the external host (198.18.0.200)."""
        return subprocess.run(
            ["ip", "netns", "exec", f"{self.prefix}-ext", *argv],
            capture_output=True, text=True, timeout=timeout, input=input,
        )  # fmt: skip

    # --- SCTP ---------------------------------------------------------------------------------

    def sctp_connect(
        self,
        pod: str | None,
        target: str,
        *,
        message: str,
        namespace: str = "default",
        timeout: float = 3,
    ) -> tuple[int, str]:
        """``sctpctl connect TARGET --expect-echo`` with ``message`` on stdin, in ``pod`` through
        ``kubectl exec``, or on the external host when ``pod`` is None: (exit code, stdout)."""
        command = (
            "sctpctl", "connect", target, "--expect-echo", "--wait", "0.5",
            "--timeout", str(timeout),
        )  # fmt: skip
        if pod is None:
            result = self.external(*self.tools(command), input=message)
        else:
            result = self.kubectl(
                "exec", "-i", "-n", namespace, pod, "--", *command, input=message, check=False
            )
        return result.returncode, result.stdout

    def sctp_probe(
        self, pod: str | None, hosts: str, port: int, *, userspace: bool = False
    ) -> tuple[int, str]:
        """``sctpctl probe HOSTS -p PORT -o json`` in ``pod`` or on the external host: (exit
        code, the outcome words in order)."""
        command = ("sctpctl", "probe", hosts, "-p", str(port), "--timeout", "1", "-o", "json")
        if userspace:
            command += ("--userspace", "raw")
        if pod is None:
            result = self.external(*self.tools(command))
        else:
            result = self.kubectl("exec", pod, "--", *command, check=False)
        outcomes = json.loads(result.stdout) if result.stdout.strip() else []
        return result.returncode, " ".join(item["outcome"] for item in outcomes)

    @staticmethod
    def tools(command: tuple[str, ...]) -> tuple[str, ...]:
        """``sctpctl ...`` as this interpreter runs it (``ip netns exec`` keeps no venv PATH)."""
        return (sys.executable, "-m", "sctpctl", *command[1:])

    def stack_services(self) -> dict[str, list[int]]:
        """The running ``sctpctl stack serve`` processes of this lab by machine (``external``,
        ``worker-0``, ...): their PIDs, found in /proc by their control socket."""
        found: dict[str, list[int]] = {}
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if "serve" not in argv or "--control" not in argv:
                continue
            control = Path(argv[argv.index("--control") + 1])
            if control.name == "stack.sock" and control.is_relative_to(self.state):
                found.setdefault(control.parent.name, []).append(int(cmdline.parent.name))
        return {machine: sorted(pids) for machine, pids in sorted(found.items())}

    def processes_of_the_lab(self) -> list[int]:
        """Every process whose command line names this lab's state folder."""
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(self.state).encode() in cmdline.read_bytes():
                    found.append(int(cmdline.parent.name))
            except OSError:
                continue
        return found


@contextlib.contextmanager
def running_lab(root: Path, **sizes: int) -> Iterator[Lab]:
    """A lab that is up for the block and down after it, with nothing of it left: no
    namespace, and no process that names its state folder (containers, stack services)."""
    running = Lab(root, **sizes)
    try:
        running.up()
        yield running
    finally:
        prefix = running.prefix if (running.state / "lab.json").exists() else None
        running.down()
        if prefix:
            assert not [n for n in netns.names() if n.startswith(prefix)], "namespaces left behind"
        assert running.processes_of_the_lab() == [], "processes left behind"


def pod_manifest(
    name: str,
    command: list[str],
    *,
    labels: dict[str, str] | None = None,
    node: str | None = None,
    ports: list[dict[str, Any]] | None = None,
    namespace: str = "default",
    extra_spec: dict[str, Any] | None = None,
) -> str:
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 2,
        "containers": [
            {"name": "main", "image": "registry.access.redhat.com/ubi9/ubi", "command": command}
        ],
    }
    if ports:
        spec["containers"][0]["ports"] = ports
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    spec.update(extra_spec or {})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
        "spec": spec,
    }
    return json.dumps(pod)
