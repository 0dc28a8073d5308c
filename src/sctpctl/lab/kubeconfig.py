"""The kubeconfig of a lab: one cluster, one user (the bearer token), one context."""

from __future__ import annotations

import base64
from typing import Any

import yaml

from sctpctl.lab.state import LabState, write_private

CONTEXT = "sctpctl-lab"


def render(server: str, ca_pem: bytes, token: str, *, name: str = CONTEXT) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"},
            }
        ],
        "current-context": name,
        "preferences": {},
    }


def write(state: LabState, server: str) -> None:
    """Write the lab's kubeconfig (mode 0600) for ``server`` (``https://127.0.0.1:<port>``)."""
    config = render(server, state.ca_certificate.read_bytes(), state.token())
    text = yaml.dump(config, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)
    write_private(state.kubeconfig, text.encode())
