"""The lab's Kubernetes API over HTTP: a thin translation of requests into :class:`Registry` calls.

What this layer owns, and nothing more:

- authentication (one bearer token; anything else is a 401 and nothing else),
- routing of ``/api``/``/apis`` paths (legacy ``/watch/`` prefix included) to resources,
- body decoding (JSON, YAML, the protobuf subset of kubectl 1.32, a size limit), field validation
  (``Strict`` 400 / ``Warn`` headers / ``Ignore``), ``dryRun``,
- response shapes: discovery, OpenAPI, Tables, ``metav1.Status`` for every error,
- streaming: watch (chunked newline-delimited JSON), logs, and exec over WebSocket
  (``v5.channel.k8s.io`` and ``v4.channel.k8s.io``), the last two served by a :class:`PodRuntime`.

aiohttp does not cancel a handler when its client goes away, so every stream here pumps its source
through a queue and checks the connection between items (reference S7).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

import yaml
from aiohttp import WSMsgType, web
from aiohttp.client_exceptions import ClientConnectionResetError

from sctpctl.lab import discovery, errors, openapi, protobuf, tables
from sctpctl.lab.errors import StatusError
from sctpctl.lab.kinds import ResourceType, find
from sctpctl.lab.patch import PatchType
from sctpctl.lab.registry import Registry, WatchEvent
from sctpctl.lab.runtime import (
    ContainerNotAvailable,
    ExecRequest,
    LogRequest,
    PodRuntime,
    TerminalSize,
)
from sctpctl.lab.schema import SchemaTypeError, decode

log = logging.getLogger(__name__)

KUBERNETES_MINOR = "32"
"The minor version ``/version`` reports; kubectl's dispatcher picks kubectl 1.32 from it."

MAX_BODY = 3 * 1024 * 1024
"Request bodies above 3 MiB get 413, like the real server's limit."

EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")

T = TypeVar("T")


def version_info() -> dict[str, str]:
    return {
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": f"{openapi.KUBERNETES_VERSION}-lab",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


@dataclass(frozen=True)
class Route:
    """A parsed resource path."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch: bool


def _json(body: Any, status: int = 200, *, content_type: str = "application/json") -> web.Response:
    response = web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status)
    response.headers["Content-Type"] = content_type
    return response


def _status_response(error: StatusError) -> web.Response:
    return _json(error.status, error.code)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"{name}: {value!r} is not an integer") from None


def _table_accept(request: web.Request) -> bool:
    for part in request.headers.get("Accept", "").split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "as=Table" in params and "g=meta.k8s.io" in params:
            return True
    return False


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _pump(
    request: web.Request,
    source: AsyncIterator[T],
    deliver: Callable[[T], Awaitable[None]],
) -> None:
    """Feed ``source`` into ``deliver`` until it ends or the client disconnects."""
    queue: asyncio.Queue[tuple[bool, T | None]] = asyncio.Queue(maxsize=64)

    async def produce() -> None:
        try:
            async for item in source:
                await queue.put((True, item))
        finally:
            await queue.put((False, None))

    producer = asyncio.create_task(produce())
    try:
        while True:
            try:
                more, item = await asyncio.wait_for(queue.get(), 1.0)
            except TimeoutError:
                if not _connected(request):
                    return
                continue
            if not more:
                break
            if not _connected(request):
                return
            await deliver(item)  # type: ignore[arg-type]
        await producer  # re-raise what ended it, if anything
    finally:
        if not producer.done():
            producer.cancel()
            with contextlib.suppress(BaseException):
                await producer


class ApiServer:
    """The aiohttp application of one lab."""

    def __init__(
        self,
        registry: Registry,
        *,
        token: str,
        runtime: PodRuntime | None = None,
        server_address: str = "127.0.0.1:6443",
        max_body: int = MAX_BODY,
        watch_timeout: Callable[[], float] = lambda: 1800.0 * (1 + random.random()),
    ) -> None:
        self.registry = registry
        self.token = token
        self.runtime = runtime
        self.server_address = server_address
        self.max_body = max_body
        self.watch_timeout = watch_timeout

    def app(self) -> web.Application:
        # aiohttp enforces its own limit first; one byte more lets this class answer the 413.
        app = web.Application(client_max_size=self.max_body + 1)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # --- entry --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _status_response(errors.unauthorized())
        try:
            return await self._dispatch(request)
        except StatusError as error:
            return _status_response(error)
        except (ConnectionResetError, ClientConnectionResetError):
            raise
        except web.HTTPException:
            raise
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            return _status_response(StatusError(500, "InternalError", "an internal error occurred"))

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return False
        return hmac.compare_digest(credential.strip().encode(), self.token.encode())

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = [unquote(p) for p in path.split("/")[1:]] if path != "/" else []
        if path == "/version":
            return _json(version_info())
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if parts[:1] == ["openapi"]:
            return self._openapi(parts)
        if parts == ["api"]:
            return self._discovery(request, core=True)
        if parts == ["apis"]:
            return self._discovery(request, core=False)
        if len(parts) == 2 and parts[0] == "api":
            return self._resource_list("", parts[1])
        if len(parts) == 2 and parts[0] == "apis":
            group = discovery.api_group(parts[1])
            if group is None:
                raise self._no_route()
            return _json(group)
        if len(parts) == 3 and parts[0] == "apis":
            return self._resource_list(parts[1], parts[2])
        route = self._route(parts)
        return await self._serve(request, route)

    @staticmethod
    def _no_route() -> StatusError:
        return StatusError(404, "NotFound", "the server could not find the requested resource")

    # --- discovery and OpenAPI ----------------------------------------------------------------

    def _discovery(self, request: web.Request, *, core: bool) -> web.Response:
        version = discovery.aggregated_version(request.headers.get("Accept", ""))
        if version is not None:
            return _json(
                discovery.aggregated(version, core=core),
                content_type=discovery.aggregated_content_type(version),
            )
        if core:
            return _json(discovery.api_versions(self.server_address))
        return _json(discovery.api_group_list())

    def _resource_list(self, group: str, version: str) -> web.Response:
        doc = discovery.resource_list(group, version)
        if doc is None:
            raise self._no_route()
        return _json(doc)

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts == ["openapi", "v3"]:
            return _json(openapi.index())
        if len(parts) >= 4 and parts[1] == "v3":
            rest = parts[2:]
            if rest[0] == "api" and len(rest) == 2:
                body = openapi.document_bytes("", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                body = openapi.document_bytes(rest[1], rest[2])
            else:
                body = None
            if body is not None:
                response = web.Response(body=body, content_type="application/json")
                response.headers["Cache-Control"] = "public, immutable"
                response.headers["Expires"] = "Thu, 31 Dec 2037 23:59:59 GMT"
                return response
        raise self._no_route()

    # --- routing ------------------------------------------------------------------------------

    def _route(self, parts: list[str]) -> Route:
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise self._no_route()
        watch = bool(rest) and rest[0] == "watch"
        if watch:
            rest = rest[1:]
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            inner = find(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise self._no_route()
        rt = find(group, version, rest[0])
        if rt is None:
            raise self._no_route()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and rt.subresource(sub) is None:
            raise self._no_route()
        return Route(rt, namespace, name, sub, watch)

    async def _serve(self, request: web.Request, route: Route) -> web.StreamResponse:
        method = request.method
        rt, sub = route.rt, route.subresource
        if route.watch or (method == "GET" and route.name is None and _flag(request, "watch")):
            return await self._watch(request, route)
        if sub == "exec":
            return await self._exec(request, route)
        if sub == "log" and method == "GET":
            return await self._logs(request, route)
        if sub in ("eviction", "binding") and method == "POST":
            return await self._pod_action(request, route)
        if route.name is None:
            if method == "GET":
                return await self._list(request, route)
            if method == "POST":
                return await self._create(request, route)
            if method == "DELETE":
                return await self._delete_collection(request, route)
        else:
            if method == "GET":
                obj = await self.registry.get(rt, route.name, route.namespace)
                return self._object(request, route, obj)
            if method == "PUT":
                return await self._update(request, route)
            if method == "PATCH":
                return await self._patch(request, route)
            if method == "DELETE" and sub is None:
                return await self._delete(request, route)
        raise errors.method_not_allowed(
            f"the server does not allow this method on the requested resource ({method})"
        )

    # --- bodies -------------------------------------------------------------------------------

    async def _body(self, request: web.Request, *, allow_empty: bool = False) -> Any:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.too_large(
                f"the request body is larger than the limit of {self.max_body} bytes"
            ) from None
        if len(raw) > self.max_body:
            raise errors.too_large(
                f"the request body is larger than the limit of {self.max_body} bytes"
            )
        if not raw.strip():
            if allow_empty:
                return None
            raise errors.bad_request("the request body is empty")
        content_type = request.headers.get("Content-Type", "application/json").split(";")[0]
        content_type = content_type.strip().lower() or "application/json"
        if content_type == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as error:
                raise errors.unsupported_media_type(str(error)) from error
        if content_type in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
            try:
                return yaml.load(raw, Loader=yaml.CSafeLoader)
            except yaml.YAMLError as error:
                raise errors.bad_request(f"the request body is not valid YAML: {error}") from None
        if content_type == "application/json" or content_type.endswith("+json"):
            try:
                return json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise errors.bad_request(f"the request body is not valid JSON: {error}") from None
        raise errors.unsupported_media_type(
            f"the body of the request was in an unknown format ({content_type}) - accepted "
            "media types include: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf"
        )

    def _field_warnings(self, request: web.Request, rt: ResourceType, body: Any) -> list[str]:
        """Unknown fields in ``body``: a 400 under ``fieldValidation=Strict``, warnings under
        ``Warn`` (the default), nothing under ``Ignore``."""
        mode = request.query.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f"fieldValidation must be one of Ignore, Warn or Strict, not {mode!r}"
            )
        if mode == "Ignore" or not isinstance(body, dict):
            return []
        try:
            unknown = decode(rt.schema, body).unknown
        except SchemaTypeError:
            return []  # the registry reports type errors, with the kind's name
        if not unknown:
            return []
        if mode == "Strict":
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {listed}"
            )
        return [f'unknown field "{u}"' for u in unknown]

    @staticmethod
    def _warn(response: web.Response, warnings: list[str]) -> web.Response:
        for warning in warnings:
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{escaped}"')
        return response

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for value in values:
            if value != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{value}"')
        return bool(values)

    # --- responses ----------------------------------------------------------------------------

    def _object(
        self, request: web.Request, route: Route, obj: dict[str, Any], status: int = 200
    ) -> web.Response:
        if _table_accept(request) and route.subresource is None:
            return _json(
                tables.table(
                    route.rt,
                    [obj],
                    now=self.registry.clock(),
                    resource_version=obj.get("metadata", {}).get("resourceVersion", ""),
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        return _json(obj, status)

    async def _list(self, request: web.Request, route: Route) -> web.Response:
        rt = route.rt
        if "list" not in rt.verbs:
            raise errors.method_not_allowed(f"list is not supported on {rt.plural}")
        found = await self.registry.list(
            rt,
            route.namespace,
            label_selector=request.query.get("labelSelector"),
            field_selector=request.query.get("fieldSelector"),
        )
        rv = str(found.resource_version)
        if _table_accept(request):
            return _json(
                tables.table(
                    rt,
                    found.items,
                    now=self.registry.clock(),
                    resource_version=rv,
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        return _json(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": found.items,
            }
        )

    async def _create(self, request: web.Request, route: Route) -> web.Response:
        body = await self._body(request)
        warnings = self._field_warnings(request, route.rt, body)
        created = await self.registry.create(
            route.rt, body, route.namespace, dry_run=self._dry_run(request)
        )
        return self._warn(_json(created, 201), warnings)

    async def _update(self, request: web.Request, route: Route) -> web.Response:
        assert route.name is not None
        if route.subresource not in (None, "status"):
            raise errors.method_not_allowed(f"PUT is not supported on {route.subresource}")
        body = await self._body(request)
        warnings = self._field_warnings(request, route.rt, body)
        updated = await self.registry.update(
            route.rt,
            body,
            route.namespace,
            name=route.name,
            subresource=route.subresource,
            dry_run=self._dry_run(request),
        )
        return self._warn(_json(updated), warnings)

    async def _patch(self, request: web.Request, route: Route) -> web.Response:
        assert route.name is not None
        if route.subresource not in (None, "status"):
            raise errors.method_not_allowed(f"PATCH is not supported on {route.subresource}")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            patch_type = PatchType(content_type)
        except ValueError:
            raise errors.unsupported_media_type(
                f"the body of the request was in an unknown format ({content_type or 'none'}) - "
                "accepted media types include: " + ", ".join(p.value for p in PatchType)
            ) from None
        if patch_type is PatchType.APPLY and not request.query.get("fieldManager"):
            raise StatusError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        body = await self._body(request)
        warnings = (
            [] if patch_type is PatchType.JSON else self._field_warnings(request, route.rt, body)
        )
        patched, created = await self.registry.patch(
            route.rt,
            route.name,
            body,
            patch_type,
            route.namespace,
            subresource=route.subresource,
            dry_run=self._dry_run(request),
            force=_flag(request, "force"),
        )
        return self._warn(_json(patched, 201 if created else 200), warnings)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request, allow_empty=True)
        options = body if isinstance(body, dict) else {}
        grace = _int(request, "gracePeriodSeconds")
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        return options

    async def _delete(self, request: web.Request, route: Route) -> web.Response:
        assert route.name is not None
        options = await self._delete_options(request)
        dry_run = self._dry_run(request) or bool(options.get("dryRun"))
        deleted = await self.registry.delete(
            route.rt,
            route.name,
            route.namespace,
            grace_period_seconds=options.get("gracePeriodSeconds"),
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
        )
        pending = bool(deleted.get("metadata", {}).get("deletionTimestamp"))
        return _json(deleted, 202 if pending and not dry_run else 200)

    async def _delete_collection(self, request: web.Request, route: Route) -> web.Response:
        rt = route.rt
        if "deletecollection" not in rt.verbs:
            raise errors.method_not_allowed(f"deletecollection is not supported on {rt.plural}")
        options = await self._delete_options(request)
        deleted = await self.registry.delete_collection(
            rt,
            route.namespace,
            label_selector=request.query.get("labelSelector"),
            field_selector=request.query.get("fieldSelector"),
            grace_period_seconds=options.get("gracePeriodSeconds"),
            dry_run=self._dry_run(request) or bool(options.get("dryRun")),
        )
        return _json(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.registry.store.resource_version)},
                "items": deleted,
            }
        )

    async def _pod_action(self, request: web.Request, route: Route) -> web.Response:
        assert route.name is not None and route.namespace is not None
        body = await self._body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a JSON object")
        if route.subresource == "binding":
            target = body.get("target") or {}
            if not isinstance(target, dict) or not target.get("name"):
                raise errors.invalid_object(
                    "", "Binding", route.name, [errors.required("target.name")]
                )
            await self.registry.bind(route.namespace, route.name, str(target["name"]))
        else:
            options = body.get("deleteOptions") or {}
            await self.registry.evict(
                route.namespace,
                route.name,
                grace_period_seconds=options.get("gracePeriodSeconds"),
            )
        return _json(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )

    # --- watch --------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        rt = route.rt
        if "watch" not in rt.verbs:
            raise errors.method_not_allowed(f"watch is not supported on {rt.plural}")
        field_selector = request.query.get("fieldSelector")
        if route.name is not None:  # the legacy /watch/.../{name} form
            named = f"metadata.name={route.name}"
            field_selector = f"{field_selector},{named}" if field_selector else named
        timeout = _int(request, "timeoutSeconds")
        events = self.registry.watch(
            rt,
            route.namespace,
            resource_version=request.query.get("resourceVersion"),
            label_selector=request.query.get("labelSelector"),
            field_selector=field_selector,
            send_initial_events=_flag(request, "sendInitialEvents") or None,
            allow_bookmarks=_flag(request, "allowWatchBookmarks"),
            timeout=float(timeout) if timeout else self.watch_timeout(),
        )
        # Selectors and the resourceVersion are checked in the watch's first step, before it
        # waits for anything: run that step (one turn of the loop), so a bad request is a 4xx.
        # Then the 200 goes out at once, as from a real API server: a client that watches for
        # a condition already met (kubectl wait) must not be held until the next event.
        iterator = aiter(events)
        first_step = asyncio.ensure_future(anext(iterator, None))
        await asyncio.sleep(0)
        if first_step.done():
            first_step.result()
        try:
            response = web.StreamResponse(status=200)
            response.headers["Content-Type"] = "application/json"
            response.enable_chunked_encoding()
            await response.prepare(request)
        except BaseException:
            first_step.cancel()
            raise
        as_table = _table_accept(request)
        include = request.query.get("includeObject", "Metadata")
        headers_sent = False

        async def deliver(event: WatchEvent) -> None:
            nonlocal headers_sent
            obj = event.object
            if as_table and event.type in ("ADDED", "MODIFIED", "DELETED"):
                obj = tables.table(
                    rt,
                    [obj],
                    now=self.registry.clock(),
                    include_object=include,
                    resource_version=str(event.resource_version),
                    headers=not headers_sent,
                )
                headers_sent = True
            line = json.dumps({"type": event.type, "object": obj}, separators=(",", ":"))
            await response.write(line.encode() + b"\n")

        async def rest() -> AsyncIterator[WatchEvent]:
            first = await first_step
            if first is not None:
                yield first
                async for event in iterator:
                    yield event

        try:
            with contextlib.suppress(ConnectionResetError, ClientConnectionResetError):
                await _pump(request, rest(), deliver)
                await response.write_eof()
        finally:
            first_step.cancel()  # a no-op once it is done; else nobody will take it
        return response

    # --- pods: logs and exec ------------------------------------------------------------------

    def _runtime(self) -> PodRuntime:
        if self.runtime is None:
            raise errors.unavailable("no kubelet is serving pods in this lab")
        return self.runtime

    async def _pod_container(
        self, route: Route, container: str | None, *, verb: str
    ) -> tuple[dict[str, Any], str]:
        assert route.name is not None and route.namespace is not None
        pod = await self.registry.get(route.rt, route.name, route.namespace)
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        names += [c.get("name") for c in spec.get("initContainers") or []]
        if not container:
            default = (pod["metadata"].get("annotations") or {}).get(
                "kubectl.kubernetes.io/default-container"
            )
            if default:
                container = default
            elif len(spec.get("containers") or []) == 1:
                container = names[0]
            else:
                raise errors.bad_request(
                    f"a container name must be specified for pod {route.name}, choose one of: "
                    f"[{' '.join(str(n) for n in names)}]"
                )
        if container not in names:
            raise errors.bad_request(f"container {container} is not valid for pod {route.name}")
        if not spec.get("nodeName"):
            raise errors.bad_request(
                f'container "{container}" in pod "{route.name}" is waiting to start: '
                "ContainerCreating"
                if verb == "log"
                else f"pod {route.name} does not have a host assigned"
            )
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        statuses += (pod.get("status") or {}).get("initContainerStatuses") or []
        found: dict[str, Any] = next((s for s in statuses if s.get("name") == container), {})
        state = found.get("state") or {}
        waiting = state.get("waiting")
        # A container waiting to restart still has the log of its last run.
        ran_before = bool((found.get("lastState") or {}).get("terminated"))
        if not state or (waiting is not None and verb == "log" and not ran_before):
            reason = (waiting or {}).get("reason") or "ContainerCreating"
            raise errors.bad_request(
                f'container "{container}" in pod "{route.name}" is waiting to start: {reason}'
            )
        return pod, container

    async def _logs(self, request: web.Request, route: Route) -> web.StreamResponse:
        runtime = self._runtime()
        pod, container = await self._pod_container(
            route, request.query.get("container"), verb="log"
        )
        tail = _int(request, "tailLines")
        limit = _int(request, "limitBytes")
        if (tail is not None and tail < 0) or (limit is not None and limit <= 0):
            raise errors.bad_request("tailLines must be >= 0 and limitBytes > 0")
        log_request = LogRequest(
            namespace=pod["metadata"]["namespace"],
            pod=pod["metadata"]["name"],
            container=container,
            node=pod["spec"]["nodeName"],
            follow=_flag(request, "follow"),
            tail_lines=tail,
            timestamps=_flag(request, "timestamps"),
            previous=_flag(request, "previous"),
            since_seconds=_int(request, "sinceSeconds"),
        )
        try:
            # The kubelet may refuse at once (no such run) or when the stream starts.
            chunks = aiter(runtime.logs(log_request))
            first = await anext(chunks, b"")
        except ContainerNotAvailable as error:
            raise errors.bad_request(str(error)) from None
        response = web.StreamResponse(status=200)
        response.headers["Content-Type"] = "text/plain"
        response.enable_chunked_encoding()
        await response.prepare(request)
        remaining = limit

        async def deliver(chunk: bytes) -> None:
            nonlocal remaining
            if remaining is not None:
                chunk, remaining = chunk[:remaining], remaining - len(chunk[:remaining])
            if chunk:
                await response.write(chunk)

        async def rest() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk
                if remaining is not None and remaining <= 0:
                    return

        with contextlib.suppress(ConnectionResetError, ClientConnectionResetError):
            await _pump(request, rest(), deliver)
            await response.write_eof()
        return response

    async def _exec(self, request: web.Request, route: Route) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("Upgrade request required")
        runtime = self._runtime()
        command = tuple(request.query.getall("command", []))
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        pod, container = await self._pod_container(
            route, request.query.get("container"), verb="exec"
        )
        tty = _flag(request, "tty")
        exec_request = ExecRequest(
            namespace=pod["metadata"]["namespace"],
            pod=pod["metadata"]["name"],
            container=container,
            command=command,
            stdin=_flag(request, "stdin"),
            tty=tty,
            node=pod["spec"]["nodeName"],
        )
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, autoping=True)
        await ws.prepare(request)
        session = _ExecSession(ws, exec_request)
        await session.run(runtime)
        return ws


class _ExecSession:
    """One exec over a WebSocket: channels 0-4 and the v5 close signal (255)."""

    def __init__(self, ws: web.WebSocketResponse, request: ExecRequest) -> None:
        self.ws = ws
        self.request = request
        self.v5 = ws.ws_protocol == "v5.channel.k8s.io"
        self.stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self.resizes: asyncio.Queue[TerminalSize | None] = asyncio.Queue()
        if not request.stdin:
            self.stdin.put_nowait(b"")

    async def read_stdin(self) -> bytes:
        return await self.stdin.get()

    async def _send(self, channel: int, data: bytes) -> None:
        if data and not self.ws.closed:
            with contextlib.suppress(ConnectionResetError, ClientConnectionResetError):
                await self.ws.send_bytes(bytes([channel]) + data)

    async def write_stdout(self, data: bytes) -> None:
        await self._send(1, data)

    async def write_stderr(self, data: bytes) -> None:
        await self._send(1 if self.request.tty else 2, data)

    async def next_resize(self) -> TerminalSize | None:
        return await self.resizes.get()

    async def _read(self) -> None:
        """Client frames: stdin, resize, the v5 close signal; the end of the socket ends stdin."""
        try:
            async for message in self.ws:
                if message.type == WSMsgType.BINARY:
                    data = message.data
                elif message.type == WSMsgType.TEXT:
                    data = message.data.encode("latin-1", "replace")
                else:
                    continue
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == 0 and payload and self.request.stdin:
                    self.stdin.put_nowait(payload)
                elif channel == 4:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        size = json.loads(payload)
                        self.resizes.put_nowait(
                            TerminalSize(int(size["Width"]), int(size["Height"]))
                        )
                elif channel == 255 and self.v5 and payload[:1] == b"\x00":
                    self.stdin.put_nowait(b"")
        finally:
            self.stdin.put_nowait(b"")
            self.resizes.put_nowait(None)

    async def run(self, runtime: PodRuntime) -> None:
        reader = asyncio.create_task(self._read())
        execution = asyncio.create_task(runtime.exec(self.request, self))
        try:
            await asyncio.wait({execution, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not execution.done():
                # The client went away before the command ended: stop it.
                execution.cancel()
                with contextlib.suppress(BaseException):
                    await execution
                return
            try:
                code = execution.result()
            except ContainerNotAvailable as error:
                status: dict[str, Any] = {
                    "metadata": {},
                    "status": "Failure",
                    "message": str(error),
                    "reason": "InternalError",
                    "code": 500,
                }
            else:
                status = _exit_status(self.request.command, code)
            await self._send(3, json.dumps(status).encode())
            await self.ws.close()
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader


def _exit_status(command: tuple[str, ...], code: int) -> dict[str, Any]:
    """The channel-3 Status (``client-go/tools/remotecommand``): ``ExitCode`` is the first cause,
    because the Python clients read the first cause whatever its reason."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code & 0xFF)}]},
    }
