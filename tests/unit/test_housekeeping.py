"""The clean-up loop: a failed round is logged and the job keeps running."""

from __future__ import annotations

import asyncio
import contextlib

from structlog.testing import capture_logs

from infra.errors import Unavailable
from infra.housekeeping import repeat


async def test_a_failed_round_is_logged_and_the_next_one_still_runs() -> None:
    rounds: list[str] = []
    done = asyncio.Event()

    async def job() -> None:
        rounds.append("round")
        if len(rounds) == 1:
            raise RuntimeError("one odd record")
        if len(rounds) == 2:
            raise Unavailable("s3", "connection refused")
        done.set()

    with capture_logs() as logs:
        task = asyncio.create_task(repeat(job, 0.001, name="sweep"))
        await asyncio.wait_for(done.wait(), 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert len(rounds) >= 3
    failed = [e for e in logs if e["event"] == "housekeeping.round_failed"]
    assert [(e["job"], e["log_level"]) for e in failed[:2]] == [("sweep", "error"), ("sweep", "warning")]
    assert failed[0].get("exc_info") is True  # the bug's traceback is kept
    assert "s3 unavailable" in failed[1]["error"]
