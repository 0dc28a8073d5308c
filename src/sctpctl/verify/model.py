"""The verification's vocabulary: checks, actions, expectations and what was observed.

The model is cilium's connectivity test expressed as Python data (STYLE.md rule 12):

- a :class:`Check` (a named test of the catalogue) has a scenario and requirements;
- the scenario turns the live state of the run (pods, addresses, node states) into
  :class:`Action` s, each one probe from a source to a destination with an :class:`Expectation`;
- performing an action gives an :class:`Observation`: the outcome word of DESIGN.md section 4
  (``open``, ``filtered``, ...) or, for node checks, the module state word (``loaded``,
  ``blacklisted``, ...); an observation is *inconclusive* when the probe could not run (the
  exec transport failed, the output was not the tool's), and only those are retried;
- a check passes when every action's observation is one its expectation accepts.

Failures are recorded on the action, never raised, so one run reports everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sctpctl.outcomes import Outcome
from sctpctl.verify.context import PodRef, RunContext

CHECK_FAILED = "check-failed"
"The word of an observation whose probe could not run or whose result was lost."


class Status(StrEnum):
    """How a check ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Feature(StrEnum):
    """What a check needs from the cluster; a check whose needs are unmet is skipped."""

    SCTP_NODE = "sctp-node"
    "At least one selected node has SCTP."
    TWO_SCTP_NODES = "two-sctp-nodes"
    "Two selected nodes have SCTP (for cross-node checks)."
    NODE_WITHOUT_SCTP = "node-without-sctp"
    "Some node has no SCTP (for the negative check)."
    PERF = "perf"
    "``--perf`` was given."


@dataclass(frozen=True, slots=True)
class Expectation:
    """The words an observation may have for the action to pass, under one name."""

    name: str
    "How a report says it: ``connected``, ``dropped``, ..."
    words: frozenset[str]

    def accepts(self, word: str) -> bool:
        return word in self.words

    @classmethod
    def of(cls, name: str, *outcomes: Outcome | str) -> Expectation:
        return cls(name, frozenset(o.value if isinstance(o, Outcome) else o for o in outcomes))


EXPECT_OPEN = Expectation.of("connected", Outcome.OPEN)
"The association came up (and, for connect with an echo check, the data came back intact)."
EXPECT_BLOCKED = Expectation.of("blocked", Outcome.FILTERED, Outcome.REJECTED)
"A policy stopped it: dropped (no answer) or rejected (ICMP unreachable)."
EXPECT_NO_SCTP_LOCAL = Expectation.of("no SCTP here", Outcome.NO_SCTP_LOCAL)
EXPECT_NO_SCTP_ON_TARGET = Expectation.of("no SCTP on the target", Outcome.NO_SCTP_ON_TARGET)
EXPECT_REACHABLE_TCP = Expectation.of("reachable", Outcome.OPEN, Outcome.CLOSED)
"""A TCP probe to a port nobody listens on: the pod's kernel answers SYN with RST (``closed``),
which proves the packet got there; a listener would make it ``open``."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What one action saw."""

    word: str
    "The outcome word, a module state word, or :data:`CHECK_FAILED`."
    detail: str = ""
    "Evidence in words (the tool's own detail, a container's exit, an error)."
    exit_code: int | None = None
    data: Any = None
    "The tool's parsed JSON output, when it printed some."
    attempts: int = 1
    seconds: float = 0.0

    @property
    def inconclusive(self) -> bool:
        return self.word == CHECK_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.word,
            "detail": self.detail,
            "exitCode": self.exit_code,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
        }


Perform = Callable[[RunContext], Awaitable[Observation]]


@dataclass(frozen=True, slots=True)
class InitProbe:
    """One target of an INIT scan (``SCTP``) or a TCP connect (``TCP``) from a pod; the runner
    runs the probes of one pod together, as one ``sctpctl probe``."""

    pod: PodRef
    host: str
    port: int
    protocol: str = "SCTP"


@dataclass(frozen=True)
class Action:
    """One probe from a source to a destination, and what it must find."""

    name: str
    "``source -> destination (address:port)``, as a report prints it."
    expect: Expectation
    probe: InitProbe | None = None
    "An INIT scan target; or else:"
    perform: Perform | None = field(default=None, compare=False)
    "Anything else that observes (a connect with data, a container's exit, a node's state)."
    source: str = ""
    "``namespace/pod`` (or the node) the probe runs from."
    target: PodRef | None = None
    "The pod the traffic ends at (behind a Service: the server), for the diagnosis."
    port: int = 0
    "The port at the target."
    protocol: str = "SCTP"
    cell: tuple[str, str] | None = None
    "For truth tables: (``namespace/pod`` of the source, of the destination)."


@dataclass(slots=True)
class ActionResult:
    action: Action
    observation: Observation
    diagnosis: str = ""
    "For a failure: the likely cause, in words."

    @property
    def passed(self) -> bool:
        return self.action.expect.accepts(self.observation.word)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.action.name,
            "source": self.action.source,
            "expected": self.action.expect.name,
            "expectedOutcomes": sorted(self.action.expect.words),
            **self.observation.to_dict(),
            "passed": self.passed,
            **({"diagnosis": self.diagnosis} if self.diagnosis else {}),
        }


Scenario = Callable[[RunContext], Awaitable[Sequence[Action]]]
"""Builds the actions of a check from the run's live state (addresses are known only then)."""

Diagnose = Callable[[RunContext, Sequence[ActionResult]], Awaitable[list[str]]]
"""Extra lines for a failed check (truth tables side by side, for instance)."""


@dataclass(frozen=True)
class Check:
    """One named test of the catalogue (``--test`` regular expressions match the name)."""

    name: str
    summary: str
    "One line: what the check proves."
    scenario: Scenario = field(compare=False)
    requires: frozenset[Feature] = frozenset()
    policies: Callable[[RunContext], Sequence[dict[str, Any]]] | None = field(
        default=None, compare=False
    )
    """NetworkPolicies applied before the actions and removed after them; checks with policies
    run one after another, since policies in a namespace affect each other's traffic."""
    settle: bool = False
    """Actions that fail are tried again until the deadline for policies to take effect: a
    plugin programs its rules some time after the API accepted the policy."""
    diagnose: Diagnose | None = field(default=None, compare=False)
    deploys: bool = True
    "Whether it needs the run's pods (the module check reads node state only)."
    alone: bool = False
    """Runs after every other check, by itself, its actions one at a time (measurements that
    other traffic would skew)."""
    figures: bool = False
    "Its observations' details are results to show even when it passes (perf figures)."


@dataclass(slots=True)
class CheckResult:
    check: Check
    status: Status
    actions: list[ActionResult] = field(default_factory=list)
    reason: str = ""
    "Why it was skipped, or the summary of its failure."
    log: list[str] = field(default_factory=list)
    "Buffered lines, printed only when the check failed (or with -v)."
    seconds: float = 0.0

    @property
    def failed_actions(self) -> list[ActionResult]:
        return [a for a in self.actions if not a.passed]

    @property
    def outcome(self) -> str:
        """The check's one word: the outcome of its first failed action, else of its first."""
        failed = self.failed_actions
        if failed:
            return failed[0].observation.word
        if self.actions:
            return self.actions[0].observation.word
        return self.status.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.check.name,
            "summary": self.check.summary,
            "status": self.status.value,
            "outcome": self.outcome,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "actions": [a.to_dict() for a in self.actions],
            **({"log": list(self.log)} if self.status is Status.FAILED else {}),
        }
