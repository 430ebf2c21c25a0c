"""Run projectors side by side, each restarted on its own when it fails (the `projectors`
component of gateway/bootstrap.py, which hands them the settings, NATS and the query cache)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from infra.cache import Cache
from infra.nats import NatsConnector
from infra.settings import Settings
from projections.model import Projection
from projections.projector import run_projector
from projections.registry import PROJECTIONS


async def run_projectors(
    settings: Settings, nats: NatsConnector, cache: Cache | None, names: Iterable[str] | None = None
) -> None:
    """Run all projectors (or the named ones) until cancelled; each invalidates `cache`."""
    wanted: list[type[Projection]] = [PROJECTIONS[n] for n in (names if names is not None else PROJECTIONS)]
    async with asyncio.TaskGroup() as group:
        for projection in wanted:
            group.create_task(run_projector(settings, projection, nats, cache), name=f"projector:{projection.name}")
