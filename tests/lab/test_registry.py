"""The registry's in-process API, which the lab's controllers use directly: the semantics the
HTTP server inherits (watch, graceful deletion, finalizers, namespace cascade, allocation)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import resource
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import INITIAL_EVENTS_END, Registry, WatchEvent
from sctpctl.lab.store import Store

PODS = resource("pods")
SERVICES = resource("services")
NAMESPACES = resource("namespaces")
CONFIGMAPS = resource("configmaps")


@pytest.fixture
async def registry() -> Registry:
    created = Registry(Store(":memory:"))
    await created.bootstrap()
    return created


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "ubi9"}], **spec}}  # fmt: skip


async def collect(events: Any, count: int) -> list[WatchEvent]:
    found: list[WatchEvent] = []
    async for event in events:
        found.append(event)
        if len(found) == count:
            break
    return found


async def test_watch_from_zero_replays_then_streams_in_order(registry: Registry) -> None:
    await registry.create(PODS, pod("a"), "default")
    watch = registry.watch(PODS, "default", resource_version="0", timeout=2)
    first = await anext(watch)
    assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "a")
    await registry.create(PODS, pod("b"), "default")
    await registry.delete(PODS, "a", "default")
    rest = await collect(watch, 2)
    assert [(e.type, e.object["metadata"]["name"]) for e in rest] == [
        ("ADDED", "b"), ("DELETED", "a"),
    ]  # fmt: skip
    assert rest[0].resource_version < rest[1].resource_version


async def test_watch_selectors_turn_leaving_objects_into_deleted(registry: Registry) -> None:
    await registry.create(PODS, pod("p"), "default")
    listed = await registry.list(PODS, "default")
    watch = registry.watch(
        PODS, "default", resource_version=str(listed.resource_version),
        field_selector="status.phase=Pending", timeout=2,
    )  # fmt: skip
    current = await registry.get(PODS, "p", "default")
    current["status"]["phase"] = "Running"
    await registry.update(PODS, current, "default", subresource="status")
    (event,) = await collect(watch, 1)
    assert event.type == "DELETED" and event.object["status"]["phase"] == "Running"


async def test_send_initial_events_ends_with_the_bookmark(registry: Registry) -> None:
    await registry.create(PODS, pod("a"), "default")
    events = await collect(
        registry.watch(PODS, "default", send_initial_events=True, allow_bookmarks=True, timeout=1),
        2,
    )
    assert [e.type for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1].object["metadata"]["annotations"] == {INITIAL_EVENTS_END: "true"}


async def test_a_version_older_than_the_history_is_gone(registry: Registry) -> None:
    small = Registry(registry.store, history=2)
    for name in "abcd":
        await small.create(CONFIGMAPS, {"metadata": {"name": name}}, "default")
    (event,) = await collect(small.watch(CONFIGMAPS, "default", resource_version="1"), 1)
    assert event.type == "ERROR" and event.object["code"] == 410


async def test_pods_on_a_node_are_deleted_gracefully_by_their_kubelet(registry: Registry) -> None:
    await registry.create(PODS, pod("bound"), "default")
    await registry.bind("default", "bound", "worker-0")
    marked = await registry.delete(PODS, "bound", "default")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    await registry.delete(PODS, "bound", "default", grace_period_seconds=0)  # the kubelet
    with pytest.raises(StatusError) as gone:
        await registry.get(PODS, "bound", "default")
    assert gone.value.code == 404


async def test_finalizers_hold_an_object_until_removed(registry: Registry) -> None:
    await registry.create(
        CONFIGMAPS, {"metadata": {"name": "held", "finalizers": ["lab/hold"]}}, "default"
    )
    held = await registry.delete(CONFIGMAPS, "held", "default")
    assert held["metadata"]["deletionTimestamp"]
    await registry.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}},
                         PatchType.MERGE, "default")  # fmt: skip
    assert not (
        await registry.list(CONFIGMAPS, "default", field_selector="metadata.name=held")
    ).items


async def test_namespace_deletion_waits_for_terminating_pods(registry: Registry) -> None:
    await registry.create(NAMESPACES, {"metadata": {"name": "gone"}})
    await registry.create(PODS, pod("inside"), "gone")
    await registry.bind("gone", "inside", "worker-0")
    await registry.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "gone")
    terminating = await registry.delete(NAMESPACES, "gone")
    assert terminating["status"]["phase"] == "Terminating"
    with pytest.raises(StatusError) as refused:
        await registry.create(CONFIGMAPS, {"metadata": {"name": "late"}}, "gone")
    assert refused.value.code == 403
    assert not (await registry.list(CONFIGMAPS, "gone")).items
    await registry.delete(PODS, "inside", "gone", grace_period_seconds=0)
    with pytest.raises(StatusError):
        await registry.get(NAMESPACES, "gone")


async def test_node_ports_and_cluster_ips_never_collide(registry: Registry) -> None:
    seen_ports: set[int] = set()
    seen_ips: set[str] = set()
    for i in range(5):
        created = await registry.create(
            SERVICES,
            {"metadata": {"name": f"s{i}"}, "spec": {"type": "NodePort", "ports": [
                {"name": "a", "port": 38412, "protocol": "SCTP"},
                {"name": "b", "port": 38412, "protocol": "TCP"}]}},
            "default",
        )  # fmt: skip
        ports = {p["nodePort"] for p in created["spec"]["ports"]}
        assert len(ports) == 2 and not ports & seen_ports
        assert created["spec"]["clusterIP"] not in seen_ips
        seen_ports |= ports
        seen_ips.add(created["spec"]["clusterIP"])
    taken = next(iter(seen_ports))
    with pytest.raises(StatusError) as clash:
        await registry.create(
            SERVICES,
            {"metadata": {"name": "clash"}, "spec": {"type": "NodePort", "ports": [
                {"port": 1, "nodePort": taken}]}},
            "default",
        )  # fmt: skip
    assert clash.value.code == 422 and "provided port is already allocated" in clash.value.message


async def test_updates_keep_status_and_a_status_write_keeps_the_spec(registry: Registry) -> None:
    created = await registry.create(PODS, pod("s"), "default")
    assert created["status"]["phase"] == "Pending"
    body = await registry.get(PODS, "s", "default")
    body["status"] = {"phase": "Failed"}
    body["metadata"]["labels"]["x"] = "y"
    updated = await registry.update(PODS, body, "default")
    assert updated["status"]["phase"] == "Pending" and updated["metadata"]["labels"]["x"] == "y"
    body = await registry.get(PODS, "s", "default")
    body["spec"]["containers"][0]["image"] = "other"
    body["status"]["phase"] = "Running"
    status = await registry.update(PODS, body, "default", subresource="status")
    assert status["status"]["phase"] == "Running"
    assert status["spec"]["containers"][0]["image"] == "ubi9"


async def test_a_write_that_changes_nothing_keeps_the_resource_version(registry: Registry) -> None:
    created = await registry.create(CONFIGMAPS, {"metadata": {"name": "same"}}, "default")
    again = await registry.update(CONFIGMAPS, created, "default")
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_watch_ends_at_its_timeout(registry: Registry) -> None:
    start = asyncio.get_running_loop().time()
    assert (
        await collect(registry.watch(PODS, "default", resource_version="1", timeout=0.3), 9) == []
    )
    assert asyncio.get_running_loop().time() - start < 2


async def test_peeked_objects_are_versions_that_later_writes_never_change(
    registry: Registry,
) -> None:
    await registry.create(PODS, pod("peeked"), "default")
    [before] = registry.peek(PODS, "default")
    snapshot = dict(before["metadata"])
    await registry.patch(
        PODS, "peeked", {"metadata": {"labels": {"app": "changed"}}}, PatchType.MERGE, "default"
    )
    await registry.bind("default", "peeked", "worker-0")
    await registry.delete(PODS, "peeked", "default")  # graceful: marks deletionTimestamp
    assert before["metadata"] == snapshot
    [after] = registry.peek(PODS, "default")
    assert after is not before
    assert after["metadata"]["labels"] == {"app": "changed"}
    assert after["metadata"]["deletionTimestamp"]
