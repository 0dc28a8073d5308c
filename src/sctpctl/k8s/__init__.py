"""The only code that talks to a Kubernetes API: a small client interface and its error types."""

from __future__ import annotations

import importlib

from sctpctl.k8s.client import Client


async def connect(kubeconfig: str | None = None, context: str | None = None) -> Client:
    """A client for the cluster of ``context`` in the kubeconfig kubectl would use (see
    :func:`sctpctl.k8s.adapter.connect`).

    The adapter, and kubernetes-asyncio with it, is loaded on the first call: importing that
    library takes a few hundred milliseconds, which commands that never reach a cluster
    (``render``, ``lint``, the tools run inside pods) should not pay on every start.
    """
    adapter = importlib.import_module("sctpctl.k8s.adapter")
    client: Client = await adapter.connect(kubeconfig, context)
    return client
