"""The outcome vocabulary and the exit codes of DESIGN.md section 4, in one place.

Every tool that makes a connection attempt (``connect``, ``probe``, ``verify``) reports one of the
:class:`Outcome` words, and the command line exits with the code that belongs to it. The codes are
a contract: the verification runner compares exit codes of probes run inside pods the way cilium's
connectivity test compares curl's exit codes, so they must never change meaning.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class ExitCode(IntEnum):
    """Process exit codes shared by every command."""

    OK = 0
    "Success: the command did what was asked, every check passed."
    FAILED = 1
    "Checks failed (lint errors, verification failures, a denied policy verdict)."
    USAGE = 2
    "The command line was wrong (click's own code for usage errors)."
    ENVIRONMENT = 3
    "The environment is missing something: no cluster, no root, no nft, a missing permission."
    CLOSED = 10
    "The peer answered INIT with ABORT: nothing listens on that port."
    FILTERED = 11
    "No answer before the deadline: dropped by a policy or a firewall."
    REJECTED = 12
    "An ICMP unreachable other than protocol-unreachable came back."
    NO_SCTP_ON_TARGET = 13
    "ICMP protocol-unreachable: the target host has no SCTP (the module is not loaded)."
    NO_SCTP_LOCAL = 14
    "There is no SCTP backend on this host or in this network namespace."
    MISMATCH = 15
    "The association came up, but what came back differs from what was sent."
    INTERRUPTED = 130
    "Interrupted by the user (Ctrl-C)."


class Outcome(Enum):
    """What one connection attempt found, with the evidence that decides it."""

    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    REJECTED = "rejected"
    NO_SCTP_ON_TARGET = "no-sctp-on-target"
    NO_SCTP_LOCAL = "no-sctp-local"
    MISMATCH = "mismatch"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]

    @property
    def explanation(self) -> str:
        """One sentence a person can read, naming the evidence."""
        return _EXPLANATIONS[self]

    @classmethod
    def from_exit_code(cls, code: int) -> Outcome | None:
        """The outcome a probe's exit code stands for, or ``None`` for codes outside the table."""
        for outcome, value in _EXIT_CODES.items():
            if value == code:
                return outcome
        return None


_EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.OPEN: ExitCode.OK,
    Outcome.CLOSED: ExitCode.CLOSED,
    Outcome.FILTERED: ExitCode.FILTERED,
    Outcome.REJECTED: ExitCode.REJECTED,
    Outcome.NO_SCTP_ON_TARGET: ExitCode.NO_SCTP_ON_TARGET,
    Outcome.NO_SCTP_LOCAL: ExitCode.NO_SCTP_LOCAL,
    Outcome.MISMATCH: ExitCode.MISMATCH,
}

_EXPLANATIONS: dict[Outcome, str] = {
    Outcome.OPEN: "open: the association came up (the peer answered INIT with INIT-ACK)",
    Outcome.CLOSED: "connection refused: the peer answered INIT with ABORT (nothing listens there)",
    Outcome.FILTERED: "filtered: no answer before the deadline (dropped by a policy or firewall)",
    Outcome.REJECTED: "rejected: an ICMP unreachable came back (a firewall rejected the packet)",
    Outcome.NO_SCTP_ON_TARGET: (
        "no SCTP on the target: ICMP protocol-unreachable (the sctp module is not loaded there)"
    ),
    Outcome.NO_SCTP_LOCAL: "no SCTP here: SCTP is not available in this network namespace",
    Outcome.MISMATCH: "mismatch: the association came up but the data that came back differs",
}
