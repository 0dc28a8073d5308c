"""What every command that talks to a cluster shares: ``--kubeconfig``, ``--context`` and
``-n/--namespace`` as kubectl has them, running the work with a connected client, and turning
cluster trouble into exit code 3 with a sentence that names the cause.

| failure | exit | says |
|---|---|---|
| no usable kubeconfig or context | 3 | which files were looked at |
| API server unreachable | 3 | the server address and the network error |
| credentials refused (401) | 3 | that the credentials were refused |
| a permission missing (403) | 3 | the verb and the resource |
| any other refusal | 1 | the API server's message |

Durations (``--timeout 45m``) are written as kubectl and Go write them: ``90s``, ``45m``,
``1h30m``, or plain seconds.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from sctpctl import k8s
from sctpctl.cli.errors import CommandError, EnvironmentProblem
from sctpctl.enable.access import MissingPermission
from sctpctl.k8s.client import Client
from sctpctl.k8s.errors import ApiError, ClusterUnreachable, ConfigError, K8sError, Unauthorized

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def cluster_options(
    namespace_help: str = "Namespace for the objects the command creates.",
) -> Callable[[F], F]:
    """Add ``--kubeconfig``, ``--context`` and ``-n/--namespace``; the command receives them
    as one ``cluster: ClusterOptions`` argument."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(
            *args: Any, kubeconfig: str | None, context: str | None, namespace: str | None,
            **kwargs: Any,
        ) -> Any:  # fmt: skip
            return func(*args, cluster=ClusterOptions(kubeconfig, context, namespace), **kwargs)

        options = (
            click.option(
                "--kubeconfig", "kubeconfig", default=None, metavar="FILE",
                help="The kubeconfig (default: $KUBECONFIG, else ~/.kube/config, else the "
                "in-cluster service account).",
            ),
            click.option(
                "--context", "context", default=None, metavar="NAME",
                help="The kubeconfig context (default: its current context).",
            ),
            click.option(
                "-n", "--namespace", "namespace", default=None, metavar="NAMESPACE",
                help=namespace_help,
            ),
        )  # fmt: skip
        decorated: Any = command
        for option in reversed(options):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


connect: Callable[[str | None, str | None], Awaitable[Client]] = k8s.connect
"How a client is made (tests put a fake cluster here)."


def run_on_cluster(options: ClusterOptions, work: Callable[[Client], Awaitable[T]]) -> T:
    """Connect, run ``work``, close; cluster trouble becomes a :class:`CommandError`.

    Ctrl-C cancels ``work`` (its ``finally`` blocks run, so it can clean up) and then raises
    ``KeyboardInterrupt`` for the command to report.
    """

    async def main() -> T:
        client = await connect(options.kubeconfig, options.context)
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except ConfigError as error:
        raise EnvironmentProblem(
            str(error), hint="pass --kubeconfig FILE, set KUBECONFIG, or choose --context"
        ) from error
    except ClusterUnreachable as error:
        raise EnvironmentProblem(
            str(error), hint="check that the cluster is up and that this is the right kubeconfig"
        ) from error
    except Unauthorized as error:
        raise EnvironmentProblem(
            f"the cluster refused the credentials: {error.message}",
            hint="log in again (oc login / a fresh kubeconfig)",
        ) from error
    except MissingPermission as error:
        raise EnvironmentProblem(
            str(error), hint="ask for that permission, or run as a cluster administrator"
        ) from error
    except ApiError as error:
        raise CommandError(f"the API server refused: {error.message}") from error
    except K8sError as error:
        raise CommandError(str(error)) from error


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``45m``, ``1h30m``, ``2h``, ``1.5h`` or ``600``; ``ValueError``
    for anything else, zero or negative."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION.match(value)
        if not value or match is None:
            raise ValueError(
                f"{text!r} is not a duration (write it like 90s, 45m or 1h30m)"
            ) from None
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return seconds


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = Duration()
