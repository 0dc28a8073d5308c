"""The kernel backend: Linux SCTP through stdlib sockets (RFC 6458 socket API, one-to-one style).

Used when ``socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)`` works. Stream, PPID and the unordered
flag travel in ``SCTP_SNDINFO``/``SCTP_RCVINFO`` ancillary data, message boundaries in
``MSG_EOR``, and the stream count in ``SCTP_INITMSG``. The PPID is opaque to the kernel, so it
is passed in network byte order. A probe through the kernel completes the handshake and
ABORTs (the socket API has no half-open scan); the in-process and host stacks do not.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from collections.abc import AsyncIterator, Iterable

from sctpctl.outcomes import Outcome

from .addresses import resolve
from .api import (
    ConnectError,
    Message,
    ProbeResult,
    SctpAssociation,
    SctpError,
    SctpListener,
    SctpStack,
    Termination,
    check_message,
)

__all__ = ["KernelStack", "kernel_sctp_available"]

IPPROTO_SCTP = 132
SCTP_INITMSG = 2
SCTP_RECVRCVINFO = 32
SCTP_SNDINFO = 2  # cmsg type
SCTP_RCVINFO = 3  # cmsg type
SCTP_UNORDERED = 1
MSG_NOTIFICATION = 0x8000
_INITMSG = struct.Struct("=HHHH")
_SNDINFO = struct.Struct("=HH4sIi")  # sid, flags, ppid (network order), context, assoc id
_RCVINFO = struct.Struct("=HHH2x4sIIIi")  # sid, ssn, flags, ppid, tsn, cumtsn, context, assoc
_LINGER_ABORT = struct.pack("ii", 1, 0)

_CONNECT_ERRORS: dict[int, Outcome] = {
    errno.ECONNREFUSED: Outcome.CLOSED,
    errno.ETIMEDOUT: Outcome.FILTERED,
    errno.ENOPROTOOPT: Outcome.NO_SCTP_ON_TARGET,  # ICMP protocol unreachable
    errno.EHOSTUNREACH: Outcome.REJECTED,
    errno.ENETUNREACH: Outcome.REJECTED,
    errno.EACCES: Outcome.REJECTED,
}


def kernel_sctp_available() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


def _sctp_socket(family: int, streams: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM, IPPROTO_SCTP)
    sock.setblocking(False)
    sock.setsockopt(IPPROTO_SCTP, SCTP_INITMSG, _INITMSG.pack(streams, 0xFFFF, 0, 0))
    sock.setsockopt(IPPROTO_SCTP, SCTP_RECVRCVINFO, 1)
    return sock


class KernelAssociation(SctpAssociation):
    def __init__(self, sock: socket.socket, streams: int) -> None:
        super().__init__()
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        peer = sock.getpeername()
        self.peer_host, self.peer_port = str(peer[0]), int(peer[1])
        self.local_port = int(sock.getsockname()[1])
        self.outbound_streams = streams
        self.inbound_streams = 0xFFFF
        self._partial = bytearray()

    def _terminate(self, reason: str, detail: str = "") -> None:
        if self._end(Termination(reason, True, detail)):
            self._sock.close()

    async def _ready(self, writer: bool) -> None:
        future = self._loop.create_future()
        fd = self._sock.fileno()
        add, remove = (
            (self._loop.add_writer, self._loop.remove_writer)
            if writer
            else (self._loop.add_reader, self._loop.remove_reader)
        )
        add(fd, future.set_result, None)
        try:
            await future
        finally:
            remove(fd)

    async def send(
        self, data: bytes, *, stream: int = 0, ppid: int = 0, unordered: bool = False
    ) -> None:
        check_message(data, stream, ppid, self.outbound_streams)
        info = _SNDINFO.pack(stream, SCTP_UNORDERED if unordered else 0, ppid.to_bytes(4), 0, 0)
        while True:
            if self._termination is not None:
                raise SctpError(f"the association has ended ({self._termination.reason})")
            try:
                self._sock.sendmsg([data], [(IPPROTO_SCTP, SCTP_SNDINFO, info)])
                return
            except BlockingIOError:
                await self._ready(writer=True)
            except OSError as error:
                self._terminate("peer-aborted", error.strerror or str(error))

    async def receive(self) -> Message | None:
        while self._termination is None:
            try:
                data, ancillary, flags, _ = self._sock.recvmsg(1 << 16, 256)
            except BlockingIOError:
                await self._ready(writer=False)
                continue
            except OSError as error:
                self._terminate("peer-aborted", error.strerror or str(error))
                break
            if not data and not flags:
                self._terminate("shutdown")
                break
            if flags & MSG_NOTIFICATION:
                continue
            self._partial += data
            if not flags & socket.MSG_EOR:
                continue
            stream, unordered, ppid = 0, False, 0
            for level, kind, cdata in ancillary:
                if level == IPPROTO_SCTP and kind == SCTP_RCVINFO and len(cdata) >= _RCVINFO.size:
                    sid, _ssn, rflags, raw_ppid, *_ = _RCVINFO.unpack_from(cdata)
                    stream, unordered = sid, bool(rflags & SCTP_UNORDERED)
                    ppid = int.from_bytes(raw_ppid)
            message = Message(bytes(self._partial), stream, ppid, unordered)
            self._partial.clear()
            return message
        return None

    async def close(self, grace: float = 5.0) -> Termination:
        if self._termination is None:
            try:
                self._sock.shutdown(socket.SHUT_WR)  # SHUTDOWN once everything is acknowledged
                async with asyncio.timeout(grace):
                    while await self.receive() is not None:
                        pass
            except (TimeoutError, OSError):
                self.abort("shutdown timed out")
        return await self.wait_closed()

    def abort(self, reason: str = "") -> None:
        if self._termination is None:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
            self._terminate("local-abort", reason)


class KernelListener(SctpListener):
    def __init__(self, sock: socket.socket, port: int, streams: int) -> None:
        self._sock = sock
        self.port = port
        self._streams = streams

    async def accept(self) -> SctpAssociation:
        try:
            conn, _ = await asyncio.get_running_loop().sock_accept(self._sock)
        except OSError as error:
            raise SctpError(f"the listener on port {self.port} is closed: {error}") from error
        conn.setblocking(False)
        return KernelAssociation(conn, self._streams)

    async def close(self) -> None:
        self._sock.close()


class KernelStack(SctpStack):
    name = "kernel"

    async def connect(self, host: str, port: int, *, streams: int = 10) -> KernelAssociation:
        address = await resolve(host)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = _sctp_socket(family, streams)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except OSError as error:
            sock.close()
            outcome = _CONNECT_ERRORS.get(error.errno or 0)
            if outcome is None:
                raise SctpError(f"connect to {host}:{port} failed: {error.strerror}") from error
            raise ConnectError(f"{error.strerror} ({host}:{port})", outcome) from error
        except BaseException:
            sock.close()
            raise
        return KernelAssociation(sock, streams)

    async def listen(
        self, port: int, *, host: str | None = None, streams: int = 10
    ) -> KernelListener:
        address = await resolve(host) if host else "::"
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = _sctp_socket(family, streams)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            raise SctpError(f"cannot listen on port {port}: {error.strerror}") from error
        return KernelListener(sock, port, streams)

    async def probe(
        self,
        targets: Iterable[tuple[str, int]],
        *,
        wait: float = 3.0,
        concurrency: int = 256,
    ) -> AsyncIterator[ProbeResult]:
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def one(host: str, port: int) -> ProbeResult:
            async with semaphore:
                try:
                    async with asyncio.timeout(wait):
                        association = await self.connect(host, port, streams=1)
                except TimeoutError:
                    return ProbeResult(host, port, Outcome.FILTERED, "no answer")
                except ConnectError as error:
                    return ProbeResult(host, port, error.outcome, error.message)
                association.abort("probe")
                return ProbeResult(host, port, Outcome.OPEN, "handshake completed")

        tasks = [asyncio.ensure_future(one(host, port)) for host, port in targets]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()

    async def close(self) -> None:
        return None
