"""Shared bits of the relay benchmarks: appending events, waiting for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from nats.aio.client import Client

from infra.eventlog import Commit, EventMeta, NewEvent, StreamWrite
from infra.eventlog.deadletters import delete_streams
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings


def commit(payloads: list[bytes], kind: str = "Happened") -> Commit:
    """One new stream with the given event payloads."""
    events = [NewEvent(uuid.uuid4(), kind, p) for p in payloads]
    meta = EventMeta(
        occurred_at=datetime.now(UTC),
        correlation_id=str(uuid.uuid4()),
        actor_id="bench",
        org_id="org-1",
        causation_id=str(uuid.uuid4()),
    )
    return Commit([StreamWrite(uuid.uuid4(), "course", 0, events)], meta)


async def append_many(store: PostgresEventStore, n: int, per_commit: int = 10) -> None:
    """Append n events of ~200 payload bytes, many commits at once."""
    pad = "x" * 160

    async def worker(start: int, stop: int) -> None:
        for i in range(start, stop, per_commit):
            k = min(per_commit, stop - i)
            await store.append(commit([b'{"i": %d, "pad": "%s"}' % (i + j, pad.encode()) for j in range(k)]))

    workers = 32
    step = -(-n // workers)
    await asyncio.gather(*(worker(s, min(s + step, n)) for s in range(0, n, step)))


async def until(predicate: Callable[[], bool], interval: float = 0.002) -> None:
    """Poll `predicate` until it holds (callers bound the time with asyncio.timeout)."""
    while True:
        if predicate():
            return
        await asyncio.sleep(interval)


async def stop_worker_processes(
    procs: list[subprocess.Popen[bytes]],
    listener: asyncio.Task[None],
    nc: Client,
    store: PostgresEventStore,
    settings: Settings,
) -> None:
    """A latency bench's teardown: its worker processes, its listener, its streams, its store."""
    for p in procs:
        p.terminate()
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=20)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    await delete_streams(nc.jetstream(), settings)
    await nc.close()
    await store.close()
