"""sctpctl's own Kubernetes client (kubernetes-asyncio underneath) against the lab's API server:
the operations ``enable``, ``status`` and ``verify`` need, and the error types they rely on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sctpctl.k8s import errors
from sctpctl.k8s.adapter import KubernetesClient, connect, kubeconfig_paths
from sctpctl.k8s.client import PatchType
from tests.lab.harness import LabThread

MC = "machineconfiguration.openshift.io/v1"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabThread]:
    running = LabThread(tmp_path_factory.mktemp("client-lab")).start()
    yield running
    running.stop()


@pytest.fixture
async def client(lab: LabThread) -> AsyncIterator[KubernetesClient]:
    async with await connect(str(lab.state.kubeconfig)) as connected:
        yield connected


def pod(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "ubi9", "command": ["sleep", "inf"]}]},
    }


async def wait_phase(client: KubernetesClient, name: str, namespace: str, phase: str) -> None:
    for _ in range(100):
        found = await client.get("v1", "Pod", name, namespace=namespace)
        if (found.get("status") or {}).get("phase") == phase:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"pod {name} never reached {phase}")


async def test_verify_flow_namespace_pods_service_exec_and_label_cleanup(
    client: KubernetesClient,
) -> None:
    run = {"sctpctl.io/verify": "run-1"}
    await client.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "verify-1", "labels": run}}
    )
    await client.create(pod("server", "verify-1", {"app": "server", **run}))
    service = await client.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "server", "labels": run},
            "spec": {"type": "NodePort", "selector": {"app": "server"},
                     "ports": [{"port": 30102, "protocol": "SCTP"}]},
        },
        namespace="verify-1",
    )  # fmt: skip
    assert service["spec"]["clusterIP"].startswith("172.30.")
    await wait_phase(client, "server", "verify-1", "Running")
    result = await client.exec("verify-1", "server", ["sh", "-c", "echo up; exit 13"])
    assert (result.exit_code, result.stdout) == (13, b"up\n")
    piped = await client.exec("verify-1", "server", ["cat"], stdin=b"ping")
    assert (piped.exit_code, piped.stdout) == (0, b"ping")
    assert "listening on 30102" in await client.logs("verify-1", "server", tail_lines=1)
    found = await client.list("v1", "Pod", label_selector="sctpctl.io/verify=run-1")
    assert [p["metadata"]["name"] for p in found.items] == ["server"]
    assert found.items[0]["kind"] == "Pod"
    deleted = await client.delete_collection("v1", "Service", label_selector="sctpctl.io/verify")
    assert [s["metadata"]["name"] for s in deleted] == ["server"]
    await client.delete("v1", "Namespace", "verify-1")
    for _ in range(100):
        try:
            await client.get("v1", "Namespace", "verify-1")
        except errors.NotFound:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the namespace was never removed")


async def test_enable_flow_machine_config_and_pool_watch(client: KubernetesClient) -> None:
    pool = await client.create(
        {"apiVersion": MC, "kind": "MachineConfigPool", "metadata": {"name": "worker"},
         "spec": {"maxUnavailable": 1}}
    )  # fmt: skip
    events = client.watch(
        MC, "MachineConfigPool", field_selector="metadata.name=worker",
        resource_version=pool["metadata"]["resourceVersion"], timeout_seconds=5,
    )  # fmt: skip
    mc = {
        "apiVersion": MC,
        "kind": "MachineConfig",
        "metadata": {"name": "load-sctp-module",
                     "labels": {"machineconfiguration.openshift.io/role": "worker"}},
        "spec": {"config": {"ignition": {"version": "3.2.0"}}},
    }  # fmt: skip
    applied = await client.apply(mc)
    assert applied["spec"]["config"]["ignition"]["version"] == "3.2.0"
    updated = {"status": {"conditions": [{"type": "Updated", "status": "True"}]}}
    await client.patch(MC, "MachineConfigPool", "worker", updated, subresource="status")
    async with contextlib.aclosing(events):  # closing releases the connection at once
        async for event in events:
            if event.type == "MODIFIED":
                assert event.object["status"]["conditions"][0]["type"] == "Updated"
                break
    with pytest.raises(errors.UnsupportedMediaType):
        await client.patch(MC, "MachineConfig", "load-sctp-module", {"spec": {}},
                           patch_type=PatchType.STRATEGIC)  # fmt: skip
    nodes = await client.list("v1", "Node")
    assert {n["metadata"]["name"] for n in nodes.items} >= {"worker-0", "worker-1"}
    await client.delete(MC, "MachineConfig", "load-sctp-module")


async def test_errors_are_sctpctl_types_with_the_library_exception_as_cause(
    client: KubernetesClient,
) -> None:
    with pytest.raises(errors.NotFound) as missing:
        await client.get("v1", "Pod", "nope", namespace="default")
    assert missing.value.message == 'pods "nope" not found'
    assert type(missing.value.__cause__).__name__ == "ApiException"
    await client.create(pod("twice", "default"))
    with pytest.raises(errors.AlreadyExists):
        await client.create(pod("twice", "default"))
    with pytest.raises(errors.Invalid) as invalid:
        await client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
                             "spec": {}}, namespace="default")  # fmt: skip
    assert invalid.value.causes[0]["field"] == "spec.containers"
    current = await client.get("v1", "Pod", "twice", namespace="default")
    await client.patch("v1", "Pod", "twice", {"metadata": {"labels": {"a": "b"}}},
                       namespace="default")  # fmt: skip
    with pytest.raises(errors.Conflict):
        await client.replace(current)
    with pytest.raises(errors.NotFound):
        await client.resource("v1", "Unicorn")


async def test_strategic_and_json_patches(client: KubernetesClient) -> None:
    await client.create(pod("patched", "default"))
    out = await client.patch(
        "v1", "Pod", "patched",
        {"spec": {"containers": [{"name": "main", "image": "ubi9-minimal"}]}},
        namespace="default", patch_type=PatchType.STRATEGIC,
    )  # fmt: skip
    assert out["spec"]["containers"][0]["command"] == ["sleep", "inf"]
    assert out["spec"]["containers"][0]["image"] == "ubi9-minimal"
    out = await client.patch(
        "v1", "Pod", "patched", [{"op": "add", "path": "/metadata/labels", "value": {"j": "1"}}],
        namespace="default", patch_type=PatchType.JSON,
    )  # fmt: skip
    assert out["metadata"]["labels"] == {"j": "1"}


async def test_a_wrong_token_is_unauthorized(lab: LabThread, tmp_path: Path) -> None:
    text = lab.state.kubeconfig.read_text().replace(lab.state.token(), "not-the-token")
    (tmp_path / "kubeconfig").write_text(text)
    async with await connect(str(tmp_path / "kubeconfig")) as wrong:
        with pytest.raises(errors.Unauthorized):
            await wrong.list("v1", "Node")


async def test_kubeconfig_selection_honours_kubeconfig_and_context(
    lab: LabThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{lab.state.kubeconfig}")
    assert kubeconfig_paths(None)[1] == lab.state.kubeconfig
    async with await connect(context="sctpctl-lab") as by_env:
        assert (await by_env.get("v1", "Namespace", "default"))["metadata"]["name"] == "default"
    with pytest.raises(errors.ConfigError):
        await connect(context="no-such-context")
    with pytest.raises(errors.ConfigError):
        await connect(str(tmp_path / "absent"))


async def test_an_unreachable_server(tmp_path: Path, lab: LabThread) -> None:
    text = lab.state.kubeconfig.read_text().replace(lab.server.url, "https://127.0.0.1:1")
    (tmp_path / "kubeconfig").write_text(text)
    async with await connect(str(tmp_path / "kubeconfig")) as down:
        with pytest.raises(errors.ClusterUnreachable):
            await down.list("v1", "Node")
