"""append: single-event commands on distinct courses, 8 concurrent callers, events/s.

Baseline, same run: raw psycopg single-row INSERTs of the same payload on 8 connections.
Three rounds of each, alternating; the medians are compared.
For reference it also measures the `eventsourcing` library's PostgreSQL recorder.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg

from commands.bus import CommandBus
from commands.context import Context
from commands.routes import ROUTES
from infra.eventlog.postgres import PostgresEventStore
from schemas import commands as c
from tests.bench._report import result
from tests.conftest import create_database, drop_database
from tests.ports import make_ports

CALLERS = 8
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))  # per round
ROUNDS = 3
PAYLOAD = (
    '{"org_id":"0b4c2d1e-0000-4000-8000-000000000001","author_id":"0b4c2d1e-0000-4000-8000-000000000002",'
    '"details":{"title":"Forklift safety","description":"","cefr_level":"B1","category":"safety",'
    '"tags":[],"capacity":null,"prerequisites":[],"public":false}}'
)


async def run_for(seconds: float, worker: object) -> int:
    done = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await worker()  # type: ignore[operator]
            done += 1

    await asyncio.gather(*(loop() for _ in range(CALLERS)))
    return done


async def ours(dsn: str) -> float:
    store = PostgresEventStore(dsn, pool_max=CALLERS + 2)
    await store.start()
    bus = CommandBus(store, ROUTES, make_ports())
    ctx = Context(uuid.uuid4(), uuid.uuid4(), frozenset({"instructor"}))
    cmd = c.CreateCourse(title="Forklift safety", cefr_level="B1", category="safety")

    async def one() -> None:
        await bus.handle(cmd, ctx)

    await run_for(1, one)  # warm up
    started = time.perf_counter()
    n = await run_for(SECONDS, one)
    rate = n / (time.perf_counter() - started)
    print(f"ours: {n} commands, {store.commits / max(store.batches, 1):.1f} commits per transaction")
    await store.close()
    return rate


async def baseline(dsn: str) -> float:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, event_id uuid NOT NULL,"
            " stream_id uuid NOT NULL, stream_type text NOT NULL, version bigint NOT NULL,"
            " event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(),"
            " correlation_id text NOT NULL, payload json NOT NULL)"
        )
    conns = [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(CALLERS)]
    free: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
    for conn in conns:
        free.put_nowait(conn)

    async def one() -> None:
        conn = await free.get()
        try:
            await conn.execute(
                "INSERT INTO bench_raw (event_id, stream_id, stream_type, version, event_type,"
                " correlation_id, payload) VALUES (%s, %s, 'course', 1, 'CourseCreated', %s, %s)",
                [uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4()), PAYLOAD],
            )
        finally:
            free.put_nowait(conn)

    await run_for(1, one)
    started = time.perf_counter()
    n = await run_for(SECONDS, one)
    rate = n / (time.perf_counter() - started)
    for conn in conns:
        await conn.close()
    return rate


def eventsourcing_recorder(dsn: str) -> float:
    """The eventsourcing library's recorder, 8 threads, one event per insert."""
    import threading

    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    info = psycopg.conninfo.conninfo_to_dict(dsn)
    datastore = PostgresDatastore(
        dbname=info["dbname"],
        host=info.get("host", "127.0.0.1"),
        port=info.get("port", "5432"),
        user=info.get("user", "postgres"),
        password="",
        pool_size=CALLERS,
        max_overflow=0,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="bench_es_events")
    recorder.create_table()
    stop = time.perf_counter() + SECONDS
    counts = [0] * CALLERS

    def work(i: int) -> None:
        while time.perf_counter() < stop:
            recorder.insert_events(
                [
                    StoredEvent(
                        originator_id=uuid.uuid4(),
                        originator_version=1,
                        topic="CourseCreated",
                        state=PAYLOAD.encode(),
                    )
                ]
            )
            counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CALLERS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = sum(counts) / (time.perf_counter() - started)
    datastore.close()
    return rate


async def main() -> None:
    dsn = create_database("cw_bench_append")
    try:
        # Rounds alternate, medians count: this VM's speed drifts within seconds.
        bases, mines = [], []
        for _ in range(ROUNDS):
            bases.append(await baseline(dsn))
            mines.append(await ours(dsn))
        print(f"rounds: ours {[round(x) for x in mines]} baseline {[round(x) for x in bases]} ev/s")
        base, mine = statistics.median(bases), statistics.median(mines)
        es = await asyncio.to_thread(eventsourcing_recorder, dsn)
        print(f"eventsourcing PostgresApplicationRecorder: {es:,.0f} events/s (ratio {es / base:.2f})")
        result("append", mine, base, " ev/s")
    finally:
        drop_database(dsn)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())  # as `coursewright up` runs, for both sides
