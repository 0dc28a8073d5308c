"""The ``sctpctl`` command group and its entry points (``sctpctl``, ``kubectl sctp``, ``oc sctp``).

Subcommands live in their own modules and are attached here from one explicit list, so what the
tool can do is readable in one place. A subcommand's module is imported when the command runs (or
``--help`` lists it), not on every start: ``sctpctl probe`` in a pod, run many times by
``sctpctl verify``, does not pay for the lab's or the cluster client's imports.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click
from rich.logging import RichHandler

from sctpctl import __version__
from sctpctl.cli.errors import CommandError
from sctpctl.cli.output import ColorMode, Settings, make_console
from sctpctl.outcomes import ExitCode, Outcome

EPILOG = (
    "\b\nExit codes:\n"
    + "\n".join(f"  {code.value:>3}  {code.name.lower().replace('_', '-')}" for code in ExitCode)
    + "\n\b\nConnection outcomes (connect, probe, verify):\n"
    + "\n".join(f"  {o.value:<18} exit {o.exit_code.value}" for o in Outcome)
)


class SctpctlGroup(click.Group):
    """A group that turns :class:`CommandError` and Ctrl-C into messages and exit codes, and
    imports a subcommand from :data:`COMMANDS` when it is first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        listed = [name for name, _ in COMMANDS]
        return listed + sorted(set(self.commands) - set(listed))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        target = dict(COMMANDS).get(cmd_name)
        if command is None and target is not None:
            module, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as error:
            console = make_console(stderr=True)
            console.print(f"[bold red]error:[/] {error.message}", markup=True, highlight=False)
            if error.hint:
                console.print(f"[dim]hint:[/] {error.hint}", markup=True, highlight=False)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            make_console(stderr=True).print("interrupted")
            ctx.exit(ExitCode.INTERRUPTED)


@click.group(
    cls=SctpctlGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "--version", prog_name="sctpctl")
@click.option(
    "--color",
    type=click.Choice([m.value for m in ColorMode]),
    default=ColorMode.AUTO.value,
    show_default=True,
    help="Colour on a terminal; NO_COLOR in the environment turns it off for 'auto'.",
)
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, color: str, verbose: int) -> None:
    """Enable SCTP on bare-metal Kubernetes and OpenShift clusters, and prove that it works."""
    ctx.obj = Settings(color=ColorMode(color), verbose=verbose)
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=make_console(stderr=True), show_path=False)],
        force=True,
    )


COMMANDS: tuple[tuple[str, str], ...] = (
    ("lint", "sctpctl.cli.lint:lint"),
    ("render", "sctpctl.cli.render:render"),
    ("policy", "sctpctl.cli.policy:policy"),
    ("enable", "sctpctl.cli.enable:enable"),
    ("disable", "sctpctl.cli.enable:disable"),
    ("status", "sctpctl.cli.status:status"),
    ("node-state", "sctpctl.cli.status:node_state"),
    ("verify", "sctpctl.cli.verify:verify"),
    ("listen", "sctpctl.cli.listen:listen"),
    ("connect", "sctpctl.cli.connect:connect"),
    ("probe", "sctpctl.cli.probe:probe"),
    ("perf", "sctpctl.cli.perf:perf"),
    ("stack", "sctpctl.cli.stack:stack"),
    ("lab", "sctpctl.cli.lab:lab"),
    ("demo", "sctpctl.cli.demo:demo"),
)
"Every subcommand (name, ``module:attribute``), in the order ``--help`` lists them."


def _run(prog_name: str) -> None:
    try:
        cli.main(prog_name=prog_name)
    except KeyboardInterrupt:  # raised outside invoke(), e.g. while parsing
        sys.exit(ExitCode.INTERRUPTED)


def main() -> None:
    """Entry point of ``sctpctl``."""
    _run("sctpctl")


def kubectl_main() -> None:
    """Entry point of ``kubectl-sctp``: kubectl runs it for ``kubectl sctp ...``."""
    _run("kubectl sctp")


def oc_main() -> None:
    """Entry point of ``oc-sctp``: oc runs it for ``oc sctp ...``."""
    _run("oc sctp")
