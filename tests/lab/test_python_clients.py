"""The three common Python Kubernetes clients against the lab's API server, with the checks of the
Kubernetes reference (sections 3 and 11): the official ``kubernetes`` client (sync, generated
models, watch, exec over WebSocket, the DynamicClient), ``lightkube`` (static models, generic
resources, server-side apply) and ``kr8s`` (legacy discovery, wait, exec over v4).

One server for the module, with the fake kubelet for exec and logs. Every test makes objects under
its own names and removes them, so each can run alone."""

from __future__ import annotations

import contextlib
import gc
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kr8s
import pytest
from kr8s._async_utils import as_sync_func
from kr8s.objects import Pod as Kr8sPod
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.stream import stream
from kubernetes.stream.ws_client import WSClient
from lightkube import ApiError, Client, KubeConfig
from lightkube.generic_resource import create_global_resource
from lightkube.models.core_v1 import Container, PodSpec, ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod as LightPod
from lightkube.resources.core_v1 import Service as LightService
from lightkube.types import PatchType as LightPatchType

from tests.lab.harness import NODES, LabThread
from tests.lab.labenv import wait_for

MC_GROUP, MC_VERSION, MC_PLURAL = "machineconfiguration.openshift.io", "v1", "machineconfigs"
MC_API_VERSION = f"{MC_GROUP}/{MC_VERSION}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabThread]:
    running = LabThread(tmp_path_factory.mktemp("pyclients-lab")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kubeconfig(lab: LabThread) -> str:
    return str(lab.state.kubeconfig)


def pod_body(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "main", "image": "registry.access.redhat.com/ubi9/ubi",
                 "command": ["sleep", "inf"]}
            ],
        },
    }  # fmt: skip


def machine_config(name: str, *, role: str = "worker") -> dict[str, Any]:
    return {
        "apiVersion": MC_API_VERSION,
        "kind": "MachineConfig",
        "metadata": {"name": name, "labels": {"machineconfiguration.openshift.io/role": role}},
        "spec": {
            "config": {
                "ignition": {"version": "3.2.0"},
                "storage": {"files": [{"path": "/etc/modules-load.d/sctp-load.conf",
                                       "mode": 420, "contents": {"source": "data:,sctp"}}]},
            }
        },
    }  # fmt: skip


def error_body(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


# --- kubernetes (the official client) ---------------------------------------------------------


@pytest.fixture(scope="module")
def api_client(kubeconfig: str) -> Iterator[k8s.ApiClient]:
    with k8s_config.new_client_from_config(config_file=kubeconfig) as connected:
        yield connected


@pytest.fixture
def core(api_client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client)


def running_pod(core: k8s.CoreV1Api, name: str) -> k8s.V1Pod:
    core.create_namespaced_pod("default", pod_body(name))

    def running() -> k8s.V1Pod | None:
        pod = core.read_namespaced_pod(name, "default")
        return pod if pod.status.phase == "Running" else None

    found: k8s.V1Pod = wait_for(running, timeout=15, interval=0.05, message=f"pod {name} Running")
    return found


def gone(core: k8s.CoreV1Api, name: str) -> None:
    """Delete the pod ``name`` if it is there, and wait until the kubelet has removed it."""

    def absent() -> bool:
        try:
            core.read_namespaced_pod(name, "default")
        except ApiException as error:
            return error.status == 404
        return False

    try:
        core.delete_namespaced_pod(name, "default")
    except ApiException as error:
        if error.status != 404:
            raise
    wait_for(absent, timeout=15, interval=0.05, message=f"pod {name} deleted")


def test_kubernetes_core_v1_create_get_list_delete(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_pod("default", pod_body("k-crud", {"suite": "k-crud"}))
    try:
        assert isinstance(created, k8s.V1Pod)
        assert created.metadata.uid and created.metadata.resource_version
        assert created.spec.containers[0].command == ["sleep", "inf"]
        fetched = core.read_namespaced_pod("k-crud", "default")
        assert fetched.metadata.uid == created.metadata.uid
        listed = core.list_namespaced_pod("default", label_selector="suite=k-crud")
        assert [p.metadata.name for p in listed.items] == ["k-crud"]
        assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
        assert core.list_namespaced_pod("default", label_selector="suite=none").items == []
        nodes = core.list_node()
        assert sorted(n.metadata.name for n in nodes.items) == sorted(NODES)
        deleted = core.delete_namespaced_pod("k-crud", "default")
        assert deleted.metadata.uid == created.metadata.uid
    finally:
        gone(core, "k-crud")


def test_kubernetes_errors_are_api_exceptions_with_the_status(
    core: k8s.CoreV1Api, api_client: k8s.ApiClient
) -> None:
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("k-nope", "default")
    assert missing.value.status == 404
    assert error_body(missing.value)["reason"] == "NotFound"
    assert error_body(missing.value)["message"] == 'pods "k-nope" not found'

    core.create_namespaced_pod("default", pod_body("k-twice"))
    try:
        with pytest.raises(ApiException) as twice:
            core.create_namespaced_pod("default", pod_body("k-twice"))
        assert twice.value.status == 409
        assert error_body(twice.value)["reason"] == "AlreadyExists"

        stale = core.read_namespaced_pod("k-twice", "default")
        core.patch_namespaced_pod("k-twice", "default", {"metadata": {"labels": {"v": "2"}}})
        with pytest.raises(ApiException) as conflict:
            core.replace_namespaced_pod("k-twice", "default", stale)
        assert conflict.value.status == 409
        assert error_body(conflict.value)["reason"] == "Conflict"
    finally:
        gone(core, "k-twice")


def test_kubernetes_watch_sees_added_modified_and_deleted(core: k8s.CoreV1Api) -> None:
    start = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod_body("k-watched", {"suite": "k-watch"}))
    core.patch_namespaced_pod("k-watched", "default", {"metadata": {"labels": {"seen": "yes"}}})
    gone(core, "k-watched")

    watcher = k8s_watch.Watch()
    events: list[tuple[str, str, dict[str, str]]] = []
    for event in watcher.stream(
        core.list_namespaced_pod, "default", label_selector="suite=k-watch",
        resource_version=start, timeout_seconds=5,
    ):  # fmt: skip
        pod = event["object"]
        assert isinstance(pod, k8s.V1Pod)
        events.append((event["type"], pod.metadata.name, pod.metadata.labels))
        if event["type"] == "DELETED":
            watcher.stop()
    kinds = [kind for kind, _, _ in events]
    assert kinds[0] == "ADDED" and kinds[-1] == "DELETED" and "MODIFIED" in kinds
    assert {name for _, name, _ in events} == {"k-watched"}
    assert any(labels.get("seen") == "yes" for kind, _, labels in events if kind == "MODIFIED")


def test_kubernetes_watch_without_a_version_lists_what_exists_as_added(
    core: k8s.CoreV1Api,
) -> None:
    started = time.monotonic()
    events = [
        (event["type"], event["object"].metadata.name)
        for event in k8s_watch.Watch().stream(core.list_node, timeout_seconds=1)
    ]
    # The stream ends at the server's timeout, and the client does not watch again.
    assert time.monotonic() - started < 5
    assert sorted(events) == sorted(("ADDED", name) for name in NODES)


def test_kubernetes_dict_patch_is_strategic_and_list_patch_is_json_patch(
    core: k8s.CoreV1Api,
) -> None:
    core.create_namespaced_pod("default", pod_body("k-patched"))
    try:
        # Strategic: containers merge by name, so the command survives a change of image.
        # A merge patch would have replaced the whole list with one image-only container.
        new_image = {"spec": {"containers": [{"name": "main", "image": "ubi9/ubi-minimal"}]}}
        patched = core.patch_namespaced_pod("k-patched", "default", new_image)
        (container,) = patched.spec.containers
        assert (container.image, container.command) == ("ubi9/ubi-minimal", ["sleep", "inf"])

        operations = [
            {"op": "test", "path": "/metadata/labels/app", "value": "k-patched"},
            {"op": "add", "path": "/metadata/labels/j", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/app"},
        ]
        patched = core.patch_namespaced_pod("k-patched", "default", operations)
        assert patched.metadata.labels == {"j": "2"}

        failing = [{"op": "test", "path": "/metadata/labels/j", "value": "3"}]
        with pytest.raises(ApiException) as refused:
            core.patch_namespaced_pod("k-patched", "default", failing)
        assert refused.value.status == 422
        assert core.read_namespaced_pod("k-patched", "default").metadata.labels == {"j": "2"}
    finally:
        gone(core, "k-patched")


def test_kubernetes_server_side_apply_creates_then_updates_a_service(
    core: k8s.CoreV1Api,
) -> None:
    def service(port: int) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "k-applied", "labels": {"app": "sctp"}},
            "spec": {"selector": {"app": "sctp"},
                     "ports": [{"name": "sctp", "protocol": "SCTP", "port": port}]},
        }  # fmt: skip

    apply = {"field_manager": "pyclients-test", "_content_type": "application/apply-patch+yaml"}
    try:
        created = core.patch_namespaced_service("k-applied", "default", service(38412), **apply)
        assert created.spec.cluster_ip.startswith("172.30.")
        assert [(p.port, p.protocol) for p in created.spec.ports] == [(38412, "SCTP")]
        updated = core.patch_namespaced_service("k-applied", "default", service(38413), **apply)
        assert updated.metadata.uid == created.metadata.uid
        assert updated.spec.cluster_ip == created.spec.cluster_ip
        assert [(p.port, p.protocol) for p in updated.spec.ports] == [(38413, "SCTP")]
        assert core.read_namespaced_service("k-applied", "default").spec.ports[0].port == 38413
    finally:
        core.delete_namespaced_service("k-applied", "default")


def test_kubernetes_custom_objects_machine_config_create_get_patch(
    api_client: k8s.ApiClient,
) -> None:
    custom = k8s.CustomObjectsApi(api_client)
    created = custom.create_cluster_custom_object(
        MC_GROUP, MC_VERSION, MC_PLURAL, machine_config("k-load-sctp")
    )
    try:
        assert created["kind"] == "MachineConfig" and created["metadata"]["uid"]
        fetched = custom.get_cluster_custom_object(MC_GROUP, MC_VERSION, MC_PLURAL, "k-load-sctp")
        assert fetched["spec"]["config"]["storage"]["files"][0]["contents"]["source"] == (
            "data:,sctp"
        )
        # CustomObjectsApi patches with a JSON merge patch, the one a custom resource accepts.
        patched = custom.patch_cluster_custom_object(
            MC_GROUP, MC_VERSION, MC_PLURAL, "k-load-sctp", {"metadata": {"labels": {"a": "b"}}}
        )
        assert patched["metadata"]["labels"] == {
            "machineconfiguration.openshift.io/role": "worker",
            "a": "b",
        }
        assert patched["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
        with pytest.raises(ApiException) as twice:
            custom.create_cluster_custom_object(
                MC_GROUP, MC_VERSION, MC_PLURAL, machine_config("k-load-sctp")
            )
        assert twice.value.status == 409
        assert error_body(twice.value)["reason"] == "AlreadyExists"
    finally:
        custom.delete_cluster_custom_object(MC_GROUP, MC_VERSION, MC_PLURAL, "k-load-sctp")
    with pytest.raises(ApiException) as missing:
        custom.get_cluster_custom_object(MC_GROUP, MC_VERSION, MC_PLURAL, "k-load-sctp")
    assert missing.value.status == 404
    assert error_body(missing.value)["message"] == (
        'machineconfigs.machineconfiguration.openshift.io "k-load-sctp" not found'
    )


def close(session: WSClient) -> None:
    """``WSClient.close()`` does nothing once the server has closed the WebSocket (which it
    does after the exit status), leaving the socket open: shut the socket down as well."""
    session.close()
    session.sock.shutdown()


@contextlib.contextmanager
def unclosed_websocket_of_the_client() -> Iterator[None]:
    """``stream()`` with preloaded content reads until the server closes, but never closes its
    own socket (``websocket_call`` in ``kubernetes/stream/ws_client.py``): collect it here,
    where its ResourceWarning is the client's and expected, not in whichever test runs next."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


@pytest.mark.parametrize(
    "offered", [None, "v4.channel.k8s.io"], ids=["v5-and-v4-offered", "v4-only-as-before-36"]
)
def test_kubernetes_exec_returns_output_and_the_exit_code(
    core: k8s.CoreV1Api, offered: str | None
) -> None:
    name = "k-exec-v4" if offered else "k-exec"
    running_pod(core, name)
    try:
        headers = {"_headers": {"sec-websocket-protocol": offered}} if offered else {}
        session = stream(
            core.connect_get_namespaced_pod_exec, name, "default",
            command=["sh", "-c", "echo out; echo err >&2; exit 7"],
            stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False,
            **headers,
        )  # fmt: skip
        session.run_forever(timeout=10)
        assert session.subprotocol == (offered or "v5.channel.k8s.io")
        assert session.read_stdout() == "out\n"
        assert session.read_stderr() == "err\n"
        assert session.returncode == 7
        close(session)

        with unclosed_websocket_of_the_client():
            output = stream(
                core.connect_get_namespaced_pod_exec, name, "default",
                command=["echo", "hello"], stdout=True, stderr=True, stdin=False, tty=False,
                **headers,
            )  # fmt: skip
        assert output == "hello\n"
    finally:
        gone(core, name)


def test_kubernetes_exec_sends_stdin_and_closes_it_over_v5(core: k8s.CoreV1Api) -> None:
    running_pod(core, "k-stdin")
    try:
        session = stream(
            core.connect_get_namespaced_pod_exec, "k-stdin", "default", command=["cat"],
            stdout=True, stderr=True, stdin=True, tty=False, _preload_content=False,
        )  # fmt: skip
        session.write_stdin("piped\n")
        session.close_channel(0)  # the v5 close signal: cat sees the end of its input
        session.run_forever(timeout=10)
        assert session.read_stdout() == "piped\n"
        assert session.returncode == 0
        close(session)
    finally:
        gone(core, "k-stdin")


def test_kubernetes_pod_log_with_tail_lines(core: k8s.CoreV1Api) -> None:
    running_pod(core, "k-logs")
    try:
        everything = core.read_namespaced_pod_log("k-logs", "default")
        assert everything == "main started\nlistening on 30102\n"
        assert core.read_namespaced_pod_log("k-logs", "default", tail_lines=1) == (
            "listening on 30102\n"
        )
    finally:
        gone(core, "k-logs")


def test_kubernetes_dynamic_client_gets_and_lists_pods_and_machine_configs(
    api_client: k8s.ApiClient, core: k8s.CoreV1Api, tmp_path: Path
) -> None:
    dynamic = DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))
    pods = dynamic.resources.get(api_version="v1", kind="Pod")
    assert pods.namespaced and pods.name == "pods"
    configs = dynamic.resources.get(api_version=MC_API_VERSION, kind="MachineConfig")
    assert not configs.namespaced and configs.name == MC_PLURAL
    core.create_namespaced_pod("default", pod_body("k-dynamic", {"suite": "k-dynamic"}))
    try:
        listed = pods.get(namespace="default", label_selector="suite=k-dynamic")
        assert [p.metadata.name for p in listed.items] == ["k-dynamic"]
        one = pods.get(name="k-dynamic", namespace="default")
        assert one.spec.containers[0].name == "main"

        created = configs.create(body=machine_config("k-dynamic-mc"))
        assert created.metadata.name == "k-dynamic-mc"
        fetched = configs.get(name="k-dynamic-mc")
        assert fetched.spec.config.ignition.version == "3.2.0"
        names = [c.metadata.name for c in configs.get().items]
        assert "k-dynamic-mc" in names
        configs.delete(name="k-dynamic-mc")
        assert "k-dynamic-mc" not in [c.metadata.name for c in configs.get().items]
    finally:
        gone(core, "k-dynamic")


# --- lightkube ---------------------------------------------------------------------------------

MachineConfig = create_global_resource(MC_GROUP, MC_VERSION, "MachineConfig", MC_PLURAL)


@pytest.fixture(scope="module")
def light(kubeconfig: str) -> Iterator[Client]:
    config = KubeConfig.from_file(kubeconfig)
    with Client(config=config, field_manager="pyclients-test") as connected:
        yield connected


def test_lightkube_machine_config_create_get_patch_and_watch(light: Client) -> None:
    created = light.create(MachineConfig.from_dict(machine_config("l-load-sctp")))
    try:
        assert created.metadata is not None and created.metadata.uid
        start = created.metadata.resourceVersion
        fetched = light.get(MachineConfig, "l-load-sctp")
        assert fetched["spec"]["config"]["ignition"]["version"] == "3.2.0"
        # lightkube's default patch is a strategic merge patch, which a custom resource refuses.
        with pytest.raises(ApiError) as refused:
            light.patch(MachineConfig, "l-load-sctp", {"metadata": {"labels": {"a": "b"}}})
        assert refused.value.status.code == 415
        patched = light.patch(
            MachineConfig, "l-load-sctp", {"metadata": {"labels": {"a": "b"}}},
            patch_type=LightPatchType.MERGE,
        )  # fmt: skip
        assert patched.metadata is not None and patched.metadata.labels == {
            "machineconfiguration.openshift.io/role": "worker",
            "a": "b",
        }
        light.delete(MachineConfig, "l-load-sctp")
        seen = []
        for kind, obj in light.watch(MachineConfig, resource_version=start, server_timeout=5):
            assert obj.metadata is not None and obj.metadata.name == "l-load-sctp"
            seen.append((kind, (obj.metadata.labels or {}).get("a")))
            if kind == "DELETED":
                break
        assert seen == [("MODIFIED", "b"), ("DELETED", "b")]
    finally:
        with pytest.raises(ApiError) as missing:
            light.get(MachineConfig, "l-load-sctp")
        assert missing.value.status.code == 404


def test_lightkube_pods_create_get_patch_and_watch(light: Client) -> None:
    pod = LightPod(
        metadata=ObjectMeta(name="l-pod", labels={"suite": "l-pod"}),
        spec=PodSpec(
            containers=[Container(name="main", image="ubi9", command=["sleep", "inf"])],
            terminationGracePeriodSeconds=1,
        ),
    )
    created = light.create(pod, namespace="default")
    try:
        assert created.metadata is not None and created.metadata.uid
        fetched = light.get(LightPod, "l-pod", namespace="default")
        assert fetched.spec is not None and fetched.spec.containers[0].command == ["sleep", "inf"]
        patched = light.patch(LightPod, "l-pod", {"metadata": {"labels": {"s": "3"}}})
        assert patched.metadata is not None
        assert patched.metadata.labels == {"suite": "l-pod", "s": "3"}
        phases = []
        for kind, obj in light.watch(
            LightPod, namespace="default", labels={"suite": "l-pod"}, server_timeout=5
        ):
            assert obj.metadata is not None and obj.metadata.name == "l-pod"
            assert obj.status is not None
            phases.append((kind, obj.status.phase))
            if obj.status.phase == "Running":
                break
        assert phases[0][0] == "ADDED" and phases[-1][1] == "Running"
    finally:
        light.delete(LightPod, "l-pod", namespace="default", grace_period=0)
    with pytest.raises(ApiError) as missing:
        light.get(LightPod, "l-pod", namespace="default")
    assert missing.value.status.code == 404


def test_lightkube_server_side_apply_of_an_sctp_service(light: Client) -> None:
    def service(port: int) -> LightService:
        return LightService(
            metadata=ObjectMeta(name="l-applied", namespace="default"),
            spec=ServiceSpec(
                selector={"app": "sctp"},
                ports=[ServicePort(name="sctp", protocol="SCTP", port=port)],
            ),
        )

    try:
        created = light.apply(service(38412))
        assert created.spec is not None and created.spec.clusterIP
        assert [(p.port, p.protocol) for p in created.spec.ports or []] == [(38412, "SCTP")]
        updated = light.apply(service(38413))
        assert updated.metadata is not None and created.metadata is not None
        assert updated.metadata.uid == created.metadata.uid
        assert updated.spec is not None
        assert [(p.port, p.protocol) for p in updated.spec.ports or []] == [(38413, "SCTP")]
    finally:
        light.delete(LightService, "l-applied", namespace="default")


# --- kr8s --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kr8s_api(kubeconfig: str) -> Iterator[kr8s.Api]:
    api = kr8s.api(kubeconfig=kubeconfig)
    yield api
    # kr8s keeps its HTTP session for the life of the process and has no public close; its
    # idle connection would outlive the server and be reported unclosed at some later garbage
    # collection. Close it in kr8s's own event loop.
    if api._session is not None:
        as_sync_func(api._session.aclose)()


def test_kr8s_lists_the_nodes_through_legacy_discovery(kr8s_api: kr8s.Api) -> None:
    nodes = list(kr8s_api.get("nodes"))
    assert sorted(node.name for node in nodes) == sorted(NODES)
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node.status.conditions}
        assert ready["Ready"] == "True", node.name
    assert nodes[0].labels["kubernetes.io/hostname"] == nodes[0].name
    assert kr8s_api.version()["minor"] == "32"


def test_kr8s_pod_create_wait_ready_exec_and_logs(kr8s_api: kr8s.Api) -> None:
    pod = Kr8sPod(pod_body("r-pod"), api=kr8s_api)
    pod.create()
    try:
        pod.wait("condition=Ready", timeout=15)
        assert pod.status.phase == "Running"
        done = pod.exec(["sh", "-c", "echo hi; echo oops >&2; exit 3"], check=False)
        assert (done.returncode, done.stdout, done.stderr) == (3, b"hi\n", b"oops\n")
        assert pod.exec(["echo", "fine"]).stdout == b"fine\n"
        assert list(pod.logs()) == ["main started", "listening on 30102"]
        assert list(pod.logs(tail_lines=1)) == ["listening on 30102"]
    finally:
        pod.delete()
    wait_for(lambda: not pod.exists(), timeout=15, message="pod r-pod deleted")
