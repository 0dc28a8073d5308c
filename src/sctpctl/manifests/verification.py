"""The objects of the documented verification, with sctpctl's own tools in place of ``nc``.

The procedure (reference section 2.3) creates a server pod ``sctpserver`` (label
``app: sctpserver``, SCTP container port 30102 named ``sctpserver``), a NodePort Service
``sctpservice`` selecting it, and a client pod ``sctpclient``; then a person installs ``nc`` with
``dnf`` in both pods, which needs internet access from the cluster. Here the server runs
``sctpctl listen PORT --echo --keep-open`` from the start, and the client idles with
``sleep infinity`` (coreutils, present in any Debian-based image such as python:3.11-slim) so one
can ``kubectl exec sctpclient -- sctpctl connect <clusterIP>:PORT``. Both come from one image,
:data:`DEFAULT_IMAGE`, that holds sctpctl.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sctpctl import __version__

DEFAULT_IMAGE = f"quay.io/sctpctl/sctpctl:v{__version__}"
"The image with sctpctl's listener and client; built from the project's Containerfile."
DEFAULT_PORT = 30102
SERVER = "sctpserver"
SERVICE = "sctpservice"
CLIENT = "sctpclient"
APP_LABEL = "app"

IDLE_COMMAND = ("sleep", "infinity")
"Keeps the client pod running without a shell script."
GRACE_SECONDS = 1
"""A container's main process is PID 1 of its namespace, and the kernel delivers no signal to PID
1 for which it has no handler: ``sleep`` (and ``sctpctl`` without one) would sit out the default
30 s grace period on every delete. There is nothing to flush, so deletion may be quick."""


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_dns_label(value: str | None, what: str = "namespace") -> None:
    """Raise ``ValueError`` unless ``value`` is ``None`` or a DNS label (namespace names, and
    names that become part of pod names)."""
    if value is not None and not _DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name (lower-case letters, digits and '-', "
            "at most 63 characters)"
        )


def server_args(port: int) -> list[str]:
    return ["listen", str(port), "--echo", "--keep-open"]


def client_connect_command(cluster_ip: str, port: int = DEFAULT_PORT) -> list[str]:
    """What to run in the client pod to reach the server through the Service."""
    return ["sctpctl", "connect", f"{cluster_ip}:{port}"]


def verification_objects(
    *,
    image: str = DEFAULT_IMAGE,
    port: int = DEFAULT_PORT,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The server pod, the NodePort Service and the client pod, in the order to create them.

    ``labels`` are added to every object (a verification run marks its objects with its id);
    the selector stays ``app: sctpserver``.
    """
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    if not image:
        raise ValueError("the image must not be empty")
    check_dns_label(namespace)
    extra = dict(labels or {})
    server = _pod(
        SERVER,
        namespace,
        {APP_LABEL: SERVER, **extra},
        {
            "name": SERVER,
            "image": image,
            "command": ["sctpctl"],
            "args": server_args(port),
            "ports": [{"containerPort": port, "name": SERVER, "protocol": "SCTP"}],
        },
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(SERVICE, namespace, {APP_LABEL: SERVER, **extra}),
        "spec": {
            "type": "NodePort",
            "selector": {APP_LABEL: SERVER},
            "ports": [{"name": SERVER, "protocol": "SCTP", "port": port, "targetPort": port}],
        },
    }
    client = _pod(
        CLIENT,
        namespace,
        {APP_LABEL: CLIENT, **extra},
        {"name": CLIENT, "image": image, "command": list(IDLE_COMMAND)},
    )
    return [server, service, client]


def _pod(
    name: str, namespace: str | None, labels: dict[str, str], container: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(name, namespace, labels),
        "spec": {"terminationGracePeriodSeconds": GRACE_SECONDS, "containers": [container]},
    }


def _metadata(name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = labels
    return metadata
