"""``sctpctl render``: print the objects of the procedure, ready for ``oc create -f -``.

Output is YAML by default (several objects as several documents) and byte-for-byte the same on
every run for the same flags; ``-o json`` prints one object, or a ``v1 List`` of several.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from sctpctl.cli.output import (
    OutputFormat,
    dump_json,
    dump_yaml,
    dump_yaml_all,
    make_console,
    output_option,
)
from sctpctl.manifests.daemonset import (
    DEFAULT_NAME as DAEMONSET_NAME,
)
from sctpctl.manifests.daemonset import (
    DEFAULT_NAMESPACE as DAEMONSET_NAMESPACE,
)
from sctpctl.manifests.daemonset import (
    DEFAULT_NODE_SELECTOR,
    Tolerate,
    render_daemonset,
)
from sctpctl.manifests.verification import (
    CLIENT,
    DEFAULT_IMAGE,
    DEFAULT_PORT,
    SERVICE,
    client_connect_command,
    verification_objects,
)
from sctpctl.node.machineconfig import (
    DEFAULT_IGNITION,
    DEFAULT_NAME,
    DEFAULT_ROLE,
    RENDERABLE_VERSIONS,
    render_sctp_machineconfig,
)

_formats = output_option(OutputFormat.YAML, OutputFormat.JSON, default=OutputFormat.YAML)


@click.group()
def render() -> None:
    """Print the MachineConfig, the verification objects or the node DaemonSet for SCTP."""


@render.command()
@click.option("--role", default=DEFAULT_ROLE, show_default=True, help="Pool role label.")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="MachineConfig name.")
@click.option(
    "--ignition",
    type=click.Choice([v.value for v in RENDERABLE_VERSIONS]),
    default=DEFAULT_IGNITION.value,
    show_default=True,
    help="Ignition spec version, as published in the procedure's releases.",
)
@_formats
def machineconfig(role: str, name: str, ignition: str, output: OutputFormat) -> None:
    """The MachineConfig that enables SCTP on a pool (OpenShift).

    With the defaults it is the procedure's load-sctp-module.yaml: it empties
    /etc/modprobe.d/sctp-blacklist.conf and lists sctp in /etc/modules-load.d/sctp-load.conf.
    Applying it drains and reboots every node of the pool.
    """
    obj = _build(lambda: render_sctp_machineconfig(name=name, role=role, ignition=ignition))
    _print([obj], output)


@render.command()
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="Image with sctpctl.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="SCTP port of the server and the Service.",
)
@click.option("-n", "--namespace", default=None, help="Namespace of the objects (default: none).")
@_formats
def verify(image: str, port: int, namespace: str | None, output: OutputFormat) -> None:
    """The verification's server pod, NodePort Service and client pod.

    The server runs 'sctpctl listen PORT --echo --keep-open'; the client idles, so you can run
    'kubectl exec sctpclient -- sctpctl connect <clusterIP>:PORT'. No internet access is needed
    in the cluster, only the image.
    """
    objects = _build(lambda: verification_objects(image=image, port=port, namespace=namespace))
    _print(objects, output)
    where = f" -n {namespace}" if namespace else ""
    command = " ".join(client_connect_command("$CLUSTER_IP", port))
    make_console(stderr=True).print(
        f"then: CLUSTER_IP=$(kubectl get service {SERVICE}{where} -o "
        f"jsonpath='{{.spec.clusterIP}}'); kubectl exec{where} {CLIENT} -- {command}",
        markup=False,
        soft_wrap=True,
    )


@render.command()
@click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True, help="Image with sh and nsenter."
)
@click.option("--name", default=DAEMONSET_NAME, show_default=True, help="DaemonSet name.")
@click.option("-n", "--namespace", default=DAEMONSET_NAMESPACE, show_default=True)
@click.option(
    "--node-selector",
    "node_selector",
    multiple=True,
    metavar="KEY=VALUE",
    help="Run on nodes with this label (repeatable; default "
    + ",".join(f"{k}={v}" for k, v in DEFAULT_NODE_SELECTOR.items())
    + ").",
)
@click.option(
    "--tolerate",
    type=click.Choice([t.value for t in Tolerate]),
    default=Tolerate.NONE.value,
    show_default=True,
    help="Also run on tainted nodes: control-plane ones, or all.",
)
@_formats
def daemonset(
    image: str,
    name: str,
    namespace: str,
    node_selector: tuple[str, ...],
    tolerate: str,
    output: OutputFormat,
) -> None:
    """A privileged DaemonSet that enables SCTP without a MachineConfig operator.

    On every selected node it lists sctp in /etc/modules-load.d/sctp.conf, comments out
    blacklist lines in /etc/modprobe.d, loads the module with the host's modprobe, and is Ready
    while /sys/module/sctp/initstate reads 'live'.
    """
    selector = parse_node_selector(node_selector)
    obj = _build(
        lambda: render_daemonset(
            image=image,
            name=name,
            namespace=namespace,
            node_selector=selector,
            tolerate=tolerate,
        )
    )
    _print([obj], output)


def parse_node_selector(items: tuple[str, ...]) -> dict[str, str] | None:
    """``--node-selector KEY=VALUE`` options as a map; ``None`` when none is given."""
    if not items:
        return None
    selector = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--node-selector")
        selector[key] = value
    return selector


def _build(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except ValueError as error:
        raise click.UsageError(str(error)) from error


def _print(objects: list[dict[str, Any]], output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        if len(objects) == 1:
            sys.stdout.write(dump_json(objects[0]))
        else:
            sys.stdout.write(
                dump_json({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects})
            )
    elif len(objects) == 1:
        sys.stdout.write(dump_yaml(objects[0]))
    else:
        sys.stdout.write(dump_yaml_all(objects))
    sys.stdout.flush()
