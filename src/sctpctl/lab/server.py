"""Running a lab's API server: state folder, store, registry and HTTPS on 127.0.0.1.

The lab daemon (and ``sctpctl lab apiserver``, and the tests) use :class:`LabApiServer`::

    server = LabApiServer(LabState(path), port=0)
    await server.start()          # listens, writes <state>/kubeconfig
    server.registry               # the in-process API for the controllers
    await server.stop()

It only ever binds 127.0.0.1: the lab's API is for this machine's kubectl and sctpctl.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from aiohttp import web

from sctpctl.lab import kubeconfig
from sctpctl.lab.admission import Networks
from sctpctl.lab.apiserver import ApiServer
from sctpctl.lab.registry import Registry
from sctpctl.lab.runtime import PodRuntime
from sctpctl.lab.state import LabState
from sctpctl.lab.store import Store

HOST = "127.0.0.1"
DEFAULT_PORT = 6443


class LabApiServer:
    def __init__(
        self,
        state: LabState,
        *,
        port: int = DEFAULT_PORT,
        runtime: PodRuntime | None = None,
        networks: Networks | None = None,
        watch_timeout: Callable[[], float] | None = None,
    ) -> None:
        self.state = state
        self.requested_port = port
        self.runtime = runtime
        self.networks = networks
        self.watch_timeout = watch_timeout
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._store: Store | None = None
        self._registry: Registry | None = None
        self._api: ApiServer | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise RuntimeError("the API server is not started")
        return self._registry

    def set_runtime(self, runtime: PodRuntime | None) -> None:
        """Attach the kubelet side of exec and logs (the lab daemon does it once nodes run)."""
        self.runtime = runtime
        if self._api is not None:
            self._api.runtime = runtime

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.state.serving_certificate, self.state.serving_key)
        return context

    async def start(self) -> None:
        self.state.ensure()
        self._store = Store(self.state.store)
        self._registry = Registry(self._store, networks=self.networks)
        await self._registry.bootstrap()
        self._api = ApiServer(self._registry, token=self.state.token(), runtime=self.runtime)
        if self.watch_timeout is not None:
            self._api.watch_timeout = self.watch_timeout
        self._runner = web.AppRunner(
            self._api.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            HOST,
            self.requested_port,
            ssl_context=self.ssl_context(),
        )
        try:
            await site.start()
        except OSError:
            await self.stop()
            raise
        self.port = int(self._runner.addresses[0][1])
        self._api.server_address = f"{HOST}:{self.port}"
        kubeconfig.write(self.state, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            server = self._runner.server
            connections = server.connections if server is not None else []
            transports = [c.transport for c in connections if c.transport is not None]
            await self._runner.cleanup()
            # Closing a TLS connection waits for the client's close_notify, which a client
            # that keeps an idle keep-alive connection (kr8s, lightkube) never sends: abort
            # what is left, so that a stopped server holds no connection.
            for transport in transports:
                transport.abort()
            self._runner = None
        if self._store is not None:
            self._store.close()
            self._store = None
