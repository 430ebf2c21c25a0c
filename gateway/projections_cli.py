"""`coursewright projections ...`: rebuild, replay parked events, show lag, run projectors; each
on the composition root (gateway/bootstrap.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from gateway.bootstrap import Root, load_settings, run
from infra.logging import get_logger
from infra.settings import Settings
from projections.deadletter import replay_dead_letters
from projections.rebuild import rebuild
from projections.registry import PROJECTIONS
from projections.status import projection_lag

log = get_logger(__name__)

console = Console(stderr=True, highlight=False)
projections_cli = typer.Typer(
    help="Read models: rebuild them from the log, replay parked events, show their lag.",
    no_args_is_help=True,
)


def _settings(quiet: bool = True) -> Settings:
    """Settings from CW_ variables; a one-shot command logs warnings only."""
    return load_settings(quiet=quiet)


def _names(name: str | None, all_: bool) -> list[str]:
    if all_:
        return list(PROJECTIONS)
    if name is None:
        console.print("[red]name a projection or pass --all[/]")
        raise typer.Exit(2)
    if name not in PROJECTIONS:
        console.print(f"[red]no projection {name!r}[/]; known: {', '.join(PROJECTIONS)}")
        raise typer.Exit(2)
    return [name]


@projections_cli.command("rebuild")
def rebuild_command(
    name: Annotated[str | None, typer.Argument(help="projection to rebuild")] = None,
    all_: Annotated[bool, typer.Option("--all", help="rebuild every projection")] = False,
) -> None:
    """Rebuild from position 0 of the log into fresh tables, then swap them in (live-safe)."""
    settings = _settings()
    names = _names(name, all_)

    async def rebuild_all() -> None:
        async with Root(settings) as root:
            with Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bar:
                for n in names:
                    task = bar.add_task(n, total=None)

                    def moved(position: int, head: int, task: TaskID = task) -> None:
                        bar.update(task, completed=position, total=max(head, 1))

                    reached = await rebuild(settings.pg_dsn, PROJECTIONS[n], progress=moved)
                    await root.cache.invalidate(["*"])
                    bar.update(task, description=f"{n} ✓", completed=reached, total=max(reached, 1))

    asyncio.run(rebuild_all())


@projections_cli.command("replay")
def replay_command(
    name: Annotated[str | None, typer.Argument(help="projection whose parked events to replay")] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
) -> None:
    """Apply parked (dead-lettered) events again, once their cause is fixed."""
    settings = _settings()
    names = _names(name, all_)

    async def replay() -> int:
        failed = 0
        async with Root(settings) as root:
            for n in names:
                done, failing = await replay_dead_letters(settings.pg_dsn, PROJECTIONS[n])
                if done:
                    await root.cache.invalidate(["*"])  # cached answers predate the replayed events
                console.print(f"{n}: {done} replayed, {failing} still failing")
                failed += failing
        return failed

    raise typer.Exit(1 if asyncio.run(replay()) else 0)


@projections_cli.command("status")
def status_command() -> None:
    """Checkpoint, lag and parked events of every projection."""
    settings = _settings()

    async def show() -> None:
        async with Root(settings) as root:
            lags = await projection_lag(root.store.pool)
        table = Table("projection", "checkpoint", "head", "lag (events)", "lag (s)", "parked")
        for lag in lags:
            table.add_row(
                lag.projection, str(lag.position), str(lag.head), str(lag.events),
                f"{lag.seconds:.1f}", str(lag.dead_letters),
            )  # fmt: skip
        Console().print(table)

    asyncio.run(show())


@projections_cli.command("run")
def run_command(
    names: Annotated[list[str] | None, typer.Argument(help="projections (default: all)")] = None,
) -> None:
    """Run projectors in the foreground until Ctrl-C or SIGTERM (`coursewright up` runs them too)."""
    settings = _settings(quiet=False)
    for n in names or []:
        _names(n, False)
    root = Root(settings)

    def ready() -> None:
        log.info("projectors.ready", projections=names or list(PROJECTIONS))

    asyncio.run(run(root, [root.projectors(names or None)], on_ready=ready))
