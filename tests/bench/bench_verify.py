"""verify: events verified per second over the whole store (100k events, sealed), and the time to
rebuild a course at a version of a 1,000-event history.

Ours: `AuditLog.verify_log`, what `coursewright audit verify` runs: every stream's chain, the
positions 1..head and every seal (signature, chain, Merkle root and heads recomputed).
Baseline, same run: a raw read-and-hash of the same rows: psycopg reads the hash's columns in
pages of the same size, in position order, and recomputes each event's hash (the same function),
nothing else. Three rounds of each, alternating; the medians are compared. Goal: ratio >= 0.6.
Then `AuditLog.state` of one course at random versions of its 1,000 events, three rounds of 200:
p50/p99 in ms of each round, with the load average (goal: p99 under 50 ms). The state is one
query (the server builds one JSON value of the events' types and payloads up to the version),
each event decoded and applied by the aggregate's own `_on_<Event>` before the next: no
envelopes, no hashes, no collection (docs/performance.md, "The audit").
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg

from commands.bus import CommandBus
from commands.context import Context
from commands.identity import read
from commands.routes import ROUTES
from domain.course import Course
from gateway.audit.sealer import Sealer
from gateway.audit.service import AuditLog
from infra.eventlog import Commit, EventMeta, NewEvent, StreamWrite, encode, wire_name
from infra.eventlog.audit import PAGE
from infra.eventlog.hashing import event_hash
from infra.eventlog.postgres import PostgresEventStore
from infra.eventlog.seals import SealKey
from schemas import commands as c
from tests.bench._common import append_many
from tests.bench._report import percentile, result
from tests.conftest import create_database, drop_database
from tests.ports import make_ports

EVENTS = int(os.environ.get("BENCH_VERIFY_EVENTS", "100000"))
HISTORY = 1000  # events of the course rebuilt at a version
SAMPLES = 200
ROUNDS = 3
KEY = SealKey.from_hex("5e" * 32)
_RAW = (
    "SELECT position, event_id, stream_id, version, event_type, schema_version, occurred_at, actor_id, org_id,"
    " correlation_id, causation_id, payload::text, prev_hash, hash FROM cw_events WHERE position > %s"
    " ORDER BY position LIMIT %s"
)


async def fill(store: PostgresEventStore) -> tuple[AuditLog, uuid.UUID]:
    """EVENTS events in 10-event streams, sealed, and one course with a HISTORY-event history."""
    started = time.perf_counter()
    await append_many(store, EVENTS - HISTORY)
    bus = CommandBus(store, ROUTES, make_ports())
    author = Context(uuid.uuid4(), uuid.uuid4(), frozenset({"instructor"}))
    created = await bus.handle(c.CreateCourse(title="Long story", cefr_level="B1", category="safety"), author)
    course = uuid.UUID(created.id)
    module = await bus.handle(c.AddModule(course_id=course, title="Module"), author)
    module_id = uuid.UUID(module.data["module_id"])
    # The rest of its history decided by the course aggregate and appended 100 events a commit
    # (a thousand commands one by one would measure the bus, not the audit).
    aggregate = await read(store, Course, course)
    for first in range(0, HISTORY - 2, 100):
        for n in range(first, min(first + 100, HISTORY - 2)):
            aggregate.rename_module(module_id, f"Module {n}")
        stored = await store.read_stream(course)
        events = [NewEvent(uuid.uuid4(), wire_name(type(e)), encode(e)) for e in aggregate.collect()]
        write = StreamWrite(course, "course", stored[-1].version, events, bytes.fromhex(stored[-1].hash))
        meta = EventMeta(occurred_at=datetime.now(UTC), correlation_id=str(uuid.uuid4()), actor_id="bench")
        await store.append(Commit([write], meta))
    audit = AuditLog(store.pool.connection, frozenset({KEY.public_key}))  # as the gateway has it
    sealer = Sealer(audit.connect, bus, KEY, max_events=10_000)
    await sealer.seal_backlog()
    print(f"filled {EVENTS} events and sealed them in {time.perf_counter() - started:.1f} s")
    return audit, course


async def ours(audit: AuditLog) -> float:
    started = time.perf_counter()
    outcome = await audit.verify_log()
    elapsed = time.perf_counter() - started
    assert outcome.intact, outcome.breaks[:3]
    return outcome.events / elapsed


async def baseline(dsn: str) -> float:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        after, checked = 0, 0
        while rows := await (await conn.execute(_RAW, (after, PAGE))).fetchall():
            for r in rows:
                digest = event_hash(
                    bytes(r[12]), event_id=r[1], stream_id=r[2], version=r[3], event_type=r[4],
                    schema_version=r[5], occurred_at=r[6], actor_id=r[7], org_id=r[8], correlation_id=r[9],
                    causation_id=r[10], payload=r[11].encode(),
                )  # fmt: skip
                checked += digest == bytes(r[13])
            after = rows[-1][0]
        elapsed = time.perf_counter() - started
    return checked / elapsed


async def rebuild_times(audit: AuditLog, course: uuid.UUID, seed: int) -> list[float]:
    pick = random.Random(seed)
    times = []
    for _ in range(SAMPLES):
        version = pick.randint(1, HISTORY)
        started = time.perf_counter()
        state = await audit.state(course, version)
        times.append((time.perf_counter() - started) * 1000)
        assert state.version == version
    return times


async def main() -> None:
    dsn = create_database("cw_bench_verify")
    store = PostgresEventStore(dsn, pool_max=40)
    await store.start()
    try:
        audit, course = await fill(store)
        bases, mines = [], []
        for _ in range(ROUNDS):
            bases.append(await baseline(dsn))
            mines.append(await ours(audit))
        print(f"rounds: ours {[round(x) for x in mines]} baseline {[round(x) for x in bases]} ev/s")
        for n in range(ROUNDS):
            times = await rebuild_times(audit, course, seed=n)
            print(
                f"rebuild a course at a version of {HISTORY} events, round {n + 1}:"
                f" p50={percentile(times, 50):.1f} ms p99={percentile(times, 99):.1f} ms (goal p99 < 50 ms)"
                f" load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        result("verify", statistics.median(mines), statistics.median(bases), " ev/s")
    finally:
        await store.close()
        drop_database(dsn)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
