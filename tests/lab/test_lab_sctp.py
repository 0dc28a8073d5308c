"""SCTP in the lab's pods, as the seed procedure proves it: real SCTP associations between pods,
through Services and NetworkPolicies in the kernel, carried by each node's host stack service.

Before the seed's MachineConfig no node has SCTP: ``sctpctl listen`` in a pod exits 14 and an
INIT to a worker or a worker pod gets ICMP protocol-unreachable. After the rollout the workers
(and only they) have it: the verification objects of ``sctpctl render verify`` exchange messages
over pod IP, ClusterIP and NodePort, on one node and across nodes, from the external host and
from a hostNetwork pod; NetworkPolicies filter SCTP. One lab for the module; the tests run in
file order, and each machine with SCTP has exactly one stack process through reboots, a
``kill -9`` of the daemon and ``lab down``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab.harness import KUBECTL
from tests.lab.labenv import Lab, running_lab

SEED = Path(__file__).resolve().parent.parent / "manifests" / "seed"

pytestmark = [
    pytest.mark.netns,
    pytest.mark.nft,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(KUBECTL), reason="needs /usr/bin/kubectl"),
]

WORKERS = ("198.18.0.11", "198.18.0.12")
MASTER = "198.18.0.10"
PORT = 30102
EXTERNAL = None
"``sctp_connect``/``sctp_probe`` from the external host rather than from a pod."


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("sctplab")) as running:
        yield running


def create(lab: Lab, *objects: dict[str, Any], namespace: str = "default") -> None:
    lab.kubectl("create", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(objects))


def pod(
    name: str, command: list[str], *, node: str, labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "x", "command": command}],
            **spec,
        },
    }


def seed_server(node: str) -> dict[str, Any]:
    """The seed's server pod with sctpctl's listener where the procedure installs nc."""
    server: dict[str, Any] = yaml.safe_load((SEED / "sctp-server.yaml").read_text())
    container = server["spec"]["containers"][0]
    container["command"], container["args"] = ["sctpctl"], ["listen", str(PORT)]
    server["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    server["spec"]["terminationGracePeriodSeconds"] = 1
    return server


def verification_objects(lab: Lab) -> list[dict[str, Any]]:
    """``sctpctl render verify``: the server pod on worker-0, the NodePort Service, the client
    on worker-1, and a second client next to the server."""
    rendered = json.loads(lab.sctpctl("render", "verify", "-o", "json").stdout)
    server, service, client = rendered["items"]
    server["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "worker-0"}
    client["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "worker-1"}
    near = json.loads(json.dumps(client))
    near["metadata"]["name"] = "sctpclient-near"
    near["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "worker-0"}
    return [server, service, client, near]


def restarted_after(lab: Lab, name: str) -> int | None:
    """The exit code of a container's last run, once it has been restarted at least once."""
    statuses = lab.json("get", "pod", name)["status"].get("containerStatuses") or [{}]
    terminated = (statuses[0].get("lastState") or {}).get("terminated") or {}
    if statuses[0].get("restartCount", 0) < 1 or "exitCode" not in terminated:
        return None
    return int(terminated["exitCode"])


def machines_with_a_stack(lab: Lab) -> dict[str, int]:
    """Machine -> number of live stack processes; the process book names the same ones."""
    running = lab.stack_services()
    book = [json.loads(path.read_text()) for path in (lab.state / "processes").glob("*.json")]
    recorded = {r["pid"] for r in book if r["what"].startswith("stack service of ")}
    assert recorded == {pid for pids in running.values() for pid in pids}, (recorded, running)
    return {machine: len(pids) for machine, pids in running.items()}


def test_before_the_rollout_no_node_has_sctp(lab: Lab) -> None:
    # Only the external host, a machine outside the cluster that has SCTP, runs a stack.
    assert machines_with_a_stack(lab) == {"external": 1}
    create(lab, seed_server("worker-0"))
    create(lab, pod("prober", ["sleep", "inf"], node="worker-1"))
    lab.wait_for(lambda: restarted_after(lab, "sctpserver") == 14, message="listen exits 14")
    logs = lab.kubectl("logs", "sctpserver", "--previous").stdout
    assert "SCTP is not available in this network namespace" in logs
    server = lab.jsonpath("get", "pod", "sctpserver", path="{.status.podIP}")
    lab.pod_ready("prober")
    # A pod on a node without the module has no SCTP to probe with (no-sctp-local)...
    assert lab.sctp_probe("prober", server, PORT) == (14, "")
    # ...and the external host's INITs to the workers get protocol-unreachable.
    assert lab.sctp_probe(EXTERNAL, ",".join(WORKERS), PORT) == (
        13,
        "no-sctp-on-target no-sctp-on-target",
    )
    assert not (lab.state / "nodes" / "worker-0" / "rootfs/sys/module/sctp").exists()


def test_an_init_to_a_worker_pod_gets_protocol_unreachable(lab: Lab) -> None:
    # A privileged pod may run SCTP in-process over a raw socket, which needs no module: its
    # INIT reaches the server pod, whose kernel answers protocol-unreachable.
    privileged = pod("rawprober", ["sleep", "inf"], node="worker-1")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    create(lab, privileged)
    lab.pod_ready("rawprober")
    server = lab.jsonpath("get", "pod", "sctpserver", path="{.status.podIP}")
    assert lab.sctp_probe("rawprober", server, PORT, userspace=True) == (13, "no-sctp-on-target")
    lab.kubectl("delete", "pod", "sctpserver", "prober", "rawprober")


def test_the_seed_machineconfig_gives_the_workers_sctp(lab: Lab) -> None:
    lab.kubectl("create", "-f", str(SEED / "load-sctp-module.yaml"))

    lab.wait_for_pool(with_config="load-sctp-module", present=True)
    # One stack process per worker; the master (not in the worker pool) has none.
    assert machines_with_a_stack(lab) == {"external": 1, "worker-0": 1, "worker-1": 1}
    for worker in ("worker-0", "worker-1"):
        assert (lab.state / "nodes" / worker / "rootfs/sys/module/sctp/initstate").exists()
    assert not (lab.state / "nodes" / "master-0" / "rootfs/sys/module/sctp").exists()
    # The workers themselves now answer INITs to closed ports with ABORT; the master does not.
    assert lab.sctp_probe(EXTERNAL, ",".join(WORKERS), PORT) == (10, "closed closed")
    assert lab.sctp_probe(EXTERNAL, MASTER, PORT) == (13, "no-sctp-on-target")


def _service(lab: Lab) -> tuple[str, int]:
    cluster_ip = lab.jsonpath("get", "svc", "sctpservice", path="{.spec.clusterIP}")
    node_port = int(lab.jsonpath("get", "svc", "sctpservice", path="{.spec.ports[0].nodePort}"))
    return cluster_ip, node_port


def _wait_for_the_server(lab: Lab, client: str, target: str) -> None:
    lab.wait_for(
        lambda: lab.sctp_connect(client, target, message="ready?")[0] == 0,
        message=f"the server answering {client} at {target}",
    )


def test_the_verification_objects_exchange_messages_over_every_path(lab: Lab) -> None:
    create(lab, *verification_objects(lab))
    for name in ("sctpserver", "sctpclient", "sctpclient-near"):
        lab.pod_ready(name)
    server = lab.jsonpath("get", "pod", "sctpserver", path="{.status.podIP}")
    cluster_ip, node_port = _service(lab)
    lab.wait_for(lambda: str(PORT) in lab.kubectl("get", "endpoints", "sctpservice").stdout)
    _wait_for_the_server(lab, "sctpclient", f"{server}:{PORT}")
    targets = [f"{server}:{PORT}", f"{cluster_ip}:{PORT}"]
    targets += [f"{address}:{node_port}" for address in (MASTER, *WORKERS)]
    for client in ("sctpclient-near", "sctpclient"):  # same node, across nodes
        for target in targets:
            message = f"{client} to {target}"
            assert lab.sctp_connect(client, target, message=message) == (0, message), target
    # From outside the cluster, to every node's NodePort (the master's too: it forwards).
    for address in (MASTER, *WORKERS):
        message = f"outside to {address}"
        assert lab.sctp_connect(EXTERNAL, f"{address}:{node_port}", message=message) == (
            0,
            message,
        )


def test_host_network_pods_have_sctp_on_workers_only(lab: Lab) -> None:
    _cluster_ip, node_port = _service(lab)
    for node in ("worker-1", "master-0"):
        create(lab, pod(f"hostnet-{node}", ["sleep", "inf"], node=node, hostNetwork=True))
    for node in ("worker-1", "master-0"):
        lab.pod_ready(f"hostnet-{node}")
    # A worker's host network has SCTP: a hostNetwork pod reaches a NodePort, its own too.
    for address in WORKERS:
        message = f"host network to {address}"
        assert lab.sctp_connect("hostnet-worker-1", f"{address}:{node_port}", message=message) == (
            0,
            message,
        )
    # The master keeps no SCTP.
    code, _ = lab.sctp_connect("hostnet-master-0", f"{WORKERS[0]}:{node_port}", message="x")
    assert code == 14
    lab.kubectl("delete", "pod", "hostnet-worker-1", "hostnet-master-0")


def test_network_policies_filter_sctp(lab: Lab) -> None:
    lab.kubectl("create", "namespace", "policy")
    web = pod("web", ["sctpctl", "listen", "80", "--echo", "--keep-open"], node="worker-0",
              labels={"role": "web"})  # fmt: skip
    web["spec"]["containers"].append(
        {"name": "other", "image": "x",
         "command": ["sctpctl", "listen", str(PORT), "--echo", "--keep-open"]}
    )  # fmt: skip
    db = pod("db", ["sctpctl", "listen", str(PORT), "--echo", "--keep-open"], node="worker-1",
             labels={"role": "db"})  # fmt: skip
    client = pod("client", ["sleep", "inf"], node="worker-1")
    create(lab, web, db, client, namespace="policy")
    for name in ("web", "db", "client"):
        lab.pod_ready(name, "policy")
    web_ip = lab.jsonpath("get", "pod", "-n", "policy", "web", path="{.status.podIP}")
    db_ip = lab.jsonpath("get", "pod", "-n", "policy", "db", path="{.status.podIP}")
    targets = {"web:80": f"{web_ip}:80", "web:other": f"{web_ip}:{PORT}", "db": f"{db_ip}:{PORT}"}

    def outcomes() -> dict[str, int]:
        """Exit codes of ``sctpctl connect`` from the client: 0 open, 11 filtered."""
        found = {}
        for name, target in targets.items():
            code, _ = lab.sctp_connect("client", target, message=name, namespace="policy",
                                       timeout=1)  # fmt: skip
            found[name] = code
        return found

    lab.wait_for(lambda: outcomes() == dict.fromkeys(targets, 0), message="every server up")
    # The seed's policy isolates role=web pods for ingress and allows SCTP to port 80 only.
    lab.kubectl("apply", "-n", "policy", "-f", str(SEED / "allow-sctp-on-http.yaml"))
    expected = {"web:80": 0, "web:other": 11, "db": 0}
    lab.wait_for(lambda: outcomes() == expected, message=f"allow-sctp-on-http: {expected}")
    # A default deny isolates every pod; the seed's policy still lets SCTP to port 80 through.
    lab.kubectl("apply", "-n", "policy", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }))  # fmt: skip
    expected = {"web:80": 0, "web:other": 11, "db": 11}
    lab.wait_for(lambda: outcomes() == expected, message=f"default-deny: {expected}")
    lab.kubectl("delete", "namespace", "policy", "--wait=false")


def test_a_killed_daemon_leaves_its_stack_processes_to_the_next_one(lab: Lab) -> None:
    before = lab.stack_services()
    daemon = json.loads((lab.state / "daemon.json").read_text())
    os.kill(daemon["pid"], signal.SIGKILL)
    time.sleep(0.5)
    assert lab.stack_services() == before  # they outlive the daemon, like its containers
    lab.up()
    after = lab.stack_services()
    assert {m: len(p) for m, p in after.items()} == {"external": 1, "worker-0": 1, "worker-1": 1}
    assert not {p for ps in before.values() for p in ps} & {p for ps in after.values() for p in ps}
    assert machines_with_a_stack(lab) == {"external": 1, "worker-0": 1, "worker-1": 1}
    # The pods come back with their namespaces served again.
    for name in ("sctpserver", "sctpclient"):
        lab.pod_ready(name)
    cluster_ip, _node_port = _service(lab)
    _wait_for_the_server(lab, "sctpclient", f"{cluster_ip}:{PORT}")
    assert lab.sctp_connect("sctpclient", f"{cluster_ip}:{PORT}", message="again") == (0, "again")


def test_deleting_the_machineconfig_takes_sctp_away_again(lab: Lab) -> None:
    lab.kubectl("delete", "mc", "load-sctp-module")

    lab.wait_for_pool(with_config="load-sctp-module", present=False)
    # Each reboot stopped its node's stack; nothing starts one again.
    assert machines_with_a_stack(lab) == {"external": 1}
    assert lab.sctp_probe(EXTERNAL, ",".join(WORKERS), PORT) == (
        13,
        "no-sctp-on-target no-sctp-on-target",
    )
