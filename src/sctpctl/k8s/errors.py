"""sctpctl's own vocabulary for Kubernetes API failures, whatever client library is underneath.

::

    K8sError
    ├── ConfigError              no usable kubeconfig / context / in-cluster configuration
    ├── ClusterUnreachable       the API server cannot be reached (DNS, TCP, TLS)
    └── ApiError                 the API server answered with a failure (a metav1.Status)
        ├── ApiClientError       4xx
        │   ├── BadRequest               400
        │   ├── Unauthorized             401
        │   ├── Forbidden                403
        │   ├── NotFound                 404
        │   ├── MethodNotAllowed         405
        │   ├── AlreadyExists            409, reason AlreadyExists
        │   ├── Conflict                 409, any other reason (a stale resourceVersion)
        │   ├── Gone                     410 (a watch's resourceVersion is too old)
        │   ├── RequestEntityTooLarge    413
        │   ├── UnsupportedMediaType     415
        │   └── Invalid                  422, with :attr:`ApiError.causes`
        └── ApiServerError       5xx

The client library's own exception is kept as ``__cause__`` (``raise ... from``), so a traceback
still shows what the library saw.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RawCause(TypedDict, total=False):
    reason: str
    message: str
    field: str


class RawStatusDetails(TypedDict, total=False):
    name: str
    group: str
    kind: str
    uid: str
    causes: list[RawCause]
    retryAfterSeconds: int


class RawStatus(TypedDict, total=False):
    """A ``metav1.Status`` body as the API server sends it."""

    apiVersion: str
    kind: str
    metadata: dict[str, Any]
    status: str
    message: str
    reason: str
    details: RawStatusDetails
    code: int


class K8sError(Exception):
    """Any failure of sctpctl's Kubernetes client."""


class ConfigError(K8sError):
    """No usable configuration: no kubeconfig, an unknown context, an unreadable file."""


class ClusterUnreachable(K8sError):
    """The API server could not be reached."""


class ApiError(K8sError):
    """The API server answered with a failure."""

    def __init__(self, status: RawStatus, *, code: int) -> None:
        self.status = status
        self.code = code
        self.reason = status.get("reason", "")
        self.message = status.get("message") or f"the server answered {code}"
        super().__init__(self.message)

    @property
    def causes(self) -> list[RawCause]:
        return list(self.status.get("details", {}).get("causes", []))


class ApiClientError(ApiError):
    """4xx: the request was wrong for the current state of the cluster."""


class BadRequest(ApiClientError):
    pass


class Unauthorized(ApiClientError):
    pass


class Forbidden(ApiClientError):
    pass


class NotFound(ApiClientError):
    pass


class MethodNotAllowed(ApiClientError):
    pass


class AlreadyExists(ApiClientError):
    pass


class Conflict(ApiClientError):
    pass


class Gone(ApiClientError):
    pass


class RequestEntityTooLarge(ApiClientError):
    pass


class UnsupportedMediaType(ApiClientError):
    pass


class Invalid(ApiClientError):
    pass


class ApiServerError(ApiError):
    """5xx: the server failed."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: RequestEntityTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
}


def error_for(code: int, status: RawStatus | None) -> ApiError:
    """The most specific :class:`ApiError` for an HTTP status code and its Status body."""
    body: RawStatus = status if status is not None else {"code": code}
    if code == 409 and body.get("reason") == "AlreadyExists":
        return AlreadyExists(body, code=code)
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = ApiServerError if code >= 500 else ApiClientError
    return cls(body, code=code)
