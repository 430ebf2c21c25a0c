"""`coursewright projections ...`: rebuild, replay parked events, show lag."""

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

from infra.logging import configure_logging
from infra.settings import Settings
from projections.registry import PROJECTIONS

console = Console(stderr=True, highlight=False)
projections_cli = typer.Typer(
    help="Read models: rebuild them from the log, replay parked events, show their lag.",
    no_args_is_help=True,
)


def _settings() -> Settings:
    settings = Settings()
    configure_logging("WARNING", settings.json_logs)
    return settings


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
    from infra.cache import Cache
    from projections.rebuild import rebuild
    from projections.workers import cache_prefix, open_redis

    settings = _settings()
    names = _names(name, all_)

    async def run() -> None:
        redis = await open_redis(settings)
        cache = Cache(redis, cache_prefix(settings)) if redis is not None else None
        try:
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
                    if cache is not None:
                        await cache.invalidate(["*"])
                    bar.update(task, description=f"{n} ✓", completed=reached, total=max(reached, 1))
        finally:
            if redis is not None:
                await redis.aclose()

    asyncio.run(run())


@projections_cli.command("replay")
def replay_command(
    name: Annotated[str | None, typer.Argument(help="projection whose parked events to replay")] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
) -> None:
    """Apply parked (dead-lettered) events again, once their cause is fixed."""
    from projections.deadletter import replay_dead_letters

    settings = _settings()
    failed = 0
    for n in _names(name, all_):
        done, failing = asyncio.run(replay_dead_letters(settings.pg_dsn, PROJECTIONS[n]))
        console.print(f"{n}: {done} replayed, {failing} still failing")
        failed += failing
    raise typer.Exit(1 if failed else 0)


@projections_cli.command("status")
def status_command() -> None:
    """Checkpoint, lag and parked events of every projection."""
    from psycopg_pool import AsyncConnectionPool

    from projections.status import projection_lag

    settings = _settings()

    async def run() -> None:
        async with AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=1, open=False) as pool:
            lags = await projection_lag(pool)
        table = Table("projection", "checkpoint", "head", "lag (events)", "lag (s)", "parked")
        for lag in lags:
            table.add_row(
                lag.projection, str(lag.position), str(lag.head), str(lag.events),
                f"{lag.seconds:.1f}", str(lag.dead_letters),
            )  # fmt: skip
        Console().print(table)

    asyncio.run(run())


@projections_cli.command("run")
def run_command(
    names: Annotated[list[str] | None, typer.Argument(help="projections (default: all)")] = None,
) -> None:
    """Run projectors in the foreground (`coursewright up` runs them too)."""
    from projections.workers import run_projectors

    settings = _settings()
    for n in names or []:
        _names(n, False)
    try:
        asyncio.run(run_projectors(settings, names or None))
    except KeyboardInterrupt:
        pass
