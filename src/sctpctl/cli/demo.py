"""``sctpctl demo``: the whole story on the lab, as the README's first command runs it.

The steps are the administrator's procedure: bring the lab up, look at SCTP (off), enable it and
follow the rollout, look again (on), verify, take the lab down. Each step is an ordinary sctpctl
command line, run in this process, so the demo shows exactly what a person would type and read.

The lab gets a state folder of its own (a new temporary one unless ``--state`` names one), so
the demo never touches a lab that is already running, and the commands find it through
``KUBECONFIG``. A step that fails does not stop the story, except ``lab up``; the lab is taken
down whatever happens (``--keep-lab`` leaves it up to look around), and a last table lists every
step with its exit code, what was expected and how long it took.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from sctpctl.cli.errors import CommandError
from sctpctl.cli.output import make_console, simple_table
from sctpctl.outcomes import ExitCode


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    args: tuple[str, ...]
    expect: int = ExitCode.OK
    "The exit code the story expects (``status`` before enabling says 1: SCTP is off)."


STEPS: tuple[Step, ...] = (
    Step("bring the lab cluster up", ("lab", "up", "--reboot-seconds", "1")),
    Step("SCTP state before (blacklisted everywhere)", ("status",), ExitCode.FAILED),
    Step("enable SCTP on the worker pool and follow the rollout", ("enable", "--yes")),
    Step("SCTP state after (loaded on the workers)", ("status", "--pool", "worker")),
    Step(
        "verify: pods, Services, NetworkPolicy, negative checks, throughput",
        ("verify", "--perf"),
    ),
)
LAB_DOWN = Step("take the lab down", ("lab", "down"))


def _exit_code(error: BaseException) -> int:
    if isinstance(error, click.exceptions.Exit):
        return int(error.exit_code)
    if isinstance(error, SystemExit):
        code = error.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(error, CommandError):
        return error.exit_code
    if isinstance(error, click.ClickException):
        return int(error.exit_code)
    return 1


@contextmanager
def _lab_environment(state: Path) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in ("SCTPCTL_LAB_STATE", "KUBECONFIG")}
    os.environ["SCTPCTL_LAB_STATE"] = str(state)
    os.environ["KUBECONFIG"] = str(state / "kubeconfig")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@click.command()
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The demo lab's state folder (default: a new temporary folder, removed at the end).",
)
@click.option("--keep-lab", is_flag=True, help="Leave the lab up at the end.")
@click.pass_context
def demo(ctx: click.Context, state_dir: Path | None, keep_lab: bool) -> None:
    """Run the whole procedure on a local lab: up, status, enable, status, verify, down."""
    console = make_console(stderr=True)
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    steps = [*STEPS, *([] if keep_lab else [LAB_DOWN])]
    temporary = state_dir is None
    state = Path(tempfile.mkdtemp(prefix="sctpctl-demo-")) if state_dir is None else state_dir
    ran: list[tuple[Step, int, float]] = []
    started = time.monotonic()

    def run(number: int, step: Step) -> int:
        console.rule(f"step {number}/{len(steps)}: {step.title}  (sctpctl {' '.join(step.args)})")
        began = time.monotonic()
        try:
            result = root.main(list(step.args), prog_name="sctpctl", standalone_mode=False,
                               obj=ctx.obj)  # fmt: skip
            code = result if isinstance(result, int) else 0
        except (click.exceptions.Exit, SystemExit, click.ClickException, CommandError) as error:
            code = _exit_code(error)
        ran.append((step, code, time.monotonic() - began))
        return code

    try:
        with _lab_environment(state):
            for number, step in enumerate(STEPS, start=1):
                code = run(number, step)
                if step.args[:2] == ("lab", "up") and code != 0:
                    break
    finally:
        if not keep_lab:
            with _lab_environment(state):
                run(len(steps), LAB_DOWN)
            if temporary:
                shutil.rmtree(state, ignore_errors=True)
    total = time.monotonic() - started
    console.rule("the story")
    console.print(
        simple_table(
            ("step", "command", "exit", "expected", "seconds"),
            (
                (number, f"sctpctl {' '.join(step.args)}", code, step.expect, f"{took:.1f}")
                for number, (step, code, took) in enumerate(ran, start=1)
            ),
        )
    )
    wrong = [(step, code) for step, code, _ in ran if code != step.expect]
    if keep_lab:
        console.print(f"the lab is still up: export KUBECONFIG={state / 'kubeconfig'}")
    if wrong:
        console.print(f"[bold red]{len(wrong)} steps did not end as expected[/] ({total:.0f} s)")
        raise SystemExit(ExitCode.FAILED)
    console.print(f"[bold green]every step ended as expected[/] in {total:.0f} s")
