"""One way to print results: ``-o table|wide|json|yaml`` and ``--color auto|always|never``.

Data goes to stdout, and only data; progress, logs and colour go to stderr. JSON and YAML
documents are Kubernetes-shaped (``apiVersion``/``kind``) so they can be versioned and consumed by
other tools; they never contain ANSI escapes, whatever ``--color`` says.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO, TypeVar

import click
import yaml
from rich.console import Console, RenderableType
from rich.table import Table

API_VERSION = "sctpctl.dev/v1alpha1"
"The apiVersion of every document sctpctl prints."

F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"
    TEXT = "text"
    "Human output that is not a table (lint's findings grouped by file)."
    SARIF = "sarif"
    "SARIF 2.1.0 JSON for code-scanning UIs; the command builds the log, emit prints it."


class ColorMode(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass
class Settings:
    """Options of the top-level group that every command sees through ``click``'s context."""

    color: ColorMode = ColorMode.AUTO
    verbose: int = 0


def settings() -> Settings:
    """The settings of the running command (defaults outside a click context, e.g. in tests)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, Settings):
            return ctx.obj
        ctx = ctx.parent
    return Settings()


def make_console(*, stderr: bool = False, file: TextIO | None = None) -> Console:
    """A rich console that honours ``--color``, ``NO_COLOR``, ``FORCE_COLOR`` and ``TERM=dumb``.

    ``auto`` leaves the decision to rich, which reads those variables and checks for a terminal.
    """
    mode = settings().color
    target = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if mode is ColorMode.NEVER:
        return Console(file=target, color_system=None, highlight=False, soft_wrap=True)
    if mode is ColorMode.ALWAYS:
        return Console(file=target, force_terminal=True, highlight=False)
    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(file=target, no_color=no_color or None, highlight=False)


def output_option(
    *formats: OutputFormat, default: OutputFormat = OutputFormat.TABLE
) -> Callable[[F], F]:
    """The ``-o/--output`` option, restricted to the formats a command supports."""
    choices = [f.value for f in (formats or tuple(OutputFormat))]

    def decorate(func: F) -> F:
        return click.option(
            "-o",
            "--output",
            "output",
            type=click.Choice(choices),
            default=default.value,
            show_default=True,
            help="Output format.",
            callback=lambda _ctx, _param, value: OutputFormat(value),
        )(func)

    return decorate


def document(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A Kubernetes-shaped document: ``apiVersion``, ``kind``, then the body's fields."""
    return {"apiVersion": API_VERSION, "kind": kind, **body}


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def dump_yaml(data: Any) -> str:
    dumped: str = yaml.dump(
        data,
        Dumper=yaml.CSafeDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
    return dumped


def dump_yaml_all(documents: Iterable[Any]) -> str:
    """Several YAML documents separated by ``---``, as ``kubectl apply -f`` reads them."""
    dumped: str = yaml.dump_all(
        list(documents),
        Dumper=yaml.CSafeDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        explicit_start=True,
    )
    return dumped


def emit(
    fmt: OutputFormat,
    data: Any,
    *,
    table: Callable[[], RenderableType | Iterable[RenderableType]] | None = None,
    soft_wrap: bool = False,
) -> None:
    """Print ``data`` in the chosen format; ``table`` builds the human rendering lazily.

    ``soft_wrap`` prints lines of any length as they are (no wrapping or cropping at the
    terminal width), for grids that must keep their shape such as truth tables.
    """
    if fmt in (OutputFormat.JSON, OutputFormat.SARIF):
        sys.stdout.write(dump_json(data))
    elif fmt is OutputFormat.YAML:
        sys.stdout.write(dump_yaml(data))
    else:
        console = make_console()
        rendered = table() if table is not None else dump_yaml(data)
        if isinstance(rendered, str | Table) or not isinstance(rendered, Iterable):
            console.print(rendered, soft_wrap=soft_wrap)
        else:
            for item in rendered:
                console.print(item, soft_wrap=soft_wrap)
    sys.stdout.flush()


def simple_table(columns: Iterable[str], rows: Iterable[Iterable[Any]], **kwargs: Any) -> Table:
    """A kubectl-looking table: upper-case headers, no borders."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", **kwargs)
    for column in columns:
        table.add_column(column.upper(), overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    return table
