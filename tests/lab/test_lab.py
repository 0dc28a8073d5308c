"""The lab as an administrator meets it: ``sctpctl lab up``, the real kubectl, real traffic through
the kernel (namespaces, routed veths, nftables), the machine-config rollout of the seed procedure,
and ``lab down``. One lab for the module; tests run in file order (the rollouts come last)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sctpctl.host import netns
from tests.lab.harness import KUBECTL
from tests.lab.labenv import TCP_ECHO, Lab, pod_manifest, running_lab

SEED = Path(__file__).resolve().parent.parent / "manifests" / "seed"
"The seed procedure's objects, as published (kept as fixtures by the manifests tests)."

pytestmark = [
    pytest.mark.netns,
    pytest.mark.nft,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(KUBECTL), reason="needs /usr/bin/kubectl"),
]

BAD_MACHINE_CONFIG = """\
apiVersion: machineconfiguration.openshift.io/v1
kind: MachineConfig
metadata:
  name: 99-worker-bad
  labels: {machineconfiguration.openshift.io/role: worker}
spec:
  config:
    ignition: {version: 3.2.0}
    storage:
      files:
        - path: etc/relative.conf
          contents: {source: "data:,x"}
"""

MODULE_PROBE = {
    "nodeName": "worker-0",
    "restartPolicy": "Never",
    "volumes": [
        {"name": "modprobe", "hostPath": {"path": "/etc/modprobe.d"}},
        {"name": "modules", "hostPath": {"path": "/etc/modules-load.d"}},
    ],
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


def test_up_waits_for_ready_nodes_and_a_second_up_changes_nothing(lab: Lab) -> None:
    status = json.loads(lab.sctpctl("lab", "status", "-o", "json").stdout)
    assert status["running"] is True
    assert [(n["name"], n["status"], n["internalIP"]) for n in status["nodes"]] == [
        ("master-0", "Ready", "198.18.0.10"),
        ("worker-0", "Ready", "198.18.0.11"),
        ("worker-1", "Ready", "198.18.0.12"),
    ]
    again = lab.up()
    assert "already running" in again.stderr
    nodes = lab.kubectl("get", "nodes").stdout
    assert "worker-1   Ready    worker" in nodes
    assert "control-plane,master" in nodes
    # The machine network lives in the lab's namespaces only, never in the root namespace.
    root = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    assert "198.18.0." not in root and "10.128." not in root
    assert f"{lab.prefix}-fabric" in lab.namespaces()


def test_containers_run_unprivileged_with_logs_and_exec(lab: Lab) -> None:
    lab.kubectl("apply", "-f", "-", input=pod_manifest(
        "hello", ["/bin/sh", "-c", "echo hello from $HOSTNAME; echo oops >&2; sleep inf"],
        node="worker-1",
    ))  # fmt: skip
    lab.pod_ready("hello")
    pod = lab.json("get", "pod", "hello")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("10.128.4.")
    assert pod["status"]["hostIP"] == "198.18.0.12"
    logs = lab.wait_for(lambda: lab.kubectl("logs", "hello").stdout, message="logs")
    assert "hello from hello\n" in logs and "oops" in logs
    stamped = lab.kubectl("logs", "hello", "--timestamps").stdout.splitlines()[0]
    assert stamped.endswith("hello from hello") and stamped[:4].isdigit()
    ident = lab.exec("hello", "id", "-u")
    assert ident.stdout.strip() == "65534"
    assert lab.exec("hello", "sh", "-c", "exit 7").returncode == 7
    # sctpctl's own tools are on the PATH of every container.
    assert lab.exec("hello", "sctpctl", "--version").returncode == 0
    address = lab.exec("hello", "python", "-c", "import socket; print(socket.gethostname())")
    assert address.stdout.strip() == "hello"
    # The kubelet's /etc/hosts: the pod resolves its own name at once.
    resolved = lab.exec(
        "hello", "python", "-c", "import socket; print(socket.getfqdn())", timeout=3
    )
    assert resolved.stdout.strip() == "hello"
    described = lab.kubectl("describe", "pod", "hello").stdout
    assert "Successfully assigned default/hello to worker-1" in described
    assert "Started container main" in described


def test_privileged_pods_are_root_and_host_paths_show_the_node(lab: Lab) -> None:
    spec = {
        **MODULE_PROBE,
        "containers": [
            {
                "name": "main",
                "image": "x",
                "command": [
                    "/bin/sh",
                    "-c",
                    "id -u; cat /host/etc/modprobe.d/sctp-blacklist.conf; "
                    "cat /sys/module/sctp/initstate || echo no-sctp; "
                    "touch /host/etc/modprobe.d/x || echo read-only",
                ],
                "securityContext": {"privileged": True},
                "volumeMounts": [
                    {"name": "modprobe", "mountPath": "/host/etc/modprobe.d", "readOnly": True}
                ],
            }
        ],
    }
    lab.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"}, "spec": spec}
    ))  # fmt: skip
    lab.wait_for(
        lambda: lab.jsonpath("get", "pod", "probe", path="{.status.phase}") == "Succeeded",
        message="probe pod succeeded",
    )
    # stdout and stderr are two pipes: their lines interleave in any order, as in a runtime.
    lines = lab.kubectl("logs", "probe").stdout.splitlines()
    assert lines[0] == "0"
    assert "blacklist sctp" in lines
    assert "no-sctp" in lines  # the node has no /sys/module/sctp
    assert "read-only" in lines
    assert any("Read-only file system" in line for line in lines)
    # /host did not exist on this machine and still does not: the mount point was private.
    assert not Path("/host/etc/modprobe.d").exists()


def test_a_failing_container_is_restarted_with_back_off(lab: Lab) -> None:
    lab.kubectl("apply", "-f", "-", input=pod_manifest(
        "crash", ["/bin/sh", "-c", "echo run; exit 3"], node="worker-0",
    ))  # fmt: skip

    def restarted() -> bool:
        status = lab.json("get", "pod", "crash")["status"]
        containers = status.get("containerStatuses") or [{}]
        return containers[0].get("restartCount", 0) >= 1 and bool(containers[0].get("lastState"))

    lab.wait_for(restarted, timeout=20, message="a restart")
    events = lab.kubectl("get", "events", "--field-selector", "involvedObject.name=crash").stdout
    assert "BackOff" in events and "Back-off restarting failed container main" in events
    status = lab.json("get", "pod", "crash")["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert lab.kubectl("logs", "crash", "--previous").stdout == "run\n"
    lab.kubectl("delete", "pod", "crash", "--wait=false")


def _serve(lab: Lab, name: str, node: str, port: int, labels: dict[str, str]) -> str:
    lab.kubectl("apply", "-f", "-", input=pod_manifest(
        name, ["python", "-u", "-c", TCP_ECHO, str(port)], node=node, labels=labels,
        ports=[{"containerPort": port, "name": "echo", "protocol": "TCP"}],
    ))  # fmt: skip
    lab.pod_ready(name)
    lab.wait_for(lambda: "listening" in lab.kubectl("logs", name).stdout, message=f"{name} up")
    return str(lab.jsonpath("get", "pod", name, path="{.status.podIP}"))


def test_pod_clusterip_nodeport_hairpin_and_external_traffic(lab: Lab) -> None:
    server_ip = _serve(lab, "echo", "worker-0", 8080, {"app": "echo"})
    for name, node in (("near", "worker-0"), ("far", "worker-1")):
        lab.kubectl("apply", "-f", "-", input=pod_manifest(name, ["sleep", "inf"], node=node))
    lab.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
        "spec": {"type": "NodePort", "selector": {"app": "echo"},
                 "ports": [{"name": "echo", "port": 80, "targetPort": "echo", "protocol": "TCP"}]},
    }))  # fmt: skip
    for name in ("near", "far"):
        lab.pod_ready(name)
    cluster_ip = lab.jsonpath("get", "svc", "echo", path="{.spec.clusterIP}")
    node_port = int(lab.jsonpath("get", "svc", "echo", path="{.spec.ports[0].nodePort}"))
    lab.wait_for(lambda: "8080" in lab.kubectl("get", "endpoints", "echo").stdout, message="ep")
    for client in ("near", "far"):
        for host, port in (
            (server_ip, 8080),
            (cluster_ip, 80),
            ("198.18.0.11", node_port),
            ("198.18.0.12", node_port),
        ):
            code, answer = lab.tcp(client, host, port, message=f"{client}-{port}")
            assert (code, answer) == (0, f"echo:{client}-{port}"), (client, host, port)
    # Hairpin: the server reaches itself through its own Service.
    assert lab.tcp("echo", cluster_ip, 80, message="self") == (0, "echo:self")
    # From outside the cluster, to every node's NodePort (the return path is masqueraded).
    for node_address in ("198.18.0.10", "198.18.0.11", "198.18.0.12"):
        result = lab.external("python3", "-c", _tcp_once(node_address, node_port))
        assert result.stdout.strip() == "echo:outside", (node_address, result.stderr)
    # A Service port without endpoints is refused, not left hanging.
    lab.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "nobody"},
        "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 81, "protocol": "TCP"}]},
    }))  # fmt: skip
    empty_ip = lab.jsonpath("get", "svc", "nobody", path="{.spec.clusterIP}")
    assert lab.wait_for(lambda: lab.tcp("far", empty_ip, 81)[0] == 10, message="refused")


def test_host_network_pods_use_the_node_address_and_reach_services(lab: Lab) -> None:
    lab.kubectl("apply", "-f", "-", input=pod_manifest(
        "hostnet", ["sleep", "inf"], node="worker-1", extra_spec={"hostNetwork": True},
    ))  # fmt: skip
    lab.pod_ready("hostnet")
    assert lab.jsonpath("get", "pod", "hostnet", path="{.status.podIP}") == "198.18.0.12"
    cluster_ip = lab.jsonpath("get", "svc", "echo", path="{.spec.clusterIP}")
    assert lab.tcp("hostnet", cluster_ip, 80, message="host") == (0, "echo:host")


def test_deletion_sends_sigterm_then_sigkill_after_the_grace_period(lab: Lab) -> None:
    stubborn = pod_manifest(
        "stubborn", ["sleep", "inf"], node="worker-0",
        extra_spec={"terminationGracePeriodSeconds": 3},
    )  # fmt: skip
    # A container's first process is PID 1 of its PID namespace: without a handler it ignores
    # SIGTERM (sleep would sit out the grace period), so the polite one traps it.
    polite = pod_manifest(
        "polite", ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep inf & wait"], node="worker-0"
    )
    lab.kubectl("apply", "-f", "-", input=stubborn)
    lab.kubectl("apply", "-f", "-", input=polite)
    lab.pod_ready("stubborn")
    lab.pod_ready("polite")
    uid = lab.jsonpath("get", "pod", "polite", path="{.metadata.uid}")
    folder = lab.state / "nodes" / "worker-0" / "pods" / uid
    assert (folder / "main" / "0.log").exists()
    start = time.monotonic()
    lab.kubectl("delete", "pod", "polite")
    assert time.monotonic() - start < 2.5  # sleep ends on SIGTERM
    # The kubelet removes a deleted pod's files (logs, volumes).
    lab.wait_for(lambda: not folder.exists(), timeout=5, message="pod folder removed")
    start = time.monotonic()
    lab.kubectl("delete", "pod", "stubborn")
    assert 3 <= time.monotonic() - start < 8  # SIGTERM ignored by PID 1: SIGKILL after 3 s


def test_the_seeds_own_server_pod_fails_without_dnf_as_in_a_cluster_without_internet(
    lab: Lab,
) -> None:
    # The published procedure installs nc with dnf, which needs internet access from the
    # cluster; the lab runs no images and has no dnf, so the pod crash-loops with the reason.
    lab.kubectl("create", "namespace", "seed")
    lab.kubectl("create", "-n", "seed", "-f", str(SEED / "sctp-server.yaml"))

    def crashed() -> dict[str, object] | None:
        statuses = lab.json("get", "pod", "-n", "seed", "sctpserver")["status"].get(
            "containerStatuses"
        )
        return statuses[0] if statuses and statuses[0].get("lastState") else None

    status = lab.wait_for(crashed, timeout=20, message="the seed pod crashed")
    assert status["lastState"]["terminated"]["exitCode"] == 127  # type: ignore[index]
    assert "dnf: not found" in lab.kubectl("logs", "-n", "seed", "sctpserver").stdout
    lab.kubectl("delete", "namespace", "seed", "--wait=false")


def _tcp_once(host: str, port: int) -> str:
    return (
        "import socket\n"
        f"c = socket.create_connection(({host!r}, {port}), timeout=3)\n"
        "c.sendall(b'outside'); print(c.recv(100).decode())\n"
    )


def test_network_policies_are_enforced(lab: Lab) -> None:
    lab.kubectl("create", "namespace", "policy")
    _serve_in = lab.kubectl("apply", "-f", "-", input=pod_manifest(
        "web", ["python", "-u", "-c", TCP_ECHO, "8080"], node="worker-0", namespace="policy",
        labels={"role": "web"},
    ))  # fmt: skip
    assert _serve_in.returncode == 0
    for name, node in (("friend", "worker-1"), ("stranger", "worker-0")):
        labels = {"access": "yes"} if name == "friend" else {"access": "no"}
        lab.kubectl("apply", "-f", "-", input=pod_manifest(
            name, ["sleep", "inf"], node=node, namespace="policy", labels=labels))  # fmt: skip
    for name in ("web", "friend", "stranger"):
        lab.pod_ready(name, "policy")
    lab.wait_for(
        lambda: "listening" in lab.kubectl("logs", "-n", "policy", "web").stdout, message="up"
    )
    web = lab.jsonpath("get", "pod", "-n", "policy", "web", path="{.status.podIP}")
    assert lab.tcp("stranger", web, 8080, namespace="policy")[0] == 0
    lab.kubectl("apply", "-n", "policy", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny"}, "spec": {"podSelector": {}},
    }))  # fmt: skip
    # Within a second of the change, every pod of the namespace is isolated for ingress.
    start = time.monotonic()
    lab.wait_for(
        lambda: lab.tcp("stranger", web, 8080, namespace="policy", timeout=0.5)[0] == 11,
        message="deny",
    )
    assert time.monotonic() - start < 5
    assert lab.tcp("friend", web, 8080, namespace="policy", timeout=0.5)[0] == 11
    lab.kubectl("apply", "-n", "policy", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "allow-friends"},
        "spec": {"podSelector": {"matchLabels": {"role": "web"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"access": "yes"}}}],
                              "ports": [{"protocol": "TCP", "port": 8080}]}]},
    }))  # fmt: skip
    lab.wait_for(lambda: lab.tcp("friend", web, 8080, namespace="policy")[0] == 0, message="allow")
    assert lab.tcp("stranger", web, 8080, namespace="policy", timeout=0.5)[0] == 11
    # The seed's policy: SCTP port 80 only, so TCP to pods labelled role=web is isolated.
    lab.kubectl("delete", "networkpolicy", "-n", "policy", "default-deny", "allow-friends")
    lab.wait_for(lambda: lab.tcp("stranger", web, 8080, namespace="policy")[0] == 0, message="open")
    lab.kubectl("apply", "-n", "policy", "-f", str(SEED / "allow-sctp-on-http.yaml"))
    lab.wait_for(
        lambda: lab.tcp("friend", web, 8080, namespace="policy", timeout=0.5)[0] == 11,
        message="sctp only",
    )
    table = lab.node_nft("worker-0", "sctpctl_policy")
    assert "sctp dport 80 return" in table, table
    lab.kubectl("delete", "namespace", "policy", "--wait=false")


def _sctp_init(dport: int) -> bytes:
    from scapy.layers.sctp import SCTP, SCTPChunkInit  # type: ignore[import-untyped]

    packet = SCTP(sport=40000, dport=dport, tag=0) / SCTPChunkInit(
        init_tag=0x1234ABCD, a_rwnd=65535, n_out_streams=1, n_in_streams=1, init_tsn=1
    )
    return bytes(packet)


def _send_init(namespace: str, target: str, port: int) -> tuple[int, int, str] | None:
    """Send an SCTP INIT from inside ``namespace``; return the ICMP answer (type, code, source)."""

    def probe() -> tuple[int, int, str] | None:
        icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        sctp = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
        with icmp, sctp:
            icmp.settimeout(2)
            sctp.sendto(_sctp_init(port), (target, 0))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    data, (source, _port) = icmp.recvfrom(2048)
                except TimeoutError:
                    return None
                header = (data[0] & 0x0F) * 4
                kind, code = data[header], data[header + 1]
                inner = data[header + 8 :]
                if kind == 3 and inner[9] == 132:
                    return kind, code, source
            return None

    return netns.call_in_netns(namespace, probe)


def test_an_init_to_a_node_without_sctp_gets_protocol_unreachable(lab: Lab) -> None:
    lab.kubectl("apply", "-f", "-", input=pod_manifest(
        "sctpserver", ["sleep", "inf"], node="worker-0", labels={"app": "sctpserver"},
        ports=[{"containerPort": 30102, "name": "sctpserver", "protocol": "SCTP"}],
    ))  # fmt: skip
    lab.kubectl("create", "-f", str(SEED / "sctp-service.yaml"))
    lab.pod_ready("sctpserver")
    lab.wait_for(
        lambda: "30102" in lab.kubectl("get", "endpoints", "sctpservice").stdout, message="ep"
    )
    server = lab.jsonpath("get", "pod", "sctpserver", path="{.status.podIP}")
    cluster_ip = lab.jsonpath("get", "svc", "sctpservice", path="{.spec.clusterIP}")
    client_uid = lab.jsonpath("get", "pod", "far", path="{.metadata.uid}")
    client_netns = f"{lab.prefix}-pod-{client_uid[:13]}"
    # Straight to the pod, and through the ClusterIP: the answer comes back from the address
    # the client used (conntrack translates the ICMP error too).
    assert _send_init(client_netns, server, 30102) == (3, 2, server)
    assert _send_init(client_netns, cluster_ip, 30102) == (3, 2, cluster_ip)
    # From outside, through each node's NodePort: SCTP DNAT and masquerade, undone on the way back.
    node_port = int(lab.jsonpath("get", "svc", "sctpservice", path="{.spec.ports[0].nodePort}"))
    for node_address in ("198.18.0.11", "198.18.0.12"):
        answer = _send_init(f"{lab.prefix}-ext", node_address, node_port)
        assert answer == (3, 2, node_address)
    # An SCTP NetworkPolicy isolates the server: INITs from other pods are dropped (silence),
    # except from the pods it allows.
    lab.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "sctp-from-near"},
        "spec": {"podSelector": {"matchLabels": {"app": "sctpserver"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "near"}}}],
                              "ports": [{"protocol": "SCTP", "port": 30102}]}]},
    }))  # fmt: skip
    near_uid = lab.jsonpath("get", "pod", "near", path="{.metadata.uid}")
    lab.wait_for(lambda: _send_init(client_netns, server, 30102) is None, message="dropped")
    assert _send_init(f"{lab.prefix}-pod-{near_uid[:13]}", cluster_ip, 30102) == (3, 2, cluster_ip)
    lab.kubectl("delete", "networkpolicy", "sctp-from-near")
    # The node's files say why: sctp is blacklisted and not loaded.
    rootfs = lab.state / "nodes" / "worker-0" / "rootfs"
    assert (rootfs / "etc/modprobe.d/sctp-blacklist.conf").read_text() == "blacklist sctp\n"
    assert not (rootfs / "sys/module/sctp/initstate").exists()


DAEMON_SET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "node-agent"},
    "spec": {
        "selector": {"matchLabels": {"app": "node-agent"}},
        "template": {
            "metadata": {"labels": {"app": "node-agent"}},
            "spec": {
                "nodeSelector": {"node-role.kubernetes.io/worker": ""},
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "agent", "image": "x", "command": ["sleep", "inf"]}],
            },
        },
    },
}


def _daemon_pods(lab: Lab) -> dict[str, str]:
    pods = lab.json("get", "pods", "-l", "app=node-agent")["items"]
    return {p["spec"]["nodeName"]: p["metadata"]["name"] for p in pods}


def test_daemon_sets_run_one_pod_per_matching_node(lab: Lab) -> None:
    lab.kubectl("apply", "-f", "-", input=json.dumps(DAEMON_SET))
    placed = lab.wait_for(lambda: len(_daemon_pods(lab)) == 2 and _daemon_pods(lab), message="ds")
    assert sorted(placed) == ["worker-0", "worker-1"]
    lab.wait_for(
        lambda: lab.jsonpath("get", "ds", "node-agent", path="{.status.numberReady}") == "2",
        message="ds ready",
    )
    # A deleted DaemonSet pod comes back on its node.
    lab.kubectl("delete", "pod", placed["worker-1"], "--wait=false")
    lab.wait_for(
        lambda: _daemon_pods(lab).get("worker-1") not in (None, placed["worker-1"]),
        message="replacement",
    )


def test_seed_machineconfig_rolls_the_workers_one_at_a_time(lab: Lab) -> None:
    watch = subprocess.Popen(
        [KUBECTL, "get", "nodes", "-w"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=lab.env(),
    )  # fmt: skip
    agents = subprocess.Popen(
        [KUBECTL, "get", "pods", "-l", "app=node-agent", "-w"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env=lab.env(),
    )  # fmt: skip
    try:
        time.sleep(0.5)
        daemon_pods_before = _daemon_pods(lab)
        lab.kubectl("create", "-f", str(SEED / "load-sctp-module.yaml"))

        lab.wait_for_pool(with_config="load-sctp-module", present=True)
        time.sleep(0.3)
    finally:
        watch.terminate()
        agents.terminate()
        output, _ = watch.communicate(timeout=10)
        agent_lines, _ = agents.communicate(timeout=10)
    # While its node was down, each DaemonSet pod was not ready (no traffic to it), then ready.
    for pod in daemon_pods_before.values():
        readiness = [line.split()[1] for line in agent_lines.splitlines() if line.startswith(pod)]
        assert "0/1" in readiness and readiness[-1] == "1/1", (pod, readiness)
    rows = [line.split()[:2] for line in output.splitlines()[1:] if line.strip()]
    for worker in ("worker-0", "worker-1"):
        states = [status for name, status in rows if name == worker]
        assert "Ready,SchedulingDisabled" in states, (worker, states)
        assert "NotReady,SchedulingDisabled" in states, (worker, states)
        assert states[-1] == "Ready", (worker, states)
    # One at a time: worker-1 is cordoned only after worker-0 is back and uncordoned.
    events = [(name, status) for name, status in rows if name.startswith("worker")]
    worker0_done = max(
        i for i, (n, s) in enumerate(events) if n == "worker-0" and "SchedulingDisabled" in s
    )
    worker1_start = min(
        i for i, (n, s) in enumerate(events) if n == "worker-1" and "SchedulingDisabled" in s
    )
    assert worker0_done < worker1_start
    assert all(n != "master-0" or s == "Ready" for n, s in rows)
    mcp = lab.kubectl("get", "mcp", "worker").stdout.splitlines()[1].split()
    assert mcp[2:5] == ["True", "False", "False"]  # UPDATED UPDATING DEGRADED
    status = lab.json("get", "mcp", "worker")["status"]
    assert (
        status["machineCount"] == status["updatedMachineCount"] == status["readyMachineCount"] == 2
    )
    assert "load-sctp-module" in [s["name"] for s in status["configuration"]["source"]]
    assert status["configuration"]["name"].startswith("rendered-worker-")
    for worker in ("worker-0", "worker-1"):
        notes = lab.json("get", "node", worker)["metadata"]["annotations"]
        assert (
            notes["machineconfiguration.openshift.io/currentConfig"]
            == status["configuration"]["name"]
        )
        assert (
            notes["machineconfiguration.openshift.io/desiredConfig"]
            == status["configuration"]["name"]
        )
        assert notes["machineconfiguration.openshift.io/state"] == "Done"
        rootfs = lab.state / "nodes" / worker / "rootfs"
        assert (rootfs / "etc/modprobe.d/sctp-blacklist.conf").read_text() == ""
        assert (rootfs / "etc/modules-load.d/sctp-load.conf").read_text() == "sctp"
        assert (rootfs / "sys/module/sctp/initstate").read_text() == "live\n"
    # Bare pods were drained (deleted, as a forced drain does); DaemonSet pods stayed.
    assert "sctpserver" not in lab.kubectl("get", "pods").stdout
    assert sorted(_daemon_pods(lab)) == ["worker-0", "worker-1"]
    assert daemon_pods_before == _daemon_pods(lab)
    # What `sctpctl status` will do: a pod per node reading the module state through hostPaths.
    spec = {
        **MODULE_PROBE,
        "containers": [{
            "name": "check", "image": "x",
            "command": ["/bin/sh", "-c", "cat /sys/module/sctp/initstate; "
                        "cat /etc/modules-load.d/sctp-load.conf"],
            "volumeMounts": [
                {"name": "modprobe", "mountPath": "/etc/modprobe.d", "readOnly": True},
                {"name": "modules", "mountPath": "/etc/modules-load.d", "readOnly": True},
            ],
        }],
    }  # fmt: skip
    lab.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "status-check"}, "spec": spec}
        ),
    )
    lab.wait_for(
        lambda: lab.jsonpath("get", "pod", "status-check", path="{.status.phase}") == "Succeeded",
        message="status pod",
    )
    assert lab.kubectl("logs", "status-check").stdout == "live\nsctp"


def test_a_bad_machineconfig_degrades_the_pool_and_deleting_it_recovers(lab: Lab) -> None:
    good = lab.jsonpath("get", "mcp", "worker", path="{.status.configuration.name}")
    (lab.root / "bad.yaml").write_text(BAD_MACHINE_CONFIG)
    lab.kubectl("create", "-f", "bad.yaml")

    def degraded() -> dict[str, str] | None:
        pool = lab.json("get", "mcp", "worker")["status"]
        conditions = {c["type"]: c for c in pool.get("conditions", [])}
        return conditions if conditions["Degraded"]["status"] == "True" else None

    conditions = lab.wait_for(degraded, timeout=30, message="Degraded")
    assert "must be absolute" in conditions["Degraded"]["message"]
    assert conditions["Updated"]["status"] == "False"
    state = "machineconfiguration.openshift.io/state"
    degraded_nodes = [
        node
        for node in lab.json("get", "nodes")["items"]
        if node["metadata"].get("annotations", {}).get(state) == "Degraded"
    ]
    assert len(degraded_nodes) == 1
    reason = degraded_nodes[0]["metadata"]["annotations"][
        "machineconfiguration.openshift.io/reason"
    ]
    assert "etc/relative.conf" in reason
    # The bad config was refused before anything changed on the node.
    assert not degraded_nodes[0]["spec"].get("unschedulable")
    lab.kubectl("delete", "mc", "99-worker-bad")

    def recovered() -> bool:
        pool = lab.json("get", "mcp", "worker")["status"]
        conditions = {c["type"]: c["status"] for c in pool.get("conditions", [])}
        return conditions["Degraded"] == "False" and conditions["Updated"] == "True"

    lab.wait_for(recovered, timeout=30, message="recovered")
    assert lab.jsonpath("get", "mcp", "worker", path="{.status.configuration.name}") == good


def test_a_crashed_daemon_is_replaced_and_its_leftovers_removed(lab: Lab) -> None:
    lab.kubectl(
        "apply", "-f", "-", input=pod_manifest("survivor", ["sleep", "inf"], node="worker-1")
    )
    lab.pod_ready("survivor")
    records = [json.loads(p.read_text()) for p in (lab.state / "processes").glob("*.json")]
    assert records, "container processes are recorded"
    daemon = json.loads((lab.state / "daemon.json").read_text())
    os.kill(daemon["pid"], signal.SIGKILL)
    time.sleep(0.5)
    # The containers outlive the daemon until the lab comes back.
    alive = [r for r in records if Path(f"/proc/{r['pid']}").exists()]
    assert alive
    lab.up()
    for record in alive:
        assert not _same_process(record), record
    lab.pod_ready("survivor")
    assert lab.exec("survivor", "true").returncode == 0


def _same_process(record: dict[str, int]) -> bool:
    try:
        raw = Path(f"/proc/{record['pid']}/stat").read_text()
    except OSError:
        return False
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0] != "Z" and int(fields[19]) == record["startTime"]


def test_down_keeping_state_then_up_brings_the_pods_back(lab: Lab) -> None:
    address = lab.jsonpath("get", "pod", "survivor", path="{.status.podIP}")
    lab.sctpctl("lab", "down", "--keep-state")
    assert lab.namespaces() == []
    assert (lab.state / "store.db").exists()
    lab.up()
    lab.pod_ready("survivor")
    assert lab.jsonpath("get", "pod", "survivor", path="{.status.podIP}") == address
    restarts = lab.jsonpath(
        "get", "pod", "survivor", path="{.status.containerStatuses[0].restartCount}"
    )
    assert int(restarts) >= 1


def test_deleting_the_machineconfig_rolls_the_files_back(lab: Lab) -> None:
    lab.kubectl("delete", "mc", "load-sctp-module")

    lab.wait_for_pool(with_config="load-sctp-module", present=False)
    for worker in ("worker-0", "worker-1"):
        rootfs = lab.state / "nodes" / worker / "rootfs"
        assert (rootfs / "etc/modprobe.d/sctp-blacklist.conf").read_text() == "blacklist sctp\n"
        assert not (rootfs / "etc/modules-load.d/sctp-load.conf").exists()
        assert not (rootfs / "sys/module/sctp/initstate").exists()
