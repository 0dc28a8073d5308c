"""The receiving half of an association: TSN tracking, reassembly, stream ordering.

* TSNs (RFC 9260 section 6.2): ``cumulative_tsn`` is the last TSN received in sequence; TSNs
  beyond it sit in ``_above`` until the hole closes. Gap blocks and the duplicate list for SACK
  are computed from them. All arithmetic is modulo 2**32 (RFC 1982 serial numbers).
* Reassembly (section 6.9): the fragments of one message carry consecutive TSNs, B on the first
  and E on the last. Fragments arriving in order extend a "run" keyed by the TSN it waits for;
  a fragment whose predecessor is missing waits as an orphan until the predecessor's run reaches
  it. Every fragment is touched a constant number of times, whatever the arrival order.
* Ordering (section 6.5, 6.6): ordered messages are handed over in SSN order per stream;
  unordered ones as soon as they are complete.
* Receive window: user data bytes held here or in delivered-but-unread messages count against
  the advertised window until the application takes them.
"""

from __future__ import annotations

from collections import deque

from .constants import DATA_FLAG_BEGIN, DATA_FLAG_END, DATA_FLAG_UNORDERED, SSN_MASK, TSN_MASK
from .events import AssociationEvent, MessageReceived

__all__ = ["Inbound"]

_HALF = 1 << 31


def tsn_gt(a: int, b: int) -> bool:
    """a > b in 32-bit serial number arithmetic (RFC 1982)."""
    return a != b and ((a - b) & TSN_MASK) < _HALF


def tsn_ge(a: int, b: int) -> bool:
    return a == b or ((a - b) & TSN_MASK) < _HALF


class _Fragment:
    __slots__ = ("data", "flags", "ppid", "ssn", "stream", "tsn")

    def __init__(self, tsn: int, stream: int, ssn: int, ppid: int, flags: int, data: bytes):
        self.tsn = tsn
        self.stream = stream
        self.ssn = ssn
        self.ppid = ppid
        self.flags = flags
        self.data = data


class Inbound:
    """TSN bookkeeping and message assembly for one association."""

    def __init__(
        self, peer_initial_tsn: int, inbound_streams: int, events: deque[AssociationEvent]
    ):
        self.cumulative_tsn = (peer_initial_tsn - 1) & TSN_MASK
        self.highest_tsn = self.cumulative_tsn
        self._above: set[int] = set()
        self.duplicates: list[int] = []
        self.inbound_streams = inbound_streams
        self._next_ssn: dict[int, int] = {}
        self._pending: dict[int, dict[int, MessageReceived]] = {}
        self._runs: dict[int, list[_Fragment]] = {}
        self._orphans: dict[int, _Fragment] = {}
        self._events = events
        self.buffered = 0
        "User data bytes held (fragments, messages waiting for order, unread messages)."
        self.unread = 0
        "User data bytes of complete messages handed over but not yet taken by the application."

    # --- TSN tracking ---------------------------------------------------------------------

    def is_new(self, tsn: int) -> bool:
        """Whether ``tsn`` was not received before (RFC 9260 section 6.2: duplicates)."""
        return tsn_gt(tsn, self.cumulative_tsn) and tsn not in self._above

    def record(self, tsn: int) -> bool:
        """Mark ``tsn`` received; True when it arrived in sequence and no gap was involved
        (a TSN that fills a gap is reported at once too: RFC 9260 section 6.7)."""
        if tsn == (self.cumulative_tsn + 1) & TSN_MASK:
            if self._above:
                self._fill_gap(tsn)
                return False
            self.cumulative_tsn = tsn
            if tsn_gt(tsn, self.highest_tsn):
                self.highest_tsn = tsn
            return True
        self._above.add(tsn)
        if tsn_gt(tsn, self.highest_tsn):
            self.highest_tsn = tsn
        return False

    def _fill_gap(self, cum: int) -> None:
        """Advance the cumulative TSN from ``cum`` over TSNs already held above it."""
        above = self._above
        nxt = (cum + 1) & TSN_MASK
        while nxt in above:
            above.discard(nxt)
            cum = nxt
            nxt = (cum + 1) & TSN_MASK
        self.cumulative_tsn = cum
        if tsn_gt(cum, self.highest_tsn):
            self.highest_tsn = cum

    @property
    def has_gaps(self) -> bool:
        return bool(self._above)

    def gap_blocks(self, limit: int) -> tuple[tuple[int, int], ...]:
        """Gap Ack Blocks as offsets from the cumulative TSN (RFC 9260 section 3.3.4)."""
        if not self._above:
            return ()
        cum = self.cumulative_tsn
        offsets = sorted(((t - cum) & TSN_MASK) for t in self._above)
        blocks: list[tuple[int, int]] = []
        start = end = offsets[0]
        for off in offsets[1:]:
            if off == end + 1:
                end = off
                continue
            blocks.append((start, end))
            if len(blocks) >= limit:
                return tuple(blocks)
            start = end = off
        blocks.append((start, end))
        # Offsets are 16 bits on the wire; TSNs beyond that cannot be reported.
        return tuple(b for b in blocks[:limit] if b[1] <= 0xFFFF)

    # --- data -----------------------------------------------------------------------------

    def deliver_whole(self, stream: int, ssn: int, ppid: int, flags: int, data: bytes) -> None:
        """A whole message (B and E) in sequence: the fast path of ``accept``."""
        size = len(data)
        self.buffered += size
        if flags & DATA_FLAG_UNORDERED:
            self.unread += size
            self._events.append(MessageReceived(stream, ppid, data, True))
            return
        next_ssn = self._next_ssn
        expected = next_ssn.get(stream, 0)
        if ssn != expected or self._pending:
            self._complete(stream, ssn, ppid, False, data)
            return
        self.unread += size
        self._events.append(MessageReceived(stream, ppid, data, False))
        next_ssn[stream] = (expected + 1) & SSN_MASK

    def accept(self, tsn: int, stream: int, ssn: int, ppid: int, flags: int, data: bytes) -> None:
        """Take a new DATA chunk (already recorded) and deliver what it completes."""
        self.buffered += len(data)
        if flags & 3 == 3:  # B and E: a whole message, the common case
            self._complete(stream, ssn, ppid, bool(flags & DATA_FLAG_UNORDERED), data)
            return
        fragment = _Fragment(tsn, stream, ssn, ppid, flags, data)
        if flags & DATA_FLAG_BEGIN:
            self._extend([fragment])
            return
        run = self._runs.pop(tsn, None)
        if run is None:
            self._orphans[tsn] = fragment
            return
        run.append(fragment)
        self._extend(run)

    def _extend(self, run: list[_Fragment]) -> None:
        """Absorb waiting orphans after ``run``; deliver it when it reaches its E fragment."""
        orphans = self._orphans
        while True:
            last = run[-1]
            if last.flags & DATA_FLAG_END:
                first = run[0]
                data = b"".join(f.data for f in run)
                self._complete(
                    first.stream,
                    first.ssn,
                    first.ppid,
                    bool(first.flags & DATA_FLAG_UNORDERED),
                    data,
                )
                return
            nxt = (last.tsn + 1) & TSN_MASK
            orphan = orphans.pop(nxt, None) if orphans else None
            if orphan is None:
                self._runs[nxt] = run
                return
            if orphan.flags & DATA_FLAG_BEGIN:
                # A B fragment cannot continue a message: the peer broke section 6.9. Drop the
                # broken run and start over from the orphan.
                self.buffered -= sum(len(f.data) for f in run)
                run = [orphan]
                continue
            run.append(orphan)

    def _complete(self, stream: int, ssn: int, ppid: int, unordered: bool, data: bytes) -> None:
        message = MessageReceived(stream, ppid, data, unordered)
        if unordered:
            self.unread += len(data)
            self._events.append(message)
            return
        expected = self._next_ssn.get(stream, 0)
        if ssn != expected:
            self._pending.setdefault(stream, {})[ssn] = message
            return
        self.unread += len(data)
        self._events.append(message)
        expected = (expected + 1) & SSN_MASK
        pending = self._pending.get(stream)
        if pending:
            while expected in pending:
                self._hand_over(pending.pop(expected))
                expected = (expected + 1) & SSN_MASK
            if not pending:
                del self._pending[stream]  # keeps the in-order fast path open
        self._next_ssn[stream] = expected

    def _hand_over(self, message: MessageReceived) -> None:
        self.unread += len(message.data)
        self._events.append(message)

    # --- PR-SCTP and RE-CONFIG ----------------------------------------------------------------

    def forward_tsn(self, new_cumulative_tsn: int, streams: tuple[tuple[int, int], ...]) -> None:
        """RFC 3758 section 3.6: skip abandoned TSNs and SSNs, drop their fragments."""
        if not tsn_gt(new_cumulative_tsn, self.cumulative_tsn):
            return
        self._above = {t for t in self._above if tsn_gt(t, new_cumulative_tsn)}
        self.cumulative_tsn = new_cumulative_tsn
        if tsn_gt(new_cumulative_tsn, self.highest_tsn):
            self.highest_tsn = new_cumulative_tsn
        self._fill_gap(new_cumulative_tsn)
        # Fragments at or below the new cumulative TSN belong to abandoned messages.
        for key, run in list(self._runs.items()):
            if not tsn_gt(run[0].tsn, new_cumulative_tsn):
                del self._runs[key]
                self.buffered -= sum(len(f.data) for f in run)
        for tsn, orphan in list(self._orphans.items()):
            if not tsn_gt(tsn, new_cumulative_tsn):
                del self._orphans[tsn]
                self.buffered -= len(orphan.data)
        for stream, ssn in streams:
            expected = self._next_ssn.get(stream, 0)
            if ((ssn - expected) & SSN_MASK) < 0x8000:  # ssn >= expected
                pending = self._pending.get(stream, {})
                # Complete messages up to the skipped SSN are handed over in order; the
                # abandoned ones simply never come.
                while expected != ((ssn + 1) & SSN_MASK):
                    message = pending.pop(expected, None)
                    if message is not None:
                        self._hand_over(message)
                    expected = (expected + 1) & SSN_MASK
                while expected in pending:
                    self._hand_over(pending.pop(expected))
                    expected = (expected + 1) & SSN_MASK
                if not pending:
                    self._pending.pop(stream, None)
                self._next_ssn[stream] = expected

    def reset_streams(self, streams: tuple[int, ...]) -> None:
        """RFC 6525 section 5.2.2: the peer's SSNs on these streams (all if empty) restart at 0."""
        targets = streams or tuple(set(self._next_ssn) | set(self._pending))
        for stream in targets:
            self._next_ssn[stream] = 0
            for message in self._pending.pop(stream, {}).values():
                self.buffered -= len(message.data)

    def held_fragments(self) -> int:
        return sum(len(r) for r in self._runs.values()) + len(self._orphans)
