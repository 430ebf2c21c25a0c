"""Rebuild throughput per projection, against decoding the same events from the log.

    python tests/bench/bench_rebuild.py [students] [rounds]

A log is made through the command bus (courses, enrolments, quizzes, completions, drops).
Ours: `projections.rebuild.rebuild` of each projection into a fresh schema (reading the log,
decoding, folding, writing rows and checkpoints): events in the log / seconds.
Baseline: the same reads of the log in the same batches, decoding every event the projection
handles with the same decoders, and nothing else. Rounds alternate; medians count.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.eventlog.postgres import PostgresEventStore
from infra.eventlog.reader import LogReader
from projections.model import Projection
from projections.rebuild import BATCH, rebuild
from projections.registry import PROJECTIONS
from projections.store import connect
from tests.bench._readside import populate
from tests.bench._report import result
from tests.conftest import create_database, drop_database


async def decode_only(dsn: str, projection: type[Projection]) -> float:
    conn = await connect(dsn, "bench-decode")
    try:
        log = LogReader(conn, barrier=False)
        head = await log.head()
        handlers = projection.handlers
        start = time.perf_counter()
        position = decoded = 0
        while position < head:
            async with conn.transaction():
                events = await log.read(position, BATCH, before=head + 1)
            for env in events:
                found = handlers.get(env.event_type)
                if found is not None:
                    found[0](env.payload)
                    decoded += 1
            position = events[-1].position
        elapsed = time.perf_counter() - start
        assert decoded > 0
        return head / elapsed
    finally:
        await conn.close()


async def rebuilt(dsn: str, projection: type[Projection]) -> float:
    conn = await connect(dsn, "bench-head")
    head = await LogReader(conn).head()
    await conn.close()
    start = time.perf_counter()
    reached = await rebuild(dsn, projection, target=f"bench_{projection.name}")
    elapsed = time.perf_counter() - start
    assert reached == head, (reached, head)
    return head / elapsed


async def main(dsn: str, students: int, rounds: int) -> None:
    store = PostgresEventStore(dsn, pool_max=20)
    await store.start()
    try:
        t = time.perf_counter()
        await populate(store, orgs=5, courses=100, students=students)
        head = await store.head()
    finally:
        await store.close()
    print(f"log: {head} events made in {time.perf_counter() - t:.1f}s", flush=True)
    for name, projection in PROJECTIONS.items():
        ours, base = [], []
        for _ in range(rounds):
            base.append(await decode_only(dsn, projection))
            ours.append(await rebuilt(dsn, projection))
        print(f"{name}: rebuild {[round(x) for x in ours]} decode {[round(x) for x in base]} ev/s")
        result(f"rebuild_{name}", statistics.median(ours), statistics.median(base), " ev/s")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    database = create_database("cw_bench_rebuild")
    try:
        asyncio.run(main(database, args[0] if args else 6000, args[1] if len(args) > 1 else 3))
    finally:
        drop_database(database)
