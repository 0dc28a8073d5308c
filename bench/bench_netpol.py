"""NetworkPolicy truth tables: the engine against the brute-force reference of the tests.

Two random but realistic clusters (namespaces with team/env labels, pods with a few labels from
small vocabularies, SCTP and TCP container ports, some named; policies mixing default-deny,
pod and namespace selectors with matchLabels and matchExpressions, ipBlocks with except, numeric
and named ports and endPort ranges, ingress and egress):

- 1,000 pods x 200 policies, one port: target under 1 s, and at least 50x the reference;
- 5,000 pods x 1,000 policies, one port: target under 15 s.

The reference (tests/netpol/netpol_reference.py) needs about a minute per million cells, so it
is timed on a random sample of cells and its full-table time extrapolated from the median
per-cell time; the sampled cells are also checked against the engine's table. ``--full`` runs
the reference over the whole smaller table instead.

Usage: python bench/bench_netpol.py [--runs N] [--sample N] [--full] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "netpol"))

from netpol_reference import Reference, pod_endpoint

from sctpctl.netpol import (
    Connectivity,
    PortProtocol,
    Protocol,
    cluster_from_objects,
    truth_tables,
)
from sctpctl.netpol.compiled import compile_cluster

Obj = dict[str, Any]

PORT = PortProtocol(38412, Protocol.SCTP)
APPS = [f"app{i}" for i in range(20)]
TIERS = ["front", "back", "data"]
VERSIONS = ["v1", "v2", "v3"]
ROLES = ["amf", "smf", "upf", "gnb", "db"]
TEAMS = ["core", "ran", "ops", "edge"]
ENVS = ["prod", "staging", "dev"]
CONTAINER_PORTS = [
    {"name": "n2", "containerPort": 38412, "protocol": "SCTP"},
    {"name": "diameter", "containerPort": 3868, "protocol": "SCTP"},
    {"name": "http", "containerPort": 8080},
    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    {"containerPort": 38412, "protocol": "TCP"},
]


def make_cluster(rng: random.Random, pods: int, policies: int) -> list[Obj]:
    namespaces = [f"ns{i}" for i in range(max(2, pods // 50))]
    objects: list[Obj] = []
    for name in namespaces:
        labels = {"team": rng.choice(TEAMS), "env": rng.choice(ENVS)}
        objects.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        )
    for i in range(pods):
        labels = {"app": rng.choice(APPS), "tier": rng.choice(TIERS)}
        if rng.random() < 0.5:
            labels["version"] = rng.choice(VERSIONS)
        if rng.random() < 0.5:
            labels["role"] = rng.choice(ROLES)
        ports = rng.sample(CONTAINER_PORTS, rng.randint(0, 3))
        ips = [f"10.{128 + i // 65536}.{i // 256 % 256}.{i % 256}"]
        if rng.random() < 0.3:
            ips.append(f"fd00:10:128::{i:x}")
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"pod{i}",
                    "namespace": rng.choice(namespaces),
                    "labels": labels,
                },
                "spec": {"containers": [{"name": "main", "ports": ports}]},
                "status": {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]},
            }
        )
    for i in range(policies):
        objects.append(make_policy(rng, f"np{i}", rng.choice(namespaces)))
    return objects


def pod_selector(rng: random.Random) -> Obj:
    roll = rng.random()
    if roll < 0.2:
        return {}
    if roll < 0.7:
        return {"matchLabels": {"app": rng.choice(APPS)}}
    if roll < 0.85:
        return {"matchLabels": {"role": rng.choice(ROLES), "tier": rng.choice(TIERS)}}
    return {
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": rng.sample(TIERS, 2)},
            rng.choice(
                [
                    {"key": "version", "operator": "NotIn", "values": ["v1"]},
                    {"key": "version", "operator": "Exists"},
                    {"key": "role", "operator": "DoesNotExist"},
                ]
            ),
        ]
    }


def namespace_selector(rng: random.Random) -> Obj:
    roll = rng.random()
    if roll < 0.1:
        return {}
    if roll < 0.7:
        return {"matchLabels": {"team": rng.choice(TEAMS)}}
    return {"matchExpressions": [{"key": "env", "operator": "In", "values": rng.sample(ENVS, 2)}]}


def peer(rng: random.Random) -> Obj:
    roll = rng.random()
    if roll < 0.35:
        return {"podSelector": pod_selector(rng)}
    if roll < 0.6:
        return {"namespaceSelector": namespace_selector(rng)}
    if roll < 0.85:
        return {"namespaceSelector": namespace_selector(rng), "podSelector": pod_selector(rng)}
    if rng.random() < 0.7:
        third = rng.randrange(128, 132)
        return {
            "ipBlock": {
                "cidr": f"10.{third}.0.0/16",
                "except": [f"10.{third}.{rng.randrange(256)}.0/24"],
            }
        }
    return {"ipBlock": {"cidr": "fd00:10:128::/64", "except": ["fd00:10:128::/120"]}}


def ports(rng: random.Random) -> list[Obj]:
    choices: list[Obj] = [
        {"protocol": "SCTP", "port": 38412},
        {"protocol": "SCTP", "port": "n2"},
        {"protocol": "SCTP", "port": 38400, "endPort": 38420},
        {"protocol": "SCTP", "port": "diameter"},
        {"port": 8080},
        {"protocol": "TCP", "port": "metrics"},
        {"protocol": "SCTP"},
        {"protocol": "UDP", "port": 53},
    ]
    return rng.sample(choices, rng.randint(1, 3))


def make_policy(rng: random.Random, name: str, namespace: str) -> Obj:
    spec: Obj = {"podSelector": pod_selector(rng)}
    roll = rng.random()
    if roll < 0.1:  # default deny
        spec["policyTypes"] = ["Ingress"] if rng.random() < 0.7 else ["Ingress", "Egress"]
    else:
        for key, peers_key in (("ingress", "from"), ("egress", "to")):
            if key == "egress" and rng.random() < 0.7:
                continue
            rules = []
            for _ in range(rng.randint(1, 3)):
                rule: Obj = {}
                if rng.random() < 0.85:
                    rule[peers_key] = [peer(rng) for _ in range(rng.randint(1, 3))]
                if rng.random() < 0.8:
                    rule["ports"] = ports(rng)
                rules.append(rule)
            spec[key] = rules
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def median_time(runs: int, action: Any) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", type=int, default=20000, help="reference cells to time")
    parser.add_argument("--full", action="store_true", help="run the reference on every cell")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    print(f"== 1,000 pods x 200 policies, {PORT} (median of {args.runs} runs)")
    objects = make_cluster(rng, 1000, 200)
    parse_time, cluster = median_time(args.runs, lambda: cluster_from_objects(objects))
    engine_time, tables = median_time(args.runs, lambda: truth_tables(cluster, [PORT]))
    (table,) = tables
    counts = table.counts()
    compile_time, _ = median_time(args.runs, lambda: compile_cluster(cluster))
    print(f"parse objects:          {parse_time:8.3f} s")
    print(f"engine truth table:     {engine_time:8.3f} s  (target < 1 s)")
    print(f"  with parsing:         {engine_time + parse_time:8.3f} s")
    print(f"  allowed cells:        {counts[Connectivity.ALLOWED]:8d} of {len(table.sources) ** 2}")
    print(f"compile per pod:        {compile_time:8.3f} s")

    reference = Reference(objects)
    pods = [o for o in objects if o["kind"] == "Pod"]
    index = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": i for i, p in enumerate(pods)}
    order = [pods[index[name]] for name in table.sources]
    endpoints = [pod_endpoint(p, 4) for p in order]
    n = len(order)
    if args.full:
        cells = [(i, j) for i in range(n) for j in range(n)]
    else:
        cells = [(rng.randrange(n), rng.randrange(n)) for _ in range(args.sample)]
    per_cell = []
    total = 0.0
    chunk = max(1, len(cells) // 20)
    for start in range(0, len(cells), chunk):
        group = cells[start : start + chunk]
        begin = time.perf_counter()
        answers = [
            reference.allowed(endpoints[i], endpoints[j], PORT.protocol.value, PORT.port)
            for i, j in group
        ]
        spent = time.perf_counter() - begin
        total += spent
        per_cell.append(spent / len(group))
        for (i, j), answer in zip(group, answers, strict=True):
            if (table.rows[i][j] == ".") is not answer:
                raise SystemExit(f"engine and reference disagree on {order[i]} -> {order[j]}")
    if args.full:
        reference_time, how = total, "measured over every cell"
    else:
        reference_time = statistics.median(per_cell) * n * n
        how = f"extrapolated from the median of {len(cells)} sampled cells"
    print(f"reference truth table:  {reference_time:8.3f} s  ({how}; they agree)")
    print(f"speed-up:               {reference_time / engine_time:8.1f}x  (target >= 50x)")
    print(f"  with parsing:         {reference_time / (engine_time + parse_time):8.1f}x")

    print(f"== 5,000 pods x 1,000 policies, {PORT} (median of {max(1, args.runs // 2)} runs)")
    objects = make_cluster(rng, 5000, 1000)
    parse_time, cluster = median_time(max(1, args.runs // 2), lambda: cluster_from_objects(objects))
    engine_time, _ = median_time(max(1, args.runs // 2), lambda: truth_tables(cluster, [PORT]))
    compile_time, _ = median_time(max(1, args.runs // 2), lambda: compile_cluster(cluster))
    print(f"parse objects:          {parse_time:8.3f} s")
    print(f"engine truth table:     {engine_time:8.3f} s  (target < 15 s)")
    print(f"  with parsing:         {engine_time + parse_time:8.3f} s")
    print(f"compile per pod:        {compile_time:8.3f} s")


if __name__ == "__main__":
    main()
