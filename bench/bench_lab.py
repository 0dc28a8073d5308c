"""The lab's three timings, each against its floor measured in the same run:

- ``sctpctl lab up`` of 3 nodes until every node is Ready: target under 5 s; peer: creating the
  same namespaces and veths with bare ``ip`` commands (the kernel work alone);
- 100 pods from ``kubectl apply`` to all ``Running``: target under 10 s; peer: 100 namespaces
  plus a ``sleep`` process in each, started directly (no API, scheduler or kubelet);
- a MachineConfig rollout over 3 workers with a 2 s reboot until the pool is ``Updated``: target
  under 20 s; peer: the reboots alone (3 x 2 s, one node at a time).

Medians over ``--runs`` runs for ``lab up``; the pods and the rollout run once per lab.
Usage (as root): python bench/bench_lab.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sctpctl.host import links, netns
from sctpctl.host.process import Launch, launch, record_of, signal_group
from sctpctl.lab.plan import make_plan
from sctpctl.node.machineconfig import render_sctp_machineconfig

KUBECTL = "/usr/bin/kubectl"
MACHINE_CONFIG = render_sctp_machineconfig()


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.env = {
            **os.environ,
            "SCTPCTL_LAB_STATE": str(self.state),
            "KUBECONFIG": str(self.state / "kubeconfig"),
            "KUBECACHEDIR": str(root / "cache"),
            "HOME": str(root),
        }

    def sctpctl(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "sctpctl", *args], env=self.env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [KUBECTL, *args], env=self.env, capture_output=True, text=True, input=input
        )
        if result.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout


def time_up(runs: int) -> list[float]:
    found = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            lab = Lab(Path(folder))
            start = time.perf_counter()
            lab.sctpctl("lab", "up", "--workers", "2", "--masters", "1")
            found.append(time.perf_counter() - start)
            lab.sctpctl("lab", "down")
    return found


def time_bare_network(runs: int) -> list[float]:
    found = []
    for run in range(runs):
        plan = make_plan(f"b{os.getpid() % 10000}{run}", masters=1, workers=2)
        start = time.perf_counter()
        for name in plan.namespaces:
            netns.create(name)
        for node in plan.nodes:
            links.create_veth(links.Veth(plan.fabric_netns, node.fabric_port, node.netns, "eth0"))
        links.create_veth(links.Veth(plan.fabric_netns, "ext", plan.external_netns, "eth0"))
        found.append(time.perf_counter() - start)
        for name in plan.namespaces:
            netns.delete(name)
    return found


def pods_manifest(count: int) -> str:
    items = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"bench-{i}", "labels": {"app": "bench"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": "x", "command": ["sleep", "inf"]}],
            },
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(items)


def time_pods(lab: Lab, count: int) -> float:
    start = time.perf_counter()
    lab.kubectl("apply", "-f", "-", input=pods_manifest(count))
    while True:
        pods = json.loads(lab.kubectl("get", "pods", "-l", "app=bench", "-o", "json"))["items"]
        if sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running") == count:
            return time.perf_counter() - start
        time.sleep(0.1)


async def _bare_pods(count: int) -> float:
    names = [f"sctpctl-bench-{os.getpid()}-{i}" for i in range(count)]
    start = time.perf_counter()
    processes = []
    for name in names:
        await asyncio.to_thread(netns.create, name)
        spec = Launch(
            argv=("sleep", "inf"), env={"PATH": "/usr/bin:/bin"}, netns=name, uid=65534, gid=65534
        )
        processes.append(await launch(spec))
    elapsed = time.perf_counter() - start
    for process in processes:
        signal_group(record_of(process.pid), 9)
        await process.wait()
    for name in names:
        netns.delete(name)
    return elapsed


def time_rollout(lab: Lab) -> float:
    def pool() -> dict[str, Any]:
        return json.loads(lab.kubectl("get", "mcp", "worker", "-o", "json"))["status"]

    before = pool()["configuration"]["name"]
    start = time.perf_counter()
    lab.kubectl("create", "-f", "-", input=json.dumps(MACHINE_CONFIG))
    while True:
        status = pool()
        updated = {c["type"]: c["status"] for c in status["conditions"]}.get("Updated")
        if status["configuration"]["name"] != before and updated == "True":
            return time.perf_counter() - start
        time.sleep(0.1)


def report(name: str, seconds: float, peer_name: str, peer: float, target: float) -> None:
    verdict = "ok" if seconds < target else "OVER TARGET"
    print(
        f"{name:<34} {seconds:7.2f} s   {peer_name} {peer:6.2f} s   ratio {seconds / peer:5.1f}x"
        f"   target < {target:.0f} s: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pods", type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the lab benchmark needs root")
    up = statistics.median(time_up(args.runs))
    bare = statistics.median(time_bare_network(args.runs))
    report("lab up (3 nodes)", up, "bare ip", bare, 5)
    with tempfile.TemporaryDirectory() as folder:
        lab = Lab(Path(folder))
        lab.sctpctl("lab", "up", "--workers", "3", "--masters", "0", "--reboot-seconds", "2")
        try:
            pods = time_pods(lab, args.pods)
            bare_pods = asyncio.run(_bare_pods(args.pods))
            report(f"{args.pods} pods to Running", pods, "bare netns+process", bare_pods, 10)
            lab.kubectl("delete", "pods", "-l", "app=bench", "--wait=true", "--timeout=120s")
            rollout = time_rollout(lab)
            report("MachineConfig rollout (3 workers)", rollout, "reboots alone", 3 * 2.0, 20)
        finally:
            lab.sctpctl("lab", "down")


if __name__ == "__main__":
    main()
