"""Links, addresses, routes and sysctls inside network namespaces, in batches.

The lab plans its network as data (which veth joins which namespaces, which address and route goes
where) and hands it here; this module turns it into as few ``ip -batch`` runs as possible, one per
namespace, so building a node or a pod costs a handful of processes, not dozens. Nothing here ever
touches the root namespace: every command names a namespace, and a veth is created with both of
its ends already in their namespaces.

Per-namespace sysctls (``net.*``) are written through ``/proc/sys`` from a thread that entered the
namespace: the kernel resolves ``/proc/sys/net`` against the opener's network namespace, so no
``sysctl`` process is needed per setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sctpctl.host.commands import HostError, ip_batch, run
from sctpctl.host.netns import call_in_netns

MAX_IFNAME = 15
"Linux interface names are at most 15 bytes (IFNAMSIZ - 1)."


@dataclass(frozen=True, slots=True)
class Veth:
    """A veth pair whose ends live in two namespaces (created there directly)."""

    netns_a: str
    name_a: str
    netns_b: str
    name_b: str

    def __post_init__(self) -> None:
        for name in (self.name_a, self.name_b):
            if not name or len(name) > MAX_IFNAME:
                raise ValueError(f"interface name {name!r} must have 1 to {MAX_IFNAME} characters")


def create_veth(veth: Veth) -> None:
    """``ip link add A netns X type veth peer name B netns Y``, run for namespace X so that the
    root namespace never holds either end, even for a moment."""
    ip_batch(
        [
            f"link add {veth.name_a} type veth peer name {veth.name_b} netns {veth.netns_b}",
        ],
        netns=veth.netns_a,
    )


def configure(netns: str, lines: Sequence[str]) -> None:
    """Run ``ip`` commands (without the leading ``ip``) inside ``netns`` in one batch."""
    ip_batch(list(lines), netns=netns)


def delete_link(netns: str, name: str) -> None:
    """Delete a link (a veth takes its peer with it); a missing one is fine."""
    run(["ip", "-n", netns, "link", "del", name], check=False)


def set_sysctls(netns: str, settings: Mapping[str, str]) -> None:
    """Write ``net.*`` sysctls inside ``netns`` (``net.ipv4.ip_forward`` -> ``1``)."""

    def write() -> None:
        for key, value in settings.items():
            if not key.startswith("net."):
                raise HostError(f"{key} is not a per-namespace (net.*) sysctl")
            path = Path("/proc/sys") / key.replace(".", "/")
            try:
                path.write_text(f"{value}\n")
            except OSError as error:
                raise HostError(f"cannot set {key}={value} in {netns}: {error}") from error

    call_in_netns(netns, write)
