"""Permissions: ask before changing anything, and name the verb and resource when refused.

``enable`` changes nothing until it knows it may make every change of its plan and watch what
follows: a ``SelfSubjectAccessReview`` per verb and resource (what ``kubectl auth can-i`` sends)
answers that without side effects. Any call that is refused anyway (a server without access
reviews, a policy that changed meanwhile) raises :class:`MissingPermission` with the verb and the
resource of that call, not only the server's sentence.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sctpctl.k8s.client import Client
from sctpctl.k8s.errors import Forbidden, NotFound


class MissingPermission(Exception):
    """The cluster refuses a call sctpctl needs."""

    def __init__(self, verb: str, resource: str, namespace: str | None, detail: str = "") -> None:
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.detail = detail
        where = f" in namespace {namespace}" if namespace else ""
        super().__init__(
            f"missing permission: cannot {verb} {resource}{where}"
            + (f" ({detail})" if detail else "")
        )


@dataclass(frozen=True, slots=True)
class Access:
    """One verb on one resource, as RBAC names them (``resource.group``, ``pods/log``)."""

    verb: str
    resource: str
    "``plural.group`` (``machineconfigs.machineconfiguration.openshift.io``) or ``pods``."
    namespace: str | None = None

    @property
    def group_and_resource(self) -> tuple[str, str, str]:
        """(group, resource, subresource) for an access review."""
        plural, _, group = self.resource.partition(".")
        plural, _, subresource = plural.partition("/")
        return group, plural, subresource


@contextlib.contextmanager
def naming(verb: str, resource: str, namespace: str | None = None) -> Iterator[None]:
    """Turn a 403 from the calls inside into :class:`MissingPermission` for this verb."""
    try:
        yield
    except Forbidden as error:
        raise MissingPermission(verb, resource, namespace, error.message) from error


async def check_access(client: Client, needed: Iterable[Access]) -> None:
    """Raise :class:`MissingPermission` for the first access the cluster would refuse.

    A cluster without the access review API is not asked; its refusals surface, named, from
    the calls themselves (:func:`naming`).
    """
    for access in needed:
        group, plural, subresource = access.group_and_resource
        attributes = {"verb": access.verb, "group": group, "resource": plural}
        if subresource:
            attributes["subresource"] = subresource
        if access.namespace:
            attributes["namespace"] = access.namespace
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        try:
            with naming("create", "selfsubjectaccessreviews.authorization.k8s.io"):
                answer = await client.create(review)
        except (NotFound, MissingPermission):
            return
        status = answer.get("status") or {}
        if not status.get("allowed"):
            raise MissingPermission(
                access.verb,
                access.resource,
                access.namespace,
                str(status.get("reason") or status.get("evaluationError") or ""),
            )
