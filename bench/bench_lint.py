"""How long ``sctpctl lint`` takes on a large input, against its floor: parsing the same YAML.

The input is generated: Deployments that serve SCTP and TCP, NodePort Services with named SCTP
target ports, and SCTP-only NetworkPolicies over the same pods (the relations lint checks across
objects). The peer is PyYAML's C loader reading the same text, which lint has to do anyway; the
ratio says how much the checks and the position bookkeeping add. Two sizes show how it grows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml

from sctpctl.manifests.lint import lint_documents
from sctpctl.manifests.loader import load_text

ROUNDS = 5


def generate(deployments: int) -> str:
    docs: list[dict[str, Any]] = []
    apps = max(1, deployments // 10)
    for i in range(deployments):
        app = f"app{i % apps}"
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"d{i}", "namespace": "core"},
                "spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "template": {
                        "metadata": {"labels": {"app": app}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "c",
                                    "image": "example",
                                    "ports": [
                                        {
                                            "containerPort": 30000 + i,
                                            "name": "sctp",
                                            "protocol": "SCTP",
                                        },
                                        {"containerPort": 8080, "name": "http"},
                                    ],
                                }
                            ]
                        },
                    },
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"s{i}", "namespace": "core"},
                "spec": {
                    "type": "NodePort",
                    "selector": {"app": app},
                    "ports": [
                        {
                            "name": "sctp",
                            "protocol": "SCTP",
                            "port": 30000 + i,
                            "targetPort": "sctp",
                        }
                    ],
                },
            }
        )
    for i in range(deployments * 2 // 5):
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"p{i}", "namespace": "core"},
                "spec": {
                    "podSelector": {"matchLabels": {"app": f"app{i % apps}"}},
                    "ingress": [{"ports": [{"protocol": "SCTP", "port": 30000 + i}]}],
                },
            }
        )
    dumped: str = yaml.safe_dump_all(docs, sort_keys=False)
    return dumped


def median_seconds(work: Callable[[], object]) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    for deployments in (250, 1000):
        text = generate(deployments)
        objects = len(load_text(text))
        parse = median_seconds(lambda t=text: list(yaml.load_all(t, Loader=yaml.CSafeLoader)))  # type: ignore[misc]
        lint = median_seconds(lambda t=text: lint_documents(load_text(t, "bench.yaml")))  # type: ignore[misc]
        print(
            f"{objects:5d} objects: lint {lint * 1000:7.1f} ms  "
            f"({objects / lint:7.0f} objects/s); yaml CSafeLoader {parse * 1000:6.1f} ms; "
            f"ratio lint/parse {lint / parse:4.1f}"
        )


if __name__ == "__main__":
    main()
