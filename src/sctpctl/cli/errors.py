"""Errors the command line turns into a message on stderr and an exit code."""

from __future__ import annotations

from sctpctl.outcomes import ExitCode


class CommandError(Exception):
    """A failure to report as ``error: <message>`` with a specific exit code (no traceback)."""

    def __init__(self, message: str, exit_code: int = ExitCode.FAILED, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code)
        self.hint = hint


class EnvironmentProblem(CommandError):
    """Something outside sctpctl is missing (no cluster, no root, no nft): exit code 3."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, ExitCode.ENVIRONMENT, hint=hint)
