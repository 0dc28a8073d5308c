"""``lab up``, ``lab status`` and ``lab down``: starting, inspecting and removing a lab.

The daemon (:mod:`sctpctl.lab.daemon`) does the work; these functions start it detached, wait for
it, talk to its API and clean up after it, including after it was killed:

- ``up`` is idempotent: a running lab is left alone (and reported); a lab whose daemon died is
  started again, and the new daemon reconciles the kernel with the state folder;
- ``down`` stops the daemon (SIGTERM, which removes what it made), then removes whatever a dead
  daemon left: recorded processes (by PID and start time), the lab's namespaces (and with them
  every interface, route and nftables table), and the state folder unless it is kept.
"""

from __future__ import annotations

import json
import shutil
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Any

from sctpctl.host.process import (
    ProcessRecord,
    alive,
    sctpctl_command,
    spawn_detached,
    terminate,
)
from sctpctl.lab import network
from sctpctl.lab.daemon import (
    LabConfig,
    daemon_path,
    log_path,
    process_book,
    read_config,
    write_config,
)
from sctpctl.lab.state import LabState


class LabError(Exception):
    """The lab could not be started or reached; the message says why."""


@dataclass(frozen=True)
class NodeSummary:
    name: str
    roles: str
    status: str
    address: str


@dataclass(frozen=True)
class LabStatus:
    running: bool
    state_dir: str
    kubeconfig: str | None
    url: str | None
    pid: int | None
    config: LabConfig | None
    nodes: tuple[NodeSummary, ...] = ()
    started: bool = False
    "True when this call started the daemon (``up``)."

    def to_json(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "stateDir": self.state_dir,
            "kubeconfig": self.kubeconfig,
            "server": self.url,
            "pid": self.pid,
            "labId": self.config.lab_id if self.config else None,
            "nodes": [
                {"name": n.name, "roles": n.roles, "status": n.status, "internalIP": n.address}
                for n in self.nodes
            ],
        }


def _daemon(state: LabState) -> tuple[ProcessRecord, dict[str, Any]] | None:
    try:
        data = json.loads(daemon_path(state).read_text())
        record = ProcessRecord.from_json(data)
    except (FileNotFoundError, ValueError):
        return None
    return (record, data) if alive(record) else None


def _get(state: LabState, url: str, path: str, timeout: float = 5.0) -> Any:
    context = ssl.create_default_context(cafile=str(state.ca_certificate))
    request = urllib.request.Request(
        url + path, headers={"Authorization": f"Bearer {state.token()}"}
    )
    with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
        return json.loads(response.read())


def _nodes(state: LabState, url: str) -> tuple[NodeSummary, ...]:
    found = []
    for node in _get(state, url, "/api/v1/nodes").get("items", []):
        meta, status = node["metadata"], node.get("status") or {}
        ready = None
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Ready":
                ready = condition.get("status")
        words = ["Ready" if ready == "True" else "NotReady"]
        if (node.get("spec") or {}).get("unschedulable"):
            words.append("SchedulingDisabled")
        roles = sorted(
            k.split("/", 1)[1]
            for k in meta.get("labels") or {}
            if k.startswith("node-role.kubernetes.io/")
        )
        address = next(
            (a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"),
            "",
        )
        found.append(NodeSummary(meta["name"], ",".join(roles), ",".join(words), address))
    return tuple(found)


def status(state: LabState) -> LabStatus:
    config = read_config(state)
    running = _daemon(state)
    kubeconfig = str(state.kubeconfig) if state.kubeconfig.exists() else None
    if running is None:
        return LabStatus(False, str(state.root), kubeconfig, None, None, config)
    record, data = running
    url = str(data.get("url"))
    try:
        nodes = _nodes(state, url)
    except (OSError, urllib.error.URLError, ValueError):
        nodes = ()
    return LabStatus(True, str(state.root), kubeconfig, url, record.pid, config, nodes)


def up(
    state: LabState,
    *,
    masters: int,
    workers: int,
    reboot_seconds: float | None = None,
    restart_backoff: float | None = None,
    port: int | None = None,
    timeout: float = 120.0,
) -> LabStatus:
    network.check_host()
    current = status(state)
    config = current.config
    if current.running and config is not None:
        if (config.masters, config.workers) != (masters, workers):
            raise LabError(
                f"the lab at {state.root} runs with {config.masters} master(s) and "
                f"{config.workers} worker(s); take it down first (sctpctl lab down) to change that"
            )
        return current
    if config is None or (config.masters, config.workers) != (masters, workers):
        if config is not None:
            # A different topology on a dead lab: start from nothing.
            _cleanup(state, config)
        config = LabConfig.new(masters=masters, workers=workers)
    if reboot_seconds is not None:
        config = replace(config, reboot_seconds=reboot_seconds)
    if restart_backoff is not None:
        config = replace(config, backoff_seconds=restart_backoff)
    if port is not None:
        config = replace(config, port=port)
    config.plan()  # refuse a bad topology before anything starts
    state.ensure()
    write_config(state, config)
    daemon_path(state).unlink(missing_ok=True)
    argv = sctpctl_command("lab", "daemon", "--state", str(state.root))
    record = spawn_detached(argv, log_path=log_path(state))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = _daemon(state)
        if running is not None and running[1].get("ready"):
            found = status(state)
            return replace(found, started=True)
        if not alive(record):
            raise LabError(f"the lab daemon exited while starting:\n{_log_tail(state)}")
        time.sleep(0.1)
    terminate(record)
    raise LabError(f"the lab did not become ready within {timeout:.0f} s:\n{_log_tail(state)}")


def _log_tail(state: LabState, lines: int = 20) -> str:
    try:
        text = log_path(state).read_text(errors="replace")
    except FileNotFoundError:
        return "(no daemon log)"
    return "\n".join(text.splitlines()[-lines:])


def _cleanup(state: LabState, config: LabConfig | None) -> tuple[int, list[str]]:
    ended = process_book(state).end_all()
    removed = network.teardown(config.plan()) if config is not None else []
    return ended, removed


@dataclass(frozen=True)
class DownReport:
    stopped_daemon: bool
    ended_processes: int
    removed_namespaces: tuple[str, ...]
    removed_state: bool


def down(state: LabState, *, keep_state: bool = False, timeout: float = 60.0) -> DownReport:
    network.check_host()
    config = read_config(state)
    running = _daemon(state)
    if running is not None:
        terminate(running[0], grace=timeout)
    ended, removed = _cleanup(state, config)
    daemon_path(state).unlink(missing_ok=True)
    removed_state = False
    if not keep_state and config is not None and state.root.exists():
        shutil.rmtree(state.root)
        removed_state = True
    return DownReport(running is not None, ended, tuple(removed), removed_state)
