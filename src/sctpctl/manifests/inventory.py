"""The whole input of one lint run, indexed: pod templates, their ports, namespaces, policies.

Rules that relate objects to each other (a Service and the pods it selects, a NetworkPolicy and
the pods it isolates) look only at what is in the same input; what is not there is not guessed.
Pods come from Pods and from the pod templates of the workload kinds below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sctpctl.manifests.loader import Document, FieldPath
from sctpctl.netpol.selectors import Operator, Selector, SelectorError

POD_SPEC_PATHS: Mapping[str, FieldPath] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
"Where each kind keeps its pod spec."

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
PROTOCOLS = ("SCTP", "TCP", "UDP")
"The protocol values the API accepts (case-sensitive)."
DEFAULT_PROTOCOL = "TCP"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"The label every namespace carries with its own name (Kubernetes 1.21 and later)."


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """One entry of a container's ``ports``."""

    path: FieldPath
    "Path of the entry inside its document."
    container: str
    number: Any
    "``containerPort`` as written (normally an int)."
    name: str | None
    protocol: str
    "As written, or ``TCP`` when omitted."
    host_port: Any
    "``hostPort`` as written, or ``None``."


@dataclass(frozen=True, slots=True, eq=False)
class PodTemplate:
    """A pod, or the template of pods a workload creates (compared by identity: two workloads
    with equal templates are still two)."""

    document: Document
    spec_path: FieldPath
    labels: Mapping[str, str]
    namespace: str
    "The namespace, ```` when the document does not say (the current namespace of apply)."
    ports: tuple[ContainerPort, ...]

    def describe(self) -> str:
        return self.document.describe()

    def exposes(self, port: Any, protocol: str) -> bool:
        """Whether a container port matches ``port`` (number or name) with ``protocol``."""
        return any(_port_matches(p, port) and p.protocol == protocol for p in self.ports)

    def protocols_of(self, port: Any) -> set[str]:
        """The protocols this template declares for ``port`` (number or name)."""
        return {p.protocol for p in self.ports if _port_matches(p, port)}


@dataclass
class Inventory:
    documents: list[Document]
    templates: list[PodTemplate] = field(default_factory=list)
    by_namespace: dict[str, list[PodTemplate]] = field(default_factory=dict)
    by_label: dict[tuple[str, str, str], list[PodTemplate]] = field(default_factory=dict)
    "Templates by (namespace, label key, label value)."
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: list[Document]) -> Inventory:
        inventory = cls(documents)
        for document in documents:
            template = pod_template(document)
            if template is not None:
                inventory.templates.append(template)
                inventory.by_namespace.setdefault(template.namespace, []).append(template)
                for key, value in template.labels.items():
                    index = (template.namespace, key, value)
                    inventory.by_label.setdefault(index, []).append(template)
            if document.kind == "Namespace" and document.name:
                labels = _labels(document.obj.get("metadata"))
                inventory.namespace_labels[document.name] = labels
        return inventory

    def of_kind(self, kind: str) -> Iterator[Document]:
        return (d for d in self.documents if d.kind == kind)

    def templates_in(self, namespace: str, selector: Selector) -> list[PodTemplate]:
        candidates = self.by_namespace.get(namespace, [])
        for requirement in selector.requirements:
            # an equality term narrows the search through the label index before full matching
            if requirement.operator is Operator.IN and len(requirement.values) == 1:
                (value,) = requirement.values
                candidates = self.by_label.get((namespace, requirement.key, value), [])
                break
        return [t for t in candidates if selector.matches(t.labels)]

    def labels_of_namespace(self, name: str) -> dict[str, str]:
        labels = dict(self.namespace_labels.get(name, {}))
        if name:
            labels.setdefault(NAMESPACE_NAME_LABEL, name)
        return labels

    def templates_for_peer(
        self, peer: Mapping[str, Any], policy_namespace: str
    ) -> list[PodTemplate]:
        """The pod templates a NetworkPolicy peer (``from``/``to`` entry) selects.

        ``ipBlock`` peers select no pods; a peer with only ``podSelector`` means the policy's
        namespace; ``namespaceSelector`` picks namespaces by their labels.
        """
        if "podSelector" not in peer and "namespaceSelector" not in peer:
            return []
        pods = selector_or_none(Selector.from_label_selector, peer.get("podSelector"))
        if pods is None:
            return []
        if "namespaceSelector" not in peer:
            return self.templates_in(policy_namespace, pods)
        namespaces = selector_or_none(Selector.from_label_selector, peer.get("namespaceSelector"))
        if namespaces is None:
            return []
        return [
            t
            for t in self.templates
            if namespaces.matches(self.labels_of_namespace(t.namespace)) and pods.matches(t.labels)
        ]


def namespace_of(document: Document) -> str:
    return document.namespace or ""


def pod_template(document: Document) -> PodTemplate | None:
    spec_path = POD_SPEC_PATHS.get(document.kind)
    if spec_path is None:
        return None
    spec = dig(document.obj, spec_path)
    if not isinstance(spec, Mapping):
        return None
    metadata = dig(document.obj, (*spec_path[:-1], "metadata"))
    return PodTemplate(
        document=document,
        spec_path=spec_path,
        labels=_labels(metadata),
        namespace=namespace_of(document),
        ports=tuple(_container_ports(spec, spec_path)),
    )


def selector_or_none(build: Any, value: Any) -> Selector | None:
    """``build(value)``, or ``None`` for a selector the API server would reject anyway."""
    try:
        selector: Selector = build(value)
    except SelectorError:
        return None
    return selector


def dig(obj: Any, path: FieldPath) -> Any:
    """The value at ``path``, or ``None`` where the path does not exist."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[key] if isinstance(key, int) else obj.get(key)
    return obj


def entries(obj: Any, path: FieldPath) -> Iterator[tuple[FieldPath, Mapping[str, Any]]]:
    """The mapping items of the list at ``path``, each with its own path."""
    items = dig(obj, path)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                yield (*path, index), item


def is_int(value: Any) -> bool:
    """An integer, and not a boolean (YAML ``true`` is a bool, and bool is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _container_ports(spec: Mapping[str, Any], spec_path: FieldPath) -> Iterator[ContainerPort]:
    for list_name in CONTAINER_LISTS:
        for container_path, container in entries(spec, (list_name,)):
            for port_path, port in entries(container, ("ports",)):
                name = port.get("name")
                yield ContainerPort(
                    path=(*spec_path, *container_path, *port_path),
                    container=str(container.get("name", "")),
                    number=port.get("containerPort"),
                    name=str(name) if name is not None else None,
                    protocol=str(port.get("protocol", DEFAULT_PROTOCOL)),
                    host_port=port.get("hostPort"),
                )


def _port_matches(port: ContainerPort, wanted: Any) -> bool:
    if isinstance(wanted, str):
        return port.name == wanted
    return bool(port.number == wanted)


def _labels(metadata: Any) -> dict[str, str]:
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items()}
