"""The control channel of the host stack service, and the functions that use it.

The service listens on a Unix socket at a path (``sctpctl stack serve --control PATH``, mode 0600,
so only its owner, root in the lab, may use it). A client sends one JSON object per line and
reads one JSON object per line back:

| request | answer |
|---|---|
| ``{"op": "add-netns", "netns": NAME}`` | ``{"ok": true, "netns": [served...]}`` |
| ``{"op": "remove-netns", "netns": NAME}`` | ``{"ok": true, "removed": bool, "netns": [...]}`` |
| ``{"op": "list"}`` | ``{"ok": true, "netns": [...], "pid": PID}`` |

and ``{"ok": false, "error": MESSAGE}`` when a request fails. The socket exists only while the
service runs and serves every namespace it was started with, so a successful ``list`` means it
is ready. The lab's kubelet calls :func:`add_netns` right after creating a pod's namespace and
:func:`remove_netns` before deleting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from sctpctl.host.commands import HostError

from .service import StackService

__all__ = [
    "StackControlError",
    "add_netns",
    "control_request",
    "list_netns",
    "remove_netns",
    "remove_socket_file",
    "serve_control",
]

log = logging.getLogger(__name__)

_MAX_LINE = 64 * 1024


class StackControlError(HostError):
    """The control channel is unreachable, or the service refused a request."""


def _netns_name(request: dict[str, Any]) -> str:
    name = request.get("netns")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a network namespace name")
    return name


async def _handle(service: StackService, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "add-netns":
        await service.add(_netns_name(request))
        return {"ok": True, "netns": service.names()}
    if op == "remove-netns":
        removed = await service.remove(_netns_name(request))
        return {"ok": True, "removed": removed, "netns": service.names()}
    if op == "list":
        return {"ok": True, "netns": service.names(), "pid": os.getpid()}
    raise ValueError(f"unknown op {op!r} (add-netns, remove-netns, list)")


async def serve_control(service: StackService, path: Path) -> asyncio.Server:
    """Listen for control requests at ``path`` (a stale socket file left by a crash is
    replaced; a live one is an error)."""
    if _occupied(path):
        if await _answers(path):
            raise HostError(f"a stack service already uses the control socket {path}")
        remove_socket_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("a request is a JSON object")
                    answer = await _handle(service, request)
                except (ValueError, HostError) as error:
                    answer = {"ok": False, "error": str(error)}
                except Exception as error:  # never lets one request take the service down
                    log.exception("control request failed")
                    answer = {"ok": False, "error": f"internal error: {error}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(client, path=str(path), limit=_MAX_LINE)
    finally:
        os.umask(old_umask)
    return server


def _occupied(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def remove_socket_file(path: Path) -> None:
    """Remove a control socket file (missing is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _answers(path: Path) -> bool:
    try:
        await control_request(path, {"op": "list"})
    except StackControlError:
        return False
    return True


async def control_request(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the service's control socket at ``path``; its answer."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=_MAX_LINE)
    except (FileNotFoundError, ConnectionRefusedError) as error:
        raise StackControlError(f"no stack service answers on {path}") from error
    except OSError as error:
        raise StackControlError(f"cannot reach the stack service at {path}: {error}") from error
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
    except OSError as error:
        raise StackControlError(f"the stack service at {path} went away: {error}") from error
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not line:
        raise StackControlError(f"the stack service at {path} closed the connection")
    answer = json.loads(line)
    if not isinstance(answer, dict):
        raise StackControlError(f"the stack service at {path} answered {answer!r}")
    if not answer.get("ok"):
        raise StackControlError(str(answer.get("error", "the request failed")))
    return answer


async def add_netns(path: Path, name: str) -> list[str]:
    """Have the service at ``path`` serve network namespace ``name``; the served names."""
    answer = await control_request(path, {"op": "add-netns", "netns": name})
    return list(answer["netns"])


async def remove_netns(path: Path, name: str) -> bool:
    """Have the service stop serving ``name`` (its associations are aborted); False when it
    did not serve it."""
    answer = await control_request(path, {"op": "remove-netns", "netns": name})
    return bool(answer["removed"])


async def list_netns(path: Path) -> list[str]:
    """The namespaces the service serves (``""`` is its own)."""
    answer = await control_request(path, {"op": "list"})
    return list(answer["netns"])
