"""The :class:`~sctpctl.k8s.client.Client` interface over kubernetes-asyncio.

kubernetes-asyncio provides what is hard to get right: kubeconfig loading (contexts, exec
credential plugins, OIDC, in-cluster), TLS, authentication and its aiohttp session. Requests go
through its generic ``ApiClient.call_api`` with raw JSON in and out, so no generated model class
ever reaches sctpctl; the library's ``ApiException`` becomes :mod:`sctpctl.k8s.errors` with the
original as ``__cause__``.

Resources are resolved by legacy discovery (``/api/v1``, ``/apis/<group>/<version>``), fetched
once per group-version and cached for the life of the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import ConfigException, kube_config
from kubernetes_asyncio.config.incluster_config import load_incluster_config

from sctpctl.k8s.client import (
    ExecResult,
    Obj,
    ObjectList,
    Objects,
    PatchType,
    ResourceInfo,
    WatchEvent,
)
from sctpctl.k8s.errors import (
    ApiError,
    ClusterUnreachable,
    ConfigError,
    K8sError,
    NotFound,
    RawStatus,
    error_for,
)

_AUTH = ["BearerToken"]
_EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


_RESPONSES = {code: "object" for code in (200, 201, 202)}


def kubeconfig_paths(kubeconfig: str | None) -> list[Path]:
    """The kubeconfig files to merge: ``--kubeconfig``, else ``$KUBECONFIG`` (a ``:`` list),
    else ``~/.kube/config`` (as kubectl decides)."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


async def connect(kubeconfig: str | None = None, context: str | None = None) -> KubernetesClient:
    """A client for the cluster of ``context`` in the kubeconfig kubectl would use; inside a pod
    without a kubeconfig, the in-cluster service account."""
    configuration = Configuration()
    paths = [p for p in kubeconfig_paths(kubeconfig) if p.exists()]
    if kubeconfig and not paths:
        raise ConfigError(f"the kubeconfig {kubeconfig} does not exist")
    try:
        if paths:
            await kube_config.load_kube_config(
                config_file=os.pathsep.join(str(p) for p in paths),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            raise ConfigError(
                "no kubeconfig found (looked at --kubeconfig, $KUBECONFIG and ~/.kube/config) "
                "and not running inside a cluster"
            )
    except ConfigException as error:
        raise ConfigError(f"cannot use the kubeconfig: {error}") from error
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the kubeconfig: {error}") from error
    return KubernetesClient(ApiClient(configuration=configuration))


def _status_of(body: Any, code: int) -> RawStatus:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return {"code": code, "message": body.strip() or f"the server answered {code}"}
    if isinstance(body, dict) and body.get("kind") == "Status":
        status: RawStatus = body  # type: ignore[assignment]
        return status
    return {"code": code, "message": f"the server answered {code}"}


def _api_error(error: ApiException) -> ApiError:
    code = int(error.status or 0)
    return error_for(code, _status_of(error.body, code))


def _end_stream(response: aiohttp.ClientResponse) -> None:
    """Give back a streamed response's connection; one left midway cannot be reused, so it is
    aborted at once (a TLS close would wait for the server, and a command about to exit would
    leave the socket behind)."""
    if not response.content.at_eof() and response.connection is not None:
        transport = response.connection.transport
        if transport is not None:
            transport.abort()
    response.release()


class KubernetesClient:
    """sctpctl's client, backed by one kubernetes-asyncio ``ApiClient``."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}

    async def close(self) -> None:
        await self.api.close()

    async def __aenter__(self) -> KubernetesClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- transport ----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            return await self.api.call_api(
                path,
                method,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=_AUTH,
                response_types_map=_RESPONSES,
                _return_http_data_only=True,
            )
        except ApiException as error:
            raise _api_error(error) from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise ClusterUnreachable(
                f"cannot reach the API server at {self.api.configuration.host}: {error}"
            ) from error

    async def _stream(
        self, method: str, path: str, query: list[tuple[str, Any]], *, accept: str
    ) -> aiohttp.ClientResponse:
        """A response whose body the caller reads (watch, logs); failures are raised here."""
        try:
            response: aiohttp.ClientResponse = await self.api.call_api(
                path,
                method,
                query_params=query,
                header_params={"Accept": accept},
                auth_settings=_AUTH,
                _preload_content=False,
            )
        except (aiohttp.ClientError, OSError) as error:
            raise ClusterUnreachable(
                f"cannot reach the API server at {self.api.configuration.host}: {error}"
            ) from error
        if response.status >= 400:
            try:
                body = await response.read()
            finally:
                response.release()
            raise error_for(response.status, _status_of(body, response.status))
        return response

    # --- discovery ----------------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        known = self._discovery.get(api_version)
        if known is None:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            try:
                document = await self._call("GET", path)
            except NotFound:
                document = {"resources": []}
            known = {
                entry["kind"]: ResourceInfo(
                    api_version, entry["kind"], entry["name"], bool(entry.get("namespaced"))
                )
                for entry in document.get("resources", [])
                if "/" not in entry.get("name", "")
            }
            self._discovery[api_version] = known
        info = known.get(kind)
        if info is None:
            raise NotFound(
                {"code": 404, "reason": "NotFound",
                 "message": f'the server has no resource for kind "{kind}" in "{api_version}"'},
                code=404,
            )  # fmt: skip
        return info

    async def _path(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        info = await self.resource(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if info.namespaced:
            if namespace is None and name is not None:
                raise K8sError(f"{kind} {name}: a namespace is required")
            if namespace is not None:
                base += f"/namespaces/{quote(namespace, safe='')}"
        path = f"{base}/{info.plural}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
        if subresource is not None:
            path += f"/{subresource}"
        return path

    @staticmethod
    def _kind_of(body: Obj) -> tuple[str, str]:
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            raise K8sError("the object needs apiVersion and kind")
        return api_version, kind

    @staticmethod
    def _namespace_of(body: Obj, namespace: str | None) -> str | None:
        meta = body.get("metadata") or {}
        return str(meta.get("namespace") or namespace or "") or None

    # --- reads and writes ---------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, name: str, *, namespace: str | None = None
    ) -> Obj:
        path = await self._path(api_version, kind, namespace=namespace, name=name)
        result: Obj = await self._call("GET", path)
        return result

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        path = await self._path(api_version, kind, namespace=namespace)
        query = [("labelSelector", label_selector)] if label_selector else []
        query += [("fieldSelector", field_selector)] if field_selector else []
        found = await self._call("GET", path, query=query)
        items = found.get("items") or []
        for item in items:  # lists leave these out of their items
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return ObjectList(items, str((found.get("metadata") or {}).get("resourceVersion", "")))

    async def create(
        self, body: Obj, *, namespace: str | None = None, dry_run: bool = False
    ) -> Obj:
        api_version, kind = self._kind_of(body)
        path = await self._path(api_version, kind, namespace=self._namespace_of(body, namespace))
        query = [("dryRun", "All")] if dry_run else []
        result: Obj = await self._call("POST", path, query=query, body=body)
        return result

    async def replace(self, body: Obj, *, namespace: str | None = None) -> Obj:
        api_version, kind = self._kind_of(body)
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise K8sError("the object needs metadata.name")
        path = await self._path(
            api_version, kind, namespace=self._namespace_of(body, namespace), name=name
        )
        result: Obj = await self._call("PUT", path, body=body)
        return result

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
    ) -> Obj:
        path = await self._path(
            api_version, kind, namespace=namespace, name=name, subresource=subresource
        )
        result: Obj = await self._call("PATCH", path, body=patch, content_type=patch_type.value)
        return result

    async def apply(
        self,
        body: Obj,
        *,
        field_manager: str = "sctpctl",
        force: bool = False,
        namespace: str | None = None,
    ) -> Obj:
        api_version, kind = self._kind_of(body)
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise K8sError("the object needs metadata.name")
        path = await self._path(
            api_version, kind, namespace=self._namespace_of(body, namespace), name=name
        )
        query = [("fieldManager", field_manager), ("force", "true" if force else "false")]
        result: Obj = await self._call(
            "PATCH", path, query=query, body=body, content_type="application/apply-patch+yaml"
        )
        return result

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> Obj:
        path = await self._path(api_version, kind, namespace=namespace, name=name)
        options: dict[str, Any] = {"propagationPolicy": "Background"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        result: Obj = await self._call("DELETE", path, body=options)
        return result

    async def delete_collection(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Objects:
        info = await self.resource(api_version, kind)
        if info.namespaced and namespace is None:
            # The collection endpoint is per namespace: delete one by one across namespaces.
            found = await self.list(api_version, kind, label_selector=label_selector)
            deleted: Objects = []
            for item in found.items:
                meta = item.get("metadata") or {}
                with contextlib.suppress(NotFound):
                    deleted.append(
                        await self.delete(
                            api_version, kind, meta["name"], namespace=meta.get("namespace")
                        )
                    )
            return deleted
        path = await self._path(api_version, kind, namespace=namespace)
        query = [("labelSelector", label_selector)] if label_selector else []
        result = await self._call("DELETE", path, query=query, body={})
        items: Objects = (result or {}).get("items") or []
        return items

    # --- streams ------------------------------------------------------------------------------

    async def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        path = await self._path(api_version, kind, namespace=namespace)
        query: list[tuple[str, Any]] = [("watch", "true"), ("allowWatchBookmarks", "true")]
        for key, value in (
            ("labelSelector", label_selector),
            ("fieldSelector", field_selector),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", timeout_seconds),
        ):
            if value is not None:
                query.append((key, value))
        response = await self._stream("GET", path, query, accept="application/json")
        try:
            buffer = b""
            try:
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        if event.get("type") == "ERROR":
                            status = _status_of(event.get("object"), 500)
                            raise error_for(int(status.get("code", 500)), status)
                        yield WatchEvent(event["type"], event.get("object") or {})
            except (aiohttp.ClientError, OSError) as error:  # the connection lost midway
                raise ClusterUnreachable(
                    f"lost the connection to the API server at {self.api.configuration.host}: "
                    f"{error}"
                ) from error
        finally:
            _end_stream(response)

    async def exec(
        self,
        namespace: str,
        pod: str,
        command: Sequence[str],
        *,
        container: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (bounds the whole exec)
    ) -> ExecResult:
        query: list[tuple[str, str]] = [("command", c) for c in command]
        query += [("stdout", "true"), ("stderr", "true")]
        query += [("stdin", "true" if stdin is not None else "false")]
        if container:
            query.append(("container", container))
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/exec"
        host = (
            str(self.api.configuration.host)
            .replace("https://", "wss://", 1)
            .replace("http://", "ws://", 1)
        )
        headers: dict[str, str] = {}
        await self.api.update_params_for_auth(headers, [], _AUTH)
        session: aiohttp.ClientSession = self.api.rest_client.pool_manager
        try:
            async with asyncio.timeout(timeout):
                ws = await session.ws_connect(
                    f"{host}{path}?{urlencode(query)}", headers=headers, protocols=_EXEC_PROTOCOLS
                )
                async with ws:
                    return await self._exec_session(ws, stdin)
        except aiohttp.WSServerHandshakeError as error:
            raise error_for(
                error.status, {"code": error.status, "message": error.message}
            ) from error
        except TimeoutError as error:
            raise K8sError(f"exec in {namespace}/{pod} timed out after {timeout} s") from error
        except (aiohttp.ClientError, OSError) as error:
            raise ClusterUnreachable(
                f"cannot reach the API server at {self.api.configuration.host}: {error}"
            ) from error

    @staticmethod
    async def _exec_session(ws: aiohttp.ClientWebSocketResponse, stdin: bytes | None) -> ExecResult:
        if stdin is not None:
            if stdin:
                await ws.send_bytes(b"\x00" + stdin)
            if ws.protocol == "v5.channel.k8s.io":
                await ws.send_bytes(b"\xff\x00")  # v5: close stdin
        out, err = bytearray(), bytearray()
        status: dict[str, Any] | None = None
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                break
            data = message.data if isinstance(message.data, bytes) else message.data.encode()
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == 1:
                out += payload
            elif channel == 2:
                err += payload
            elif channel == 3:
                status = json.loads(payload)
        if status is None:
            raise K8sError("exec ended without a status from the server")
        if status.get("status") == "Success":
            return ExecResult(0, bytes(out), bytes(err))
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return ExecResult(int(cause.get("message", "1")), bytes(out), bytes(err))
        raise error_for(int(status.get("code") or 500), status)  # type: ignore[arg-type]

    async def logs(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
    ) -> str:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log"
        query: list[tuple[str, Any]] = []
        if container:
            query.append(("container", container))
        if tail_lines is not None:
            query.append(("tailLines", tail_lines))
        response = await self._stream("GET", path, query, accept="text/plain")
        try:
            body = await response.read()
            text: str = body.decode("utf-8", "replace")
            return text
        finally:
            response.release()
