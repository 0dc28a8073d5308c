"""The NetworkPolicies of the policy checks, all in the run's ``policy`` namespace.

Each set is what one upstream test or the procedure applies (reference sections 2.1 and 5.3):
the procedure's own ``allow-sctp-on-http``; ``default-deny-ingress``; a port allowed from one
namespace only (upstream "should enforce policy based on Ports"); a port range that leaves the
probed port out (cnf-tests' "policy no port"); namespace and pod selectors in one peer (upstream
"... based on PodSelector and NamespaceSelector"); and an SCTP-only allow that must still isolate
TCP (upstream "should properly isolate pods that are selected by a policy allowing SCTP").
What each one allows is not written here: the NetworkPolicy engine computes it from the live
objects, and the observed traffic is compared with that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sctpctl.k8s.client import Obj
from sctpctl.manifests.verification import APP_LABEL, CLIENT
from sctpctl.verify.context import LABEL, ROLE_LABEL, RunContext

PolicySet = Callable[[RunContext], list[Obj]]
"The NetworkPolicies one check applies, made for the run."

API_VERSION = "networking.k8s.io/v1"
WEB_SELECTOR = {"matchLabels": {"role": "web"}}


def _policy(ctx: RunContext, name: str, spec: Mapping[str, Any]) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": ctx.policy_namespace,
            "labels": {LABEL: ctx.run_id},
        },
        "spec": dict(spec),
    }


def _main_namespace() -> dict[str, Any]:
    return {"matchLabels": {ROLE_LABEL: "main"}}


def allow_sctp_on_http(ctx: RunContext) -> list[Obj]:
    """The procedure's example, as published: SCTP port 80 to ``role: web`` pods, from anyone."""
    return [
        _policy(
            ctx,
            "allow-sctp-on-http",
            {
                "podSelector": WEB_SELECTOR,
                "ingress": [{"ports": [{"protocol": "SCTP", "port": 80}]}],
            },
        )
    ]


def default_deny_ingress(ctx: RunContext) -> list[Obj]:
    return [_policy(ctx, "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})]


def allow_port_from_namespace(ctx: RunContext) -> list[Obj]:
    """SCTP 81 only, and only from the main namespace."""
    rule = {
        "from": [{"namespaceSelector": _main_namespace()}],
        "ports": [{"protocol": "SCTP", "port": 81}],
    }
    return [
        _policy(ctx, "allow-sctp-81-from-main", {"podSelector": WEB_SELECTOR, "ingress": [rule]})
    ]


def allow_other_ports(ctx: RunContext) -> list[Obj]:
    """SCTP 81-82 from anyone: port 80 is left out, so it is denied."""
    rule = {"ports": [{"protocol": "SCTP", "port": 81, "endPort": 82}]}
    return [_policy(ctx, "allow-sctp-81-82", {"podSelector": WEB_SELECTOR, "ingress": [rule]})]


def allow_clients_of_main(ctx: RunContext) -> list[Obj]:
    """SCTP 80 from pods labelled like the procedure's client, in the main namespace only (one
    peer with both selectors: AND)."""
    rule = {
        "from": [
            {
                "namespaceSelector": _main_namespace(),
                "podSelector": {"matchLabels": {APP_LABEL: CLIENT}},
            }
        ],
        "ports": [{"protocol": "SCTP", "port": 80}],
    }
    return [
        _policy(ctx, "allow-clients-from-main", {"podSelector": WEB_SELECTOR, "ingress": [rule]})
    ]


def allow_sctp_only(ctx: RunContext) -> list[Obj]:
    """SCTP 80 and 81 from anyone, nothing else: TCP 81 must be isolated."""
    rule = {"ports": [{"protocol": "SCTP", "port": 80}, {"protocol": "SCTP", "port": 81}]}
    return [_policy(ctx, "allow-sctp-only", {"podSelector": WEB_SELECTOR, "ingress": [rule]})]


def no_policy(_ctx: RunContext) -> list[Obj]:
    return []
