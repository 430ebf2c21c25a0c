"""Notify latency: a course completed → the student's "certificate ready" notification visible.

    python tests/bench/bench_notify_latency.py [seconds] [rate]

The relay (`coursewright run relay`), the notifications projector (`coursewright projections run
notifications`) and the process managers (`coursewright run workers`: the certifier) run as
processes of their own. This process has students complete courses through the command bus,
paced at `rate` completions a second (20) for `seconds` (10), while other students enrol at the
same rate beside them (load on the same log, relay and projector).
Ours: the completion accepted (the bus returned its position) → the certificate's notification
committed in the `notifications` read model (the projector's NOTIFY on `cw_projections` arrived
here and the row is there): two hops of the log (completion → certifier → certificate →
projector). p50 and p99 in ms; the goal is p99 under 100 ms.
Baseline: the completion accepted → the same completion event delivered by JetStream to a plain
subscriber here: one hop of the transport the whole path sits behind. Same commands, same run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import msgspec
import nats
import psycopg

from domain.certificate import Certificate
from domain.enrollment import Enrollment
from infra.eventlog import wire_name
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from projections.store import NOTIFY_CHANNEL
from schemas import commands as c
from tests.bench._common import stop_worker_processes
from tests.bench._report import percentile, result, summary
from tests.conftest import create_database, drop_database, make_settings, service_env
from tests.integration.projections_support import World, bus_on

ROOT = Path(__file__).resolve().parents[2]
COMPLETED = wire_name(Enrollment.Completed)
ISSUED = wire_name(Certificate.Issued)


def spawn(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **service_env(settings), "CW_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


async def checkpoint(conn: psycopg.AsyncConnection[object]) -> int:
    try:
        cur = await conn.execute("SELECT position FROM rm_notifications.checkpoint")
    except psycopg.errors.UndefinedTable:
        return -1
    row = await cur.fetchone()
    return int(row[0]) if row else -1


async def main(dsn: str, settings: Settings, seconds: float, rate: float) -> None:
    store = PostgresEventStore(dsn, pool_max=20)
    await store.start()
    world = World(bus_on(store))
    courses = [(await world.published(f"Notify {i}", lessons=1)) for i in range(8)]
    n = int(seconds * rate) + 50
    learners = [world.ctx("student") for _ in range(n)]
    for i, s in enumerate(learners):  # enrolled beforehand: each measured command completes
        await world.bus.handle(c.Enrol(course_id=courses[i % len(courses)]["course"]), s)

    accepted: dict[uuid.UUID, float] = {}  # student → when their completion was accepted
    by_stream: dict[uuid.UUID, float] = {}  # enrolment stream → the same
    ours: list[float] = []
    baseline: list[float] = []
    seen: set[uuid.UUID] = set()
    early: set[uuid.UUID] = set()

    async def listen() -> None:
        async with (
            await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn,
            await psycopg.AsyncConnection.connect(dsn, autocommit=True) as reader,
        ):
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            after = await checkpoint(reader)
            async for note in conn.notifies():
                name, _, position = note.payload.partition(":")
                if name != "notifications":
                    continue
                now = time.perf_counter()
                upto = int(position)
                cur = await reader.execute(
                    "SELECT user_id FROM rm_notifications.notifications"
                    " WHERE kind = 'certificate_ready' AND position > %s AND position <= %s",
                    [after, upto],
                )
                for (user_id,) in await cur.fetchall():
                    at = accepted.get(user_id)
                    if at is not None and user_id not in seen:
                        seen.add(user_id)
                        ours.append((now - at) * 1000)
                after = max(after, upto)

    async def on_message(msg: nats.aio.msg.Msg) -> None:
        # The subject is the completions' alone; the stream id travels in the envelope.
        stream = uuid.UUID(msgspec.json.decode(msg.data)["stream_id"])
        at = by_stream.get(stream)
        if at is not None:
            baseline.append((time.perf_counter() - at) * 1000)
        else:  # delivered before the command's reply came back
            early.add(stream)

    issued: list[float] = []  # the first hop alone, for the record: completion → certificate on JetStream

    async def on_issued(msg: nats.aio.msg.Msg) -> None:
        student = uuid.UUID(msgspec.json.decode(msg.data)["payload"]["certified"]["student_id"])
        at = accepted.get(student)
        if at is not None:
            issued.append((time.perf_counter() - at) * 1000)

    nc = await nats.connect(settings.nats_url)
    await nc.subscribe(f"{settings.subject_prefix}.evt.enrollment.{COMPLETED}", cb=on_message)
    await nc.subscribe(f"{settings.subject_prefix}.evt.certificate.{ISSUED}", cb=on_issued)
    procs = [
        spawn(settings, "-m", "gateway.cli", "run", "relay"),
        spawn(settings, "-m", "gateway.cli", "projections", "run", "notifications"),
        spawn(settings, "-m", "gateway.cli", "run", "workers"),
    ]
    listener = asyncio.create_task(listen())
    try:
        head = await store.head()
        deadline = time.monotonic() + 90
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            while await checkpoint(conn) < head:
                if time.monotonic() > deadline:
                    raise TimeoutError("the relay and the projector did not catch up in 90s")
                await asyncio.sleep(0.05)
        # Warm the whole path (the certifier's consumer, the projector) with a few completions.
        warm = learners[-20:]
        for i, s in enumerate(warm):
            course = courses[(n - 20 + i) % len(courses)]
            await world.bus.handle(c.CompleteLesson(course_id=course["course"], lesson_id=course["lessons"][0]), s)
        await asyncio.sleep(2.0)

        async def complete(i: int) -> None:
            course, s = courses[i % len(courses)], learners[i]
            r = await world.bus.handle(c.CompleteLesson(course_id=course["course"], lesson_id=course["lessons"][0]), s)
            now = time.perf_counter()
            accepted[s.actor_id] = now
            by_stream[uuid.UUID(r.id)] = now
            if uuid.UUID(r.id) in early:
                baseline.append(0.0)

        async def enrol(i: int) -> None:  # the load beside: other students enrolling
            await world.bus.handle(c.Enrol(course_id=courses[i % len(courses)]["course"]), world.ctx("student"))

        print(f"measuring {rate:.0f} completions/s (and as many enrolments) for {seconds:.0f}s", flush=True)
        tasks: set[asyncio.Task[None]] = set()
        begin = time.perf_counter()
        i = 0
        total = min(int(seconds * rate), n - 20)
        while (elapsed := time.perf_counter() - begin) < seconds and i < total:
            due = min(total, int(elapsed * rate))
            while i < due:
                for work in (complete(i), enrol(i)):
                    task = asyncio.create_task(work)
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 60
        while len(ours) < len(accepted) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert len(ours) == len(accepted), f"{len(accepted) - len(ours)} notifications never became visible"
        print(f"completed {i}; notification visible: {summary(ours)} ms", flush=True)
        print(f"completion on JetStream: {summary(baseline)} ms", flush=True)
        print(f"certificate on JetStream: {summary(issued)} ms", flush=True)
        p99 = percentile(ours, 99)
        print(f"goal p99 < 100 ms: {'met' if p99 < 100 else 'missed'} ({p99:.1f} ms)", flush=True)
        result("notify-latency_p50", percentile(ours, 50), percentile(baseline, 50), " ms")
        result("notify-latency_p99", p99, percentile(baseline, 99), " ms")
    finally:
        await stop_worker_processes(procs, listener, nc, store, settings)


if __name__ == "__main__":
    database = create_database("cw_bench_notify")
    try:
        seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
        rate = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
        asyncio.run(main(database, make_settings(database), seconds, rate))
    finally:
        drop_database(database)
