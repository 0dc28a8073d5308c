"""The real kubectl against the lab's API server: the command list of the Kubernetes reference
(section 3) and the seed procedure's commands. One server for the module; each test works on its
own objects so it can run alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.harness import KUBECTL, LabThread

pytestmark = pytest.mark.skipif(not shutil.which(KUBECTL), reason="needs /usr/bin/kubectl")

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  containers:
  - name: main
    image: registry.access.redhat.com/ubi9/ubi
    command: ["/bin/sh", "-c"]
    args: ["sleep inf"]
    ports:
    - {{containerPort: 30102, name: sctpserver, protocol: SCTP}}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: sctpservice
  labels: {{app: sctpserver}}
spec:
  type: NodePort
  selector: {{app: sctpserver}}
  ports:
  - {{name: sctpserver, protocol: SCTP, port: {port}, targetPort: {port}}}
"""

MACHINE_CONFIG = """\
apiVersion: machineconfiguration.openshift.io/v1
kind: MachineConfig
metadata:
  name: load-sctp-module
  labels:
    machineconfiguration.openshift.io/role: worker
spec:
  config:
    ignition:
      version: 3.2.0
    storage:
      files:
        - path: /etc/modprobe.d/sctp-blacklist.conf
          mode: 0644
          overwrite: true
          contents:
            source: data:,
        - path: /etc/modules-load.d/sctp-load.conf
          mode: 0644
          overwrite: true
          contents:
            source: data:,sctp
"""

NETWORK_POLICY = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-sctp-on-http
spec:
  podSelector:
    matchLabels:
      role: web
  ingress:
  - ports:
    - protocol: SCTP
      port: 80
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabThread]:
    running = LabThread(tmp_path_factory.mktemp("kubectl-lab")).start()
    yield running
    running.stop()


def write(lab: LabThread, name: str, text: str) -> str:
    path = Path(lab.root) / name
    path.write_text(text)
    return str(path)


def wait_running(lab: LabThread, name: str, namespace: str = "default") -> None:
    lab.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=15s")


def test_version_reports_1_32_and_the_dispatcher_runs_kubectl_1_32(lab: LabThread) -> None:
    out = lab.kubectl("version").stdout
    assert "Server Version: v1.32.4-lab" in out
    assert "Client Version: v1.32" in out


def test_get_nodes_prints_the_real_columns_and_wide_adds_addresses(lab: LabThread) -> None:
    lines = lab.kubectl("get", "nodes").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert lines[2].split()[:3] == ["worker-0", "Ready", "worker"]
    wide = lab.kubectl("get", "nodes", "-o", "wide").stdout
    assert "INTERNAL-IP" in wide and "198.18.0.11" in wide and "CoreOS (sctpctl lab)" in wide


def test_api_resources_lists_short_names_from_discovery(lab: LabThread) -> None:
    out = lab.kubectl("api-resources").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["machineconfigs"][1] == "mc"
    assert rows["machineconfigpools"][1] == "mcp"
    assert rows["networkpolicies"][1] == "netpol"
    assert rows["pods"][1] == "po" and rows["services"][1] == "svc"


def test_create_namespace_configmap_secret_and_can_i_send_protobuf(lab: LabThread) -> None:
    lab.kubectl("create", "namespace", "proto-ns")
    lab.kubectl("create", "configmap", "c1", "-n", "proto-ns", "--from-literal=k=v")
    lab.kubectl("create", "secret", "generic", "s1", "-n", "proto-ns", "--from-literal=k=v")
    assert lab.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    cm = json.loads(lab.kubectl("get", "cm", "c1", "-n", "proto-ns", "-o", "json").stdout)
    assert cm["data"] == {"k": "v"}
    secret = json.loads(lab.kubectl("get", "secret", "s1", "-n", "proto-ns", "-o", "json").stdout)
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque"
    ns = json.loads(lab.kubectl("get", "ns", "proto-ns", "-o", "json").stdout)
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "proto-ns"


def test_create_pod_twice_says_already_exists(lab: LabThread) -> None:
    path = write(lab, "twice.yaml", POD.format(name="twice"))
    assert "pod/twice created" in lab.kubectl("create", "-f", path).stdout
    again = lab.kubectl("create", "-f", path, check=False)
    assert again.returncode == 1
    assert "Error from server (AlreadyExists): error when creating" in again.stderr
    assert 'pods "twice" already exists' in again.stderr


def test_pod_runs_and_shows_in_tables_jsonpath_and_all_namespaces(lab: LabThread) -> None:
    lab.kubectl("create", "-f", write(lab, "runs.yaml", POD.format(name="runs")))
    wait_running(lab, "runs")
    ip = lab.kubectl("get", "pod", "runs", "-o", "jsonpath={.status.podIP}").stdout
    assert ip.startswith("10.128.")
    everything = lab.kubectl("get", "pods", "-A").stdout.splitlines()
    assert everything[0].split()[:3] == ["NAMESPACE", "NAME", "READY"]
    row = next(line.split() for line in everything if " runs " in f" {line} ")
    assert row[:4] == ["default", "runs", "1/1", "Running"]
    wide = lab.kubectl("get", "pod", "runs", "-o", "wide").stdout
    assert "worker-0" in wide and ip in wide


def test_apply_creates_then_is_unchanged_then_changes_the_sctp_port(lab: LabThread) -> None:
    first = write(lab, "svc.yaml", SERVICE.format(port=30102))
    second = write(lab, "svc2.yaml", SERVICE.format(port=30103))
    assert "created" in lab.kubectl("apply", "-f", first).stdout
    assert "unchanged" in lab.kubectl("apply", "-f", first).stdout
    assert "configured" in lab.kubectl("apply", "-f", second).stdout
    service = json.loads(lab.kubectl("get", "svc", "sctpservice", "-o", "json").stdout)
    assert [(p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [(30103, "SCTP")]
    assert 30000 <= service["spec"]["ports"][0]["nodePort"] <= 32767
    assert "serverside-applied" in lab.kubectl("apply", "--server-side", "-f", first).stdout
    out = lab.kubectl(
        "get", "services", "sctpservice", "-o", 'go-template={{.spec.clusterIP}}{{"\\n"}}'
    ).stdout
    assert out.startswith("172.30.") and out.endswith("\n")
    table = lab.kubectl("get", "svc", "sctpservice").stdout
    assert "NodePort" in table and "30102:" in table and "/SCTP" in table


def test_network_policy_with_sctp_port_in_a_namespace(lab: LabThread) -> None:
    lab.kubectl("create", "namespace", "np-ns")
    out = lab.kubectl("apply", "-n", "np-ns", "-f", write(lab, "np.yaml", NETWORK_POLICY))
    assert "networkpolicy.networking.k8s.io/allow-sctp-on-http created" in out.stdout
    table = lab.kubectl("get", "netpol", "-n", "np-ns").stdout
    assert "role=web" in table


def test_machine_config_create_get_and_strategic_patch_refused(lab: LabThread) -> None:
    path = write(lab, "load-sctp-module.yaml", MACHINE_CONFIG)
    lab.kubectl("create", "-f", path)
    lines = lab.kubectl("get", "mc").stdout.splitlines()
    assert lines[0].split() == ["NAME", "GENERATEDBYCONTROLLER", "IGNITIONVERSION", "AGE"]
    assert lines[1].split()[:2] == ["load-sctp-module", "3.2.0"]
    refused = lab.kubectl(
        "patch", "mc", "load-sctp-module", "-p", '{"metadata":{"labels":{"a":"b"}}}', check=False
    )
    assert refused.returncode == 1
    assert "application/strategic-merge-patch+json is not supported" in refused.stderr
    lab.kubectl("patch", "mc", "load-sctp-module", "--type=merge", "-p",
                '{"metadata":{"labels":{"a":"b"}}}')  # fmt: skip
    assert "deleted" in lab.kubectl("delete", "-f", path).stdout


def test_machine_config_pool_columns(lab: LabThread) -> None:
    pool = {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfigPool",
        "metadata": {"name": "worker"},
        "spec": {"machineConfigSelector": {"matchLabels": {
            "machineconfiguration.openshift.io/role": "worker"}}},
    }  # fmt: skip
    lab.kubectl("create", "-f", write(lab, "mcp.yaml", json.dumps(pool)))
    status = {"status": {"configuration": {"name": "rendered-worker-1"}, "machineCount": 2,
                         "readyMachineCount": 2, "updatedMachineCount": 2,
                         "degradedMachineCount": 0, "conditions": [
                             {"type": "Updated", "status": "True"},
                             {"type": "Updating", "status": "False"},
                             {"type": "Degraded", "status": "False"}]}}  # fmt: skip
    lab.kubectl("patch", "mcp", "worker", "--subresource=status", "--type=merge",
                "-p", json.dumps(status))  # fmt: skip
    lines = lab.kubectl("get", "mcp", "worker").stdout.splitlines()
    assert lines[0].split()[:5] == ["NAME", "CONFIG", "UPDATED", "UPDATING", "DEGRADED"]
    assert lines[1].split()[:8] == ["worker", "rendered-worker-1", "True", "False", "False",
                                    "2", "2", "2"]  # fmt: skip


def test_patches_labels_and_annotations(lab: LabThread) -> None:
    lab.kubectl("create", "-f", write(lab, "patched.yaml", POD.format(name="patched")))
    lab.kubectl("patch", "pod", "patched", "--type=merge", "-p",
                '{"metadata":{"labels":{"m":"1"}}}')  # fmt: skip
    lab.kubectl("patch", "pod", "patched", "--type=json", "-p",
                '[{"op":"add","path":"/metadata/labels/j","value":"2"}]')  # fmt: skip
    lab.kubectl("patch", "pod", "patched", "-p", '{"metadata":{"labels":{"s":"3"}}}')
    lab.kubectl("label", "pod", "patched", "tier=test")
    lab.kubectl("annotate", "pod", "patched", "note=hello")
    pod = json.loads(lab.kubectl("get", "pod", "patched", "-o", "json").stdout)
    assert {k: pod["metadata"]["labels"][k] for k in "mjs"} == {"m": "1", "j": "2", "s": "3"}
    assert pod["metadata"]["labels"]["tier"] == "test"
    assert pod["metadata"]["annotations"]["note"] == "hello"


def test_replace_with_a_stale_resource_version_conflicts(lab: LabThread) -> None:
    lab.kubectl("create", "configmap", "replaced", "--from-literal=a=1")
    current = json.loads(lab.kubectl("get", "cm", "replaced", "-o", "json").stdout)
    lab.kubectl("label", "cm", "replaced", "bump=1")
    current["data"] = {"a": "2"}
    path = write(lab, "replaced.json", json.dumps(current))
    stale = lab.kubectl("replace", "-f", path, check=False)
    assert stale.returncode == 1
    assert "Error from server (Conflict)" in stale.stderr
    assert "the object has been modified" in stale.stderr
    current["metadata"].pop("resourceVersion")
    write(lab, "replaced.json", json.dumps(current))
    assert "replaced" in lab.kubectl("replace", "-f", path).stdout


def test_error_messages_for_not_found_and_invalid(lab: LabThread) -> None:
    missing = lab.kubectl("get", "pod", "nope", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr
    bad = write(lab, "badpod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {}\n")
    invalid = lab.kubectl("create", "-f", bad, check=False)
    assert invalid.returncode == 1
    assert 'The Pod "bad" is invalid: spec.containers: Required value' in invalid.stderr
    port = write(lab, "badsvc.yaml", SERVICE.format(port=70000).replace("SCTP", "ICMP"))
    refused = lab.kubectl("create", "-f", port, check=False)
    assert "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535" in refused.stderr
    assert 'spec.ports[0].protocol: Unsupported value: "ICMP"' in refused.stderr


def test_unknown_field_is_refused_by_strict_server_side_validation(lab: LabThread) -> None:
    path = write(
        lab, "unk.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unk}\nbogus: 1\n"
    )
    out = lab.kubectl("create", "-f", path, check=False)
    assert out.returncode == 1
    assert 'strict decoding error: unknown field "bogus"' in out.stderr
    assert lab.kubectl("get", "cm", "unk", check=False).returncode == 1


def test_server_dry_run_persists_nothing(lab: LabThread) -> None:
    path = write(lab, "dry.yaml", POD.format(name="dry"))
    assert "(server dry run)" in lab.kubectl("create", "-f", path, "--dry-run=server").stdout
    assert lab.kubectl("get", "pod", "dry", check=False).returncode == 1


def test_get_watch_prints_rows_until_the_stream_ends(lab: LabThread) -> None:
    process = subprocess.Popen(
        [KUBECTL, "get", "nodes", "-w"], env=lab.env(), stdout=subprocess.PIPE, text=True
    )
    time.sleep(2)
    lab.kubectl("cordon", "worker-1")
    time.sleep(1)
    process.terminate()
    out, _ = process.communicate(timeout=10)
    assert "worker-1   Ready,SchedulingDisabled" in out
    lab.kubectl("uncordon", "worker-1")


def test_watch_events_as_json(lab: LabThread) -> None:
    lab.kubectl("create", "-f", write(lab, "watched.yaml", POD.format(name="watched")))
    wait_running(lab, "watched")
    process = subprocess.Popen(
        [KUBECTL, "get", "pod", "watched", "-w", "--output-watch-events", "-o", "json"],
        env=lab.env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.5)
    lab.kubectl("label", "pod", "watched", "seen=yes")
    time.sleep(1)
    process.terminate()
    out, _ = process.communicate(timeout=10)
    assert '"type":"MODIFIED"' in out and '"seen":"yes"' in out


def test_logs_tail_follow_and_timestamps(lab: LabThread) -> None:
    lab.kubectl("create", "-f", write(lab, "logged.yaml", POD.format(name="logged")))
    wait_running(lab, "logged")
    assert lab.kubectl("logs", "logged").stdout == "main started\nlistening on 30102\n"
    assert lab.kubectl("logs", "logged", "--tail=1").stdout == "listening on 30102\n"
    followed = lab.kubectl("logs", "-f", "logged").stdout
    assert followed.endswith("finished\n")
    stamped = lab.kubectl("logs", "logged", "-c", "main", "--timestamps").stdout.splitlines()
    assert stamped[0].endswith("Z main started") and stamped[0][:2] == "20"
    previous = lab.kubectl("logs", "logged", "--previous", check=False)
    assert previous.returncode == 1 and "previous terminated container" in previous.stderr


def test_exec_stdout_exit_code_and_stdin(lab: LabThread) -> None:
    lab.kubectl("create", "-f", write(lab, "shell.yaml", POD.format(name="shell")))
    wait_running(lab, "shell")
    assert lab.kubectl("exec", "shell", "--", "echo", "hi").stdout == "hi\n"
    failed = lab.kubectl("exec", "shell", "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3
    assert "command terminated with exit code 3" in failed.stderr
    piped = lab.kubectl("exec", "-i", "shell", "--", "cat", input="piped\n")
    assert piped.stdout == "piped\n"
    err = lab.kubectl("exec", "shell", "--", "sh", "-c", "echo oops >&2")
    assert err.stderr == "oops\n"


def test_describe_delete_and_wait_for_deletion(lab: LabThread) -> None:
    lab.kubectl("create", "-f", write(lab, "doomed.yaml", POD.format(name="doomed")))
    wait_running(lab, "doomed")
    assert "Name:" in lab.kubectl("describe", "pod", "doomed").stdout
    assert 'pod "doomed" deleted' in lab.kubectl("delete", "pod", "doomed").stdout
    lab.kubectl("wait", "--for=delete", "pod/doomed", "--timeout=5s")
    assert lab.kubectl("delete", "pod", "doomed", "--ignore-not-found").returncode == 0


def test_deleting_a_namespace_removes_everything_in_it(lab: LabThread) -> None:
    lab.kubectl("create", "namespace", "doomed-ns")
    lab.kubectl(
        "create", "-n", "doomed-ns", "-f", write(lab, "inner.yaml", POD.format(name="inner"))
    )
    wait_running(lab, "inner", "doomed-ns")
    lab.kubectl("create", "configmap", "inner", "-n", "doomed-ns", "--from-literal=a=b")
    lab.kubectl("delete", "namespace", "doomed-ns", "--timeout=15s")
    assert lab.kubectl("get", "ns", "doomed-ns", check=False).returncode == 1
    left = lab.kubectl("get", "pods,cm", "-n", "doomed-ns", "-o", "name").stdout
    assert left.strip() == ""


def test_cordon_sets_unschedulable(lab: LabThread) -> None:
    lab.kubectl("cordon", "worker-0")
    node = json.loads(lab.kubectl("get", "node", "worker-0", "-o", "json").stdout)
    assert node["spec"]["unschedulable"] is True
    assert "SchedulingDisabled" in lab.kubectl("get", "node", "worker-0").stdout
    lab.kubectl("uncordon", "worker-0")


def test_waiting_for_a_condition_already_met_returns_at_once(lab: LabThread) -> None:
    # The watch answers 200 before its first event, so kubectl's informer does not sit until
    # something changes (or a bookmark is due) when the pod is Ready already.
    lab.kubectl("create", "-f", write(lab, "settled.yaml", POD.format(name="settled")))
    wait_running(lab, "settled")
    start = time.monotonic()
    wait_running(lab, "settled")
    assert time.monotonic() - start < 2.5
