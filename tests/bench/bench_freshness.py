"""Freshness: command accepted → visible in its read model, at half the peak command rate.

    python tests/bench/bench_freshness.py [seconds]

The relay (`coursewright run relay`) and the projectors (`coursewright projections run`) run as
processes of their own, as they would beside the gateway. This process sends Enrol commands
through the command bus (a new student each time), first 64 at once to find the peak rate,
then paced at half of it for `seconds` (10).
Ours: accepted (the bus returned the position) → the progress projection committed that
position (its NOTIFY on `cw_projections` arrived here). p50 and p99 in ms.
Baseline: accepted → the same event delivered by JetStream to a plain subscriber here, i.e.
the transport the projector sits behind. The same commands, the same run.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import nats
import psycopg

from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from projections.store import NOTIFY_CHANNEL
from schemas import commands as c
from schemas.envelope import Headers
from tests.bench._common import stop_worker_processes
from tests.bench._readside import bounded
from tests.bench._report import percentile, result, summary
from tests.conftest import create_database, drop_database, make_settings, service_env
from tests.integration.projections_support import World, bus_on

ROOT = Path(__file__).resolve().parents[2]


class Waiters:
    """Times at which positions became visible, matched against the time they were accepted."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, float]] = []  # (position, accepted at)
        self.latencies: list[float] = []
        self.reached = 0

    def accepted(self, position: int, at: float) -> None:
        if position <= self.reached:
            self.latencies.append(0.0)
        else:
            heapq.heappush(self.pending, (position, at))

    def arrived(self, position: int, now: float) -> None:
        self.reached = max(self.reached, position)
        while self.pending and self.pending[0][0] <= position:
            _, at = heapq.heappop(self.pending)
            self.latencies.append((now - at) * 1000)


async def checkpoint(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        try:
            cur = await conn.execute("SELECT position FROM rm_progress.checkpoint")
        except psycopg.errors.UndefinedTable:
            return -1
        row = await cur.fetchone()
        return int(row[0]) if row else -1


def spawn(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **service_env(settings), "CW_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


async def main(dsn: str, settings: Settings, seconds: float) -> None:
    store = PostgresEventStore(dsn, pool_max=20)
    await store.start()
    world = World(bus_on(store))
    courses = [await world.published(f"Fresh {i}") for i in range(10)]
    visible, delivered = Waiters(), Waiters()

    async def listen() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            async for note in conn.notifies():
                name, _, position = note.payload.partition(":")
                if name == "progress":
                    visible.arrived(int(position), time.perf_counter())

    async def on_message(msg: nats.aio.msg.Msg) -> None:
        delivered.arrived(int(msg.headers[Headers.POSITION]), time.perf_counter())

    nc = await nats.connect(settings.nats_url)
    await nc.subscribe(f"{settings.subject_prefix}.evt.>", cb=on_message)
    listener = asyncio.create_task(listen())
    procs = [
        spawn(settings, "-m", "gateway.cli", "run", "relay"),
        spawn(settings, "-m", "gateway.cli", "projections", "run", "progress"),
    ]
    try:
        head = await store.head()
        deadline = time.monotonic() + 60
        while await checkpoint(dsn) < head or delivered.reached < head:
            if time.monotonic() > deadline:
                raise TimeoutError("relay and projector did not catch up in 60s")
            await asyncio.sleep(0.05)

        async def enrol(i: int, measure: bool = True) -> None:
            course = courses[i % len(courses)]["course"]
            r = await world.bus.handle(c.Enrol(course_id=course), world.ctx("student"))
            now = time.perf_counter()
            if measure:
                visible.accepted(r.position, now)
                delivered.accepted(r.position, now)

        started = time.perf_counter()
        n = 3000
        await bounded(n, lambda i: enrol(i, measure=False), 64)
        peak = n / (time.perf_counter() - started)
        rate = peak / 2
        print(f"peak {peak:.0f} commands/s; measuring at {rate:.0f}/s for {seconds:.0f}s", flush=True)
        visible.latencies.clear()
        delivered.latencies.clear()
        await asyncio.sleep(1.0)

        tasks: set[asyncio.Task[None]] = set()
        begin = time.perf_counter()
        i = 0
        while (elapsed := time.perf_counter() - begin) < seconds:
            due = int(elapsed * rate)
            while i < due:
                task = asyncio.create_task(enrol(i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 30
        while (visible.pending or delivered.pending) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert not visible.pending, f"{len(visible.pending)} commands never became visible"
        print(f"sent {i} commands; visible: {summary(visible.latencies)} ms", flush=True)
        print(f"on JetStream: {summary(delivered.latencies)} ms", flush=True)
        for q in (50, 99):
            result(
                f"freshness_p{q}",
                percentile(visible.latencies, q),
                percentile(delivered.latencies, q),
                " ms",
            )
    finally:
        await stop_worker_processes(procs, listener, nc, store, settings)


if __name__ == "__main__":
    database = create_database("cw_bench_fresh")
    try:
        seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
        asyncio.run(main(database, make_settings(database), seconds))
    finally:
        drop_database(database)
