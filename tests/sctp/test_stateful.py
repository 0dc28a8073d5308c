"""A hypothesis state machine over the in-memory pair: any interleaving of sends, reads, time and
link trouble keeps the invariants, and a graceful shutdown always delivers everything."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sctpctl.sctp.association import State
from sctpctl.sctp.config import Configuration
from sctpctl.sctp.events import AssociationClosed, CloseReason, MessageReceived

from .harness import Link, Pair, seeded


class AssociationPair(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 1000))
    def setup(self, seed: int) -> None:
        self.to_server = Link(rng=random.Random(seed))
        self.to_client = Link(rng=random.Random(seed + 1))
        self.pair = Pair(
            client=Configuration(random_bytes=seeded(seed), receive_window=32 * 1024),
            server=Configuration(random_bytes=seeded(seed + 1), receive_window=32 * 1024),
            to_server=self.to_server,
            to_client=self.to_client,
            auto_drain=False,
        )
        self.association = self.pair.connect()
        self.pair.auto_drain = True
        self.pair.run(lambda: self.association.state is State.ESTABLISHED)
        self.pair.auto_drain = False
        self.sent: Counter[bytes] = Counter()
        self.ordered: dict[int, list[bytes]] = defaultdict(list)
        self.received: list[MessageReceived] = []
        self.count = 0

    @rule(
        size=st.one_of(st.integers(1, 100), st.integers(1000, 70_000)),
        stream=st.integers(0, 2),
        unordered=st.booleans(),
    )
    def send(self, size: int, stream: int, unordered: bool) -> None:
        self.count += 1
        data = self.count.to_bytes(4, "big") * (size // 4 + 1)
        data = data[:size]
        self.association.send(data, stream=stream, unordered=unordered, now=self.pair.now)
        self.sent[data] += 1
        if not unordered:
            self.ordered[stream].append(data)

    @rule(steps=st.integers(1, 30))
    def let_time_pass(self, steps: int) -> None:
        for _ in range(steps):
            if not self.pair.step():
                break

    @rule()
    def application_reads(self) -> None:
        while (item := self.pair.server.next_event()) is not None:
            if isinstance(item[1], MessageReceived):
                self.received.append(item[1])
        while self.pair.client.next_event() is not None:
            pass

    @rule(loss=st.sampled_from([0.0, 0.05, 0.2]), duplicate=st.sampled_from([0.0, 0.1]))
    def trouble_on_the_link(self, loss: float, duplicate: float) -> None:
        for link in (self.to_server, self.to_client):
            link.loss = loss
            link.duplicate = duplicate
            link.reorder = 0.3 if loss else 0.0

    @invariant()
    def nothing_arrives_twice_or_out_of_order(self) -> None:
        if not hasattr(self, "received"):
            return
        got = Counter(m.data for m in self.received)
        assert all(got[data] <= self.sent[data] for data in got)
        for stream, expected in self.ordered.items():
            seen = [m.data for m in self.received if m.stream == stream and not m.unordered]
            assert seen == expected[: len(seen)]

    @invariant()
    def windows_are_never_negative(self) -> None:
        if hasattr(self, "association"):
            assert self.association.buffered_amount >= 0
            assert self.association.metrics().flight >= 0

    @precondition(lambda self: hasattr(self, "association"))
    @rule()
    def still_established(self) -> None:
        assert self.association.state is State.ESTABLISHED

    def teardown(self) -> None:
        if not hasattr(self, "association"):
            return
        for link in (self.to_server, self.to_client):
            link.loss = link.duplicate = link.reorder = 0.0
        self.pair.auto_drain = True
        self.application_reads()
        self.association.shutdown(now=self.pair.now)
        self.pair.run(lambda: bool(self.pair.events("s", AssociationClosed)), max_time=7200)
        self.received.extend(e for e in self.pair.events("s", MessageReceived))  # type: ignore[misc]
        assert Counter(m.data for m in self.received) == self.sent
        (closed,) = self.pair.events("c", AssociationClosed)
        assert closed.reason is CloseReason.SHUTDOWN  # type: ignore[attr-defined]


AssociationPair.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_an_association_pair_keeps_its_invariants = AssociationPair.TestCase
