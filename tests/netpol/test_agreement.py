"""The engine, its truth tables and the brute-force reference agree on random clusters."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sctpctl.netpol import (
    Endpoint,
    PortProtocol,
    Protocol,
    TableView,
    Traffic,
    cluster_from_objects,
    evaluate,
    truth_tables,
)
from sctpctl.netpol.compiled import compile_cluster
from sctpctl.netpol.model import Cluster, ObjectRef
from tests.netpol.netpol_reference import Reference, pod_endpoint
from tests.netpol.netpol_strategies import PORTS, PROTOCOLS, clusters, endpoints

Obj = dict[str, Any]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def engine_endpoint(cluster: Cluster, pod: Obj | None, address: str | None) -> Endpoint:
    found = None
    if pod is not None:
        metadata = pod["metadata"]
        found = cluster.pod(ObjectRef(metadata["namespace"], metadata["name"]))
        assert found is not None
    return Endpoint(found, ip_address(address) if address else None)


@SETTINGS
@given(data=st.data(), objects=clusters())
def test_evaluate_agrees_with_the_reference(data: st.DataObject, objects: list[Obj]) -> None:
    cluster = cluster_from_objects(objects)
    reference = Reference(objects)
    for _ in range(8):
        src_pod, src_ip = data.draw(endpoints(objects))
        dst_pod, dst_ip = data.draw(endpoints(objects))
        protocol = data.draw(st.sampled_from(PROTOCOLS))
        port = data.draw(st.sampled_from(PORTS))
        traffic = Traffic(
            engine_endpoint(cluster, src_pod, src_ip),
            engine_endpoint(cluster, dst_pod, dst_ip),
            Protocol(protocol),
            port,
        )
        verdict = evaluate(cluster, traffic)
        expected = reference.allowed(
            {"pod": src_pod, "ip": src_ip}, {"pod": dst_pod, "ip": dst_ip}, protocol, port
        )
        assert verdict.allowed is expected, traffic
        # The parts agree too, and an allowance names a rule when the side is isolated.
        source, destination = {"pod": src_pod, "ip": src_ip}, {"pod": dst_pod, "ip": dst_ip}
        assert verdict.egress.allowed is reference.direction_allowed(
            "Egress", source, destination, destination, protocol, port
        )
        assert verdict.ingress.allowed is reference.direction_allowed(
            "Ingress", destination, source, destination, protocol, port
        )
        for part in (verdict.egress, verdict.ingress):
            if part.isolated and part.allowed:
                assert part.allowed_by


@SETTINGS
@given(
    objects=clusters(),
    family=st.sampled_from((4, 6)),
    protocol=st.sampled_from(PROTOCOLS),
    port=st.sampled_from(PORTS),
)
def test_truth_tables_agree_with_the_reference(
    objects: list[Obj], family: int, protocol: str, port: int
) -> None:
    cluster = cluster_from_objects(objects)
    reference = Reference(objects)
    combined, ingress, egress = truth_tables(
        cluster,
        [PortProtocol(port, Protocol(protocol))],
        family=family,
        views=(TableView.COMBINED, TableView.INGRESS, TableView.EGRESS),
    )
    by_name = {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}": p
        for p in objects
        if p["kind"] == "Pod"
    }
    for i, source_name in enumerate(combined.sources):
        source = pod_endpoint(by_name[source_name], family)
        for j, destination_name in enumerate(combined.destinations):
            destination = pod_endpoint(by_name[destination_name], family)
            egress_ok = reference.direction_allowed(
                "Egress", source, destination, destination, protocol, port
            )
            ingress_ok = reference.direction_allowed(
                "Ingress", destination, source, destination, protocol, port
            )
            cell = (source_name, destination_name)
            assert (egress.rows[i][j] == ".") is egress_ok, ("egress", cell)
            assert (ingress.rows[i][j] == ".") is ingress_ok, ("ingress", cell)
            assert (combined.rows[i][j] == ".") is (egress_ok and ingress_ok), cell


@SETTINGS
@given(data=st.data(), objects=clusters(every_pod_addressed=True))
def test_compiled_rules_agree_with_evaluate(data: st.DataObject, objects: list[Obj]) -> None:
    """Matching by address alone, as a packet filter does, gives the engine's verdicts."""
    cluster = cluster_from_objects(objects)
    compiled = {c.pod: c for c in compile_cluster(cluster)}
    for _ in range(8):
        src_pod, src_ip = data.draw(endpoints(objects))
        dst_pod, dst_ip = data.draw(endpoints(objects))
        assert src_ip is not None and dst_ip is not None
        protocol = Protocol(data.draw(st.sampled_from(PROTOCOLS)))
        port = data.draw(st.sampled_from(PORTS))
        source = engine_endpoint(cluster, src_pod, src_ip)
        destination = engine_endpoint(cluster, dst_pod, dst_ip)
        verdict = evaluate(cluster, Traffic(source, destination, protocol, port))
        assert source.address is not None and destination.address is not None
        egress = ingress = True
        if source.policed_pod is not None:
            rules = compiled[source.policed_pod.ref].egress
            egress = rules.admits(destination.address, protocol, port)
            assert rules.isolated is verdict.egress.isolated
        if destination.policed_pod is not None:
            rules = compiled[destination.policed_pod.ref].ingress
            ingress = rules.admits(source.address, protocol, port)
            assert rules.isolated is verdict.ingress.isolated
        assert (egress, ingress) == (verdict.egress.allowed, verdict.ingress.allowed)
