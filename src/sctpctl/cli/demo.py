"""``sctpctl demo``: the whole story on the lab, as the README's first command runs it.

The steps are the administrator's procedure: bring the lab up, look at SCTP (off), enable it and
follow the rollout, look again (on), verify, print the report, take the lab down. Each step is an
ordinary sctpctl command line, run in this process, so the demo shows exactly what a person would
type and read.
"""

from __future__ import annotations

import click

from sctpctl.cli.output import make_console

STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bring the lab cluster up", ("lab", "up")),
    ("SCTP state before (blacklisted everywhere)", ("status",)),
    ("enable SCTP on the worker pool and follow the rollout", ("enable", "--yes")),
    ("SCTP state after (loaded on the workers)", ("status",)),
    ("verify: pods, Services, NetworkPolicy, negative checks", ("verify",)),
    ("take the lab down", ("lab", "down")),
)


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the whole procedure on the local lab: up, status, enable, status, verify, down."""
    console = make_console(stderr=True)
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    missing = [args for _, args in STEPS if args[0] not in root.commands]
    if missing:
        console.print("The demo will run these steps on the local lab cluster:")
        for title, args in STEPS:
            ready = args[0] in root.commands
            mark = "ready" if ready else "not built yet"
            console.print(f"  sctpctl {' '.join(args):<16} {title}  [{mark}]")
        console.print("Some steps are not built yet; nothing was run.")
        return
    for number, (title, args) in enumerate(STEPS, start=1):
        console.rule(f"step {number}/{len(STEPS)}: {title}  (sctpctl {' '.join(args)})")
        root.main(list(args), prog_name="sctpctl", standalone_mode=False, obj=ctx.obj)
