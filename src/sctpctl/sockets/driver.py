"""The asyncio driver of one core ``Endpoint`` over one link (raw IP or UDP).

Every input follows the same turn (docs/sctp-core.md, "The contract"): feed the core everything
that is ready (all readable packets of a socket, then its ICMP errors), hand the events to their
associations' handlers, send what the core has to send in one flush, and re-arm the one timer at
``get_timer()``. User calls (send, shutdown, abort, reading a message) only change the core and
ask for a turn with :meth:`EndpointDriver.kick`, which coalesces them into one ``call_soon``.

Packet taps (the prober of ``sockets/probe.py``) see each packet before the endpoint does: an
answer to a probe must not reach the endpoint, to which an INIT-ACK without an association is
out of the blue.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Protocol

from sctpctl.sctp import Address, Association, AssociationClosed, AssociationEvent, Endpoint

from .links import IcmpReport, Link, Received

__all__ = ["AssociationHandler", "EndpointDriver", "PacketTap"]

log = logging.getLogger(__name__)


class AssociationHandler(Protocol):
    """Receives the events of one association (the application's handle on it)."""

    def handle_event(self, event: AssociationEvent) -> None: ...


class PacketTap(Protocol):
    """Sees packets and ICMP reports before the endpoint; returns True to take them."""

    def offer_packet(self, data: bytes, source: Address) -> bool: ...

    def offer_icmp(self, report: IcmpReport) -> bool: ...


Acceptor = Callable[[Association], AssociationHandler | None]
"Makes the handler of an association a listener accepted; None aborts it."


class EndpointDriver:
    """Runs ``endpoint`` over ``link`` in the running asyncio loop until :meth:`close`."""

    def __init__(self, endpoint: Endpoint, link: Link) -> None:
        self.endpoint = endpoint
        self.link = link
        self._loop = asyncio.get_running_loop()
        self._handlers: dict[int, AssociationHandler] = {}
        self._acceptors: dict[int, Acceptor] = {}
        self._taps: list[PacketTap] = []
        self._after_turn: set[Callable[[], None]] = set()
        "Called after each turn's events (send buffers that may have drained)."
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._kicked = False
        self._turning = False
        self._closed = False
        self.packets_received = 0
        self.packets_sent = 0
        for sock in link.sockets:
            self._loop.add_reader(sock.fileno(), self._on_readable, sock)

    def now(self) -> float:
        return self._loop.time()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- registration ---------------------------------------------------------------------------

    def attach(self, association: Association, handler: AssociationHandler) -> None:
        """Send ``association``'s events to ``handler`` (for associations this side connects)."""
        self._handlers[association.id] = handler

    def detach(self, association: Association) -> None:
        self._handlers.pop(association.id, None)

    def add_acceptor(self, port: int, acceptor: Acceptor) -> None:
        self._acceptors[port] = acceptor

    def remove_acceptor(self, port: int) -> None:
        self._acceptors.pop(port, None)

    def add_tap(self, tap: PacketTap) -> None:
        self._taps.append(tap)

    def remove_tap(self, tap: PacketTap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)

    def watch_turns(self, callback: Callable[[], None], *, on: bool = True) -> None:
        """Call ``callback`` after every turn (or stop doing so)."""
        if on:
            self._after_turn.add(callback)
        else:
            self._after_turn.discard(callback)

    # --- the turn -------------------------------------------------------------------------------

    def kick(self) -> None:
        """Ask for a turn soon: the application changed something (sent, read, closed)."""
        if not self._kicked and not self._closed:
            self._kicked = True
            self._loop.call_soon(self._kicked_turn)

    def turn_now(self) -> None:
        """A turn right away (a message to an idle association: nothing to bundle it with, and
        a request should not wait a loop iteration); a kick when a turn is running."""
        if self._turning or self._closed:
            self.kick()
        else:
            self.turn()

    def _kicked_turn(self) -> None:
        self._kicked = False
        if not self._closed:
            self.turn()

    def _on_readable(self, sock: socket.socket) -> None:
        packets: list[Received] = []
        reports: list[IcmpReport] = []
        self.link.read(sock, packets, reports)
        now = self._loop.time()
        endpoint = self.endpoint
        self.packets_received += len(packets)
        if self._taps:
            for data, source, destination in packets:
                if not self._offer_packet(data, source):
                    endpoint.receive_packet(data, source=source, destination=destination, now=now)
        else:
            for data, source, destination in packets:
                endpoint.receive_packet(data, source=source, destination=destination, now=now)
        self._feed_icmp(reports, now)
        self.turn()

    def _offer_packet(self, data: bytes, source: Address) -> bool:
        return any(tap.offer_packet(data, source) for tap in self._taps)

    def _feed_icmp(self, reports: list[IcmpReport], now: float) -> None:
        for report in reports:
            if any(tap.offer_icmp(report) for tap in self._taps):
                continue
            self.endpoint.handle_icmp_error(
                report.kind,
                destination=report.destination,
                quoted=report.quoted,
                now=now,
                mtu=report.mtu,
            )

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        self.endpoint.handle_timer(now=self._loop.time())
        self.turn()

    def turn(self) -> None:
        """Deliver events, send what is due, re-arm the timer (what every input ends with)."""
        self._turning = True
        try:
            for _ in range(4):  # local send errors feed the core again; a few rounds at most
                self._dispatch()
                for callback in list(self._after_turn):
                    callback()
                reports = self._flush()
                if not reports:
                    break
                self._feed_icmp(reports, self._loop.time())
            self._arm()
        finally:
            self._turning = False

    def _dispatch(self) -> None:
        endpoint = self.endpoint
        handlers = self._handlers
        while (item := endpoint.next_event()) is not None:
            association, event = item
            handler = handlers.get(association.id)
            if handler is None:
                handler = self._accept(association)
                if handler is None:
                    continue
            try:
                handler.handle_event(event)
            except Exception:
                log.exception("an association handler failed; aborting the association")
                association.abort(b"application error", now=self._loop.time())
            if type(event) is AssociationClosed:
                handlers.pop(association.id, None)

    def _accept(self, association: Association) -> AssociationHandler | None:
        acceptor = self._acceptors.get(association.local_port)
        handler = acceptor(association) if acceptor is not None else None
        if handler is None:
            # Nobody takes it (the listener went away meanwhile): the peer learns at once.
            association.abort(b"not accepted", now=self._loop.time())
            while association.next_event() is not None:
                pass
            return None
        self._handlers[association.id] = handler
        return handler

    def _flush(self) -> list[IcmpReport]:
        reports: list[IcmpReport] = []
        packets = self.endpoint.packets_to_send(now=self._loop.time())
        if packets:
            self.packets_sent += len(packets)
            self.link.send_all(packets, reports)
        return reports

    def _arm(self) -> None:
        # The deadline moves later with almost every packet (T3 and heartbeat restarts): a
        # timer already set earlier is kept and, when it fires early, the core finds nothing
        # due and the timer is set again. Only an earlier deadline replaces it.
        deadline = self.endpoint.get_timer()
        if deadline is None:
            return  # a timer still set fires for nothing, once
        if self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    # --- the end --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading, cancel the timer and close the link (associations are not told)."""
        if self._closed:
            return
        self._closed = True
        for sock in self.link.sockets:
            self._loop.remove_reader(sock.fileno())
        if self._timer is not None:
            self._timer.cancel()
        self.link.close()
