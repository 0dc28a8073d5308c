"""A DaemonSet that enables SCTP on clusters without a MachineConfig operator.

What the MachineConfig does on OpenShift, done from a privileged pod on every selected node:

1. persist: write ``/etc/modules-load.d/sctp.conf`` (``sctp``), so systemd-modules-load loads the
   module at every boot;
2. unblock: comment out ``blacklist sctp`` and ``install sctp ...`` lines in
   ``/etc/modprobe.d/*.conf`` (an ``install`` line that still runs
   ``modprobe --ignore-install`` loads the module and is kept), since systemd-modules-load honours
   blacklists;
3. load now: ``modprobe sctp`` with the host's own modprobe (entered through the host's mount
   namespace, so the image needs no kmod), unless ``/sys/module/sctp`` exists already; a kernel
   without the module (``/lib/modules/$(uname -r)`` has no ``sctp.ko*``) is reported as such;
4. stay: the pod is Ready while ``/sys/module/sctp/initstate`` reads ``live``.

The host directories are mounted under ``/host`` (never over the container's own ``/etc``), so the
script sees exactly which host files it changes. It needs a POSIX shell, grep, sed, find, uname,
nsenter (util-linux or busybox) and sleep: the sctpctl image (Debian slim) has them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sctpctl.manifests.verification import DEFAULT_IMAGE, check_dns_label
from sctpctl.netpol.selectors import Selector, SelectorError

DEFAULT_NAME = "sctp-module-loader"
DEFAULT_NAMESPACE = "kube-system"
DEFAULT_NODE_SELECTOR: Mapping[str, str] = {"kubernetes.io/os": "linux"}
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
CONTAINER = "load-sctp"

READINESS_COMMAND = ("grep", "-qx", "live", "/sys/module/sctp/initstate")
"Ready when the kernel reports the module live (1.1 of the reference: a passive check)."

HOST_MOUNTS: tuple[tuple[str, str, str, bool], ...] = (
    # (volume name, host path, hostPath type, read-only)
    ("modprobe-d", "/etc/modprobe.d", "DirectoryOrCreate", False),
    ("modules-load-d", "/etc/modules-load.d", "DirectoryOrCreate", False),
    ("lib-modules", "/lib/modules", "Directory", True),
)
HOST_ROOT = "/host"

SCRIPT = r"""set -eu
# leave on TERM: as PID 1 the shell gets no signal it has no handler for
trap 'exit 0' TERM INT
etc=/host/etc
# 1. persist: systemd-modules-load loads what modules-load.d lists, at every boot
conf="$etc/modules-load.d/sctp.conf"
if ! grep -qsx sctp "$conf"; then
  printf 'sctp\n' > "$conf.tmp" && mv "$conf.tmp" "$conf"
  echo "wrote $conf"
fi
# 2. unblock: a blacklist (or an install command that loads nothing) stops it at boot and on demand
blocking='^[[:space:]]*(blacklist|install)[[:space:]]+sctp([[:space:]]|$)'
for f in "$etc"/modprobe.d/*.conf; do
  [ -f "$f" ] || continue
  if grep -E "$blocking" "$f" | grep -qv -e --ignore-install; then
    sed -i -E "/--ignore-install/!s/($blocking)/# disabled by sctpctl: \\1/" "$f"
    echo "unblocked sctp in $f"
  fi
done
# 3. load now, with the host's modprobe (hostPID: pid 1 is the host's init)
if [ ! -e /sys/module/sctp ]; then
  kver=$(uname -r)
  if [ -z "$(find "/host/lib/modules/$kver" -name 'sctp.ko*' 2>/dev/null)" ]; then
    echo "this kernel ($kver) has no sctp module: SCTP cannot be enabled on this node" >&2
    exit 1
  fi
  nsenter --target 1 --mount -- modprobe sctp
fi
echo "sctp: $(cat /sys/module/sctp/initstate 2>/dev/null || echo present)"
# 4. stay while the readiness probe watches /sys/module/sctp/initstate; short foreground sleeps
#    let the TERM handler run within a second and leave no background process behind
while :; do sleep 1; done
"""


class Tolerate(StrEnum):
    """Which tainted nodes the DaemonSet may also run on."""

    NONE = "none"
    "Only untainted nodes (usually the workers)."
    CONTROL_PLANE = "control-plane"
    "Also control-plane nodes (their NoSchedule taints)."
    ALL = "all"
    "Every node, whatever its taints."


_TOLERATIONS: Mapping[Tolerate, list[dict[str, str]]] = {
    Tolerate.NONE: [],
    Tolerate.CONTROL_PLANE: [
        {
            "key": "node-role.kubernetes.io/control-plane",
            "operator": "Exists",
            "effect": "NoSchedule",
        },
        {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
    ],
    Tolerate.ALL: [{"operator": "Exists"}],
}


def render_daemonset(
    *,
    image: str = DEFAULT_IMAGE,
    name: str = DEFAULT_NAME,
    namespace: str = DEFAULT_NAMESPACE,
    node_selector: Mapping[str, str] | None = None,
    tolerate: Tolerate | str = Tolerate.NONE,
) -> dict[str, Any]:
    """The DaemonSet; raises ``ValueError`` for a bad name, namespace or node selector."""
    check_dns_label(namespace)
    check_dns_label(name, "name")  # it becomes part of pod names: the same rules apply
    if not image:
        raise ValueError("the image must not be empty")
    selector = dict(DEFAULT_NODE_SELECTOR if node_selector is None else node_selector)
    try:
        Selector.from_match_labels(selector)
    except SelectorError as error:
        raise ValueError(f"node selector: {error}") from error
    labels = {NAME_LABEL: name, MANAGED_BY_LABEL: "sctpctl"}
    pod_spec: dict[str, Any] = {
        "hostPID": True,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 5,
    }
    if selector:
        pod_spec["nodeSelector"] = selector
    tolerations = _TOLERATIONS[Tolerate(tolerate)]
    if tolerations:
        pod_spec["tolerations"] = [dict(t) for t in tolerations]
    pod_spec["containers"] = [
        {
            "name": CONTAINER,
            "image": image,
            "command": ["/bin/sh", "-c", SCRIPT],
            "securityContext": {"privileged": True},
            "readinessProbe": {
                "exec": {"command": list(READINESS_COMMAND)},
                "periodSeconds": 10,
            },
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            "volumeMounts": [
                {"name": volume, "mountPath": HOST_ROOT + path, "readOnly": read_only}
                for volume, path, _, read_only in HOST_MOUNTS
            ],
        }
    ]
    pod_spec["volumes"] = [
        {"name": volume, "hostPath": {"path": path, "type": kind}}
        for volume, path, kind, _ in HOST_MOUNTS
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": {NAME_LABEL: name}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
        },
    }
