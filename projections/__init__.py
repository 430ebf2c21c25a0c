"""The read side: projectors that fold events into read models, and the queries over them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.settings import Settings


async def run_projectors(settings: Settings) -> None:
    """Run every projector until cancelled (imported lazily: nothing loads before `up`)."""
    from projections.workers import run_projectors as run

    await run(settings)
