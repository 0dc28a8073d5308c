"""The report of a run: per check its status and outcome word, failures with their diagnosis and
buffered log, and one summary line (cilium's format, in sctpctl's words)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sctpctl.verify.context import NodeInfo, NodeModule, Placement
from sctpctl.verify.model import CheckResult, Status


@dataclass
class Report:
    run_id: str
    namespaces: tuple[str, ...]
    results: list[CheckResult] = field(default_factory=list)
    nodes: Sequence[NodeInfo] = ()
    selected: Sequence[str] = ()
    modules: dict[str, NodeModule] = field(default_factory=dict)
    placement: Placement | None = None
    started: str = ""
    "RFC 3339 time the run started."
    seconds: float = 0.0
    interrupted: bool = False
    kept: bool = False
    "The objects were left in place (``--keep``)."
    cleanup_error: str = ""

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def actions(self) -> int:
        return sum(len(r.actions) for r in self.results)

    @property
    def failed_actions(self) -> int:
        return sum(len(r.failed_actions) for r in self.results)

    @property
    def passed(self) -> bool:
        return not self.interrupted and self.count(Status.FAILED) == 0 and bool(self.results)

    def summary(self) -> str:
        """The one line: ``All 16 checks (58 actions) passed, 1 skipped`` or the failures."""
        ran = len(self.results) - self.count(Status.SKIPPED)
        skipped = self.count(Status.SKIPPED)
        tail = f", {skipped} skipped" if skipped else ""
        seconds = f" in {self.seconds:.1f} s"
        if self.interrupted:
            return f"interrupted after {self.count(Status.PASSED)} passed checks{tail}{seconds}"
        failed = self.count(Status.FAILED)
        if failed:
            return (
                f"{failed}/{ran} checks failed ({self.failed_actions}/{self.actions} actions)"
                f"{tail}{seconds}"
            )
        checks = "the 1 check" if ran == 1 else f"All {ran} checks"
        return f"{checks[0].upper()}{checks[1:]} ({self.actions} actions) passed{tail}{seconds}"

    def to_dict(self) -> dict[str, Any]:
        placement = self.placement
        return {
            "runId": self.run_id,
            "namespaces": list(self.namespaces),
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "passed": self.passed,
            "interrupted": self.interrupted,
            "kept": self.kept,
            "summary": self.summary(),
            "counts": {s.value: self.count(s) for s in Status},
            "nodes": [
                {
                    "name": node.name,
                    "roles": sorted(node.roles),
                    "addresses": list(node.addresses),
                    "selected": node.name in self.selected,
                    "module": (
                        self.modules[node.name].state if node.name in self.modules else None
                    ),
                }
                for node in self.nodes
            ],
            "placement": None
            if placement is None
            else {
                "server": placement.server,
                "client": placement.client,
                "noSctp": placement.no_sctp,
            },
            "checks": [r.to_dict() for r in self.results],
            **({"cleanupError": self.cleanup_error} if self.cleanup_error else {}),
        }


def failure_lines(result: CheckResult) -> list[str]:
    """A failed check's failed actions with their diagnosis, then its buffered log."""
    lines = [f"{result.check.name}: {result.reason}" if result.reason else result.check.name]
    for action in result.failed_actions:
        observed = action.observation
        lines.append(f"  ✗ {action.action.name}")
        lines.append(
            f"    expected {action.action.expect.name}, got {observed.word}"
            + (f" after {observed.attempts} attempts" if observed.attempts > 1 else "")
        )
        if action.diagnosis:
            lines.append(f"    {action.diagnosis}")
    lines += [f"  {line}" for line in result.log]
    return lines
