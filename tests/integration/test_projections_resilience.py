"""Exactly once under crashes, loss and duplicates; poison events; rebuilds under traffic."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import psycopg
import pytest
from prometheus_client import REGISTRY

from infra.eventlog import Commit, EventMeta, NewEvent, StreamWrite
from infra.eventlog.deadletters import dead_letter_stream
from infra.eventlog.postgres import PostgresEventStore
from infra.nats import NatsConnector
from infra.settings import Settings
from projections.deadletter import replay_dead_letters
from projections.rebuild import rebuild
from projections.registry import PROJECTIONS
from schemas import commands as c
from tests.conftest import delete_event_streams, make_settings, service_env
from tests.integration.projections_support import (
    World,
    bus_on,
    caught_up,
    checkpoint,
    dump,
    equals_rebuild,
    projectors,
    relay,
    scenario,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_settings(fresh_database: str) -> Iterator[Settings]:
    """Settings on a database of the test's own (an empty log) and a private stream."""
    settings = make_settings(fresh_database)
    yield settings
    asyncio.run(delete_event_streams(settings))


@pytest.fixture
async def own_store(own_settings: Settings) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(own_settings.pg_dsn)
    await store.start()
    yield store
    await store.close()


def spawn_projectors(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, **service_env(settings), "CW_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "projectors"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL
    )


async def _backend_waits_on_lock(dsn: str, application: str) -> bool:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            [application],
        )
        row = await cur.fetchone()
        return bool(row and row[0])


async def kill_mid_batch(settings: Settings, store: PostgresEventStore, world: World, projection: str) -> None:
    """A scenario projected by a projector process, then more of it while `projection` is frozen
    in the middle of writing a batch (its first tables written, its `courses` rows waiting on our
    lock), and the process SIGKILLed there."""
    dsn = settings.pg_dsn
    await scenario(world, courses=2, students=4)
    proc = spawn_projectors(settings)
    try:
        await wait_until(lambda: caught_up(store, dsn), within=60, what="first catch-up")
        blocker = await psycopg.AsyncConnection.connect(dsn)
        await blocker.execute(f"LOCK TABLE rm_{projection}.courses IN SHARE MODE")
        await scenario(world, courses=1, students=3)
        await wait_until(
            lambda: _backend_waits_on_lock(dsn, f"cw-projector:{projection}"),
            within=30,
            what=f"the {projection} projector to block mid-batch",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        await blocker.rollback()
        await blocker.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


async def test_sigkill_mid_batch_loss_and_duplicates_still_equal_a_rebuild(
    own_settings: Settings, own_store: PostgresEventStore
) -> None:
    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    world = World(bus_on(store))
    async with relay(settings):
        # The progress projector's enrolment rows are written, its course rows wait.
        await kill_mid_batch(settings, store, world, "progress")

        # While no projector runs: more events, some lost from the stream, some duplicated.
        await scenario(world, courses=1, students=3)
        head = await store.head()
        await wait_until(lambda: _relayed(settings, head), within=30, what="the relay to publish")
        nc = await nats.connect(settings.nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(settings.events_stream)
            last = info.state.last_seq
            lost = [last - 40, last - 25, last - 24, last - 3, last]  # tail loss too
            for seq in lost:
                assert await js.delete_msg(settings.events_stream, seq)
            for seq in (last - 30, last - 20, last - 10):
                msg = await js.get_msg(settings.events_stream, seq)
                headers = {k: v for k, v in (msg.headers or {}).items() if k.startswith("Cw-")}
                headers["Nats-Msg-Id"] = f"dup-{seq}"
                await js.publish(msg.subject, msg.data, headers=headers)
        finally:
            await nc.close()

        proc = spawn_projectors(settings)
        try:
            await wait_until(lambda: caught_up(store, dsn), within=60, what="catch-up after restart")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    await equals_rebuild(dsn)


async def _relayed(settings: Settings, head: int) -> bool:
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(settings.events_stream)
        return info.state.messages >= head
    finally:
        await nc.close()


async def test_poison_event_is_parked_and_the_projector_goes_on(
    own_settings: Settings, own_store: PostgresEventStore
) -> None:
    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    world = World(bus_on(store))
    parked_before = REGISTRY.get_sample_value("cw_projection_dead_letters_total", {"projection": "catalog"}) or 0.0
    async with relay(settings), projectors(settings):
        victim = (await world.draft("Poisoned course", lessons=1))["course"]
        course = await world.draft("Healthy course", lessons=1)
        cid = course["course"]
        last = (await store.read_stream(victim))[-1]
        meta = EventMeta(occurred_at=last.occurred_at, correlation_id="t")
        # A payload no projection can decode, then a valid event for a course that does not exist.
        orphan = uuid.uuid4()
        edited = (
            b'{"details": {"title": "Orphan", "description": "", "cefr_level": "A1",'
            b' "category": "x", "tags": [], "capacity": null, "prerequisites": [], "public": false}}'
        )
        await store.append(
            Commit(
                [
                    StreamWrite(
                        victim,
                        "course",
                        last.version,
                        [NewEvent(uuid.uuid4(), "CourseDetailsEdited", b'{"details": 42}')],
                        expected_hash=bytes.fromhex(last.hash),
                    ),
                    StreamWrite(orphan, "course", 0, [NewEvent(uuid.uuid4(), "CourseDetailsEdited", edited)]),
                ],
                meta,
            )
        )
        after = await world.bus.handle(c.AddModule(course_id=cid, title="After the poison"), world.author)
        await wait_until(lambda: caught_up(store, dsn), within=30, what="the projectors to pass the poison")

        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT projection, event_type, error FROM cw_projection_dead_letters ORDER BY 1, position"
            )
            parked = await cur.fetchall()
            cur = await conn.execute("SELECT draft FROM rm_catalog.courses WHERE course_id = %s", [cid])
            (draft,) = await cur.fetchone()  # type: ignore[misc]
        assert [m["title"] for m in draft["modules"]] == ["Module 0", "After the poison"]
        by_projection = {p: [(t, e) for q, t, e in parked if q == p] for p in PROJECTIONS}
        course_readers = [name for name, p in PROJECTIONS.items() if "CourseDetailsEdited" in p.handlers]
        assert len(course_readers) == 5  # catalog, reviews, progress, analytics, notifications; not orders
        for name in course_readers:
            (decode, missing) = by_projection[name]
            assert "Expected `object`" in decode[1]
            assert "never created" in missing[1]
        assert (
            REGISTRY.get_sample_value("cw_projection_dead_letters_total", {"projection": "catalog"})
            == parked_before + 2
        )
        nc = await nats.connect(settings.nats_url)
        try:
            dead = await nc.jetstream().get_last_msg(
                dead_letter_stream(settings), f"{settings.subject_prefix}.dlq.catalog.CourseDetailsEdited"
            )
            assert b"never created" in dead.data
        finally:
            await nc.close()

        # Fix the cause of the second one (its course now exists) and replay: it applies; the
        # undecodable one stays parked.
        created = (
            b'{"org_id": "%s", "author_id": "%s", "details": {"title": "Orphan", "description": "",'
            b' "cefr_level": "A1", "category": "x", "tags": [], "capacity": null,'
            b' "prerequisites": [], "public": false}}'
        ) % (str(world.org).encode(), str(world.author.actor_id).encode())
        (first,) = await store.read_stream(orphan)
        write = StreamWrite(
            orphan,
            "course",
            1,
            [NewEvent(uuid.uuid4(), "CourseCreated", created)],
            expected_hash=bytes.fromhex(first.hash),
        )
        fixed = await store.append(Commit([write], meta))
        await wait_until(lambda: caught_up(store, dsn), within=30, what="the fix to be projected")
        assert fixed.position > after.position
        assert await replay_dead_letters(dsn, PROJECTIONS["reviews"]) == (1, 1)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM cw_projection_dead_letters WHERE projection = 'reviews' AND replayed_at IS NULL"
            )
            assert (await cur.fetchone()) == (1,)


async def test_rebuild_under_live_traffic_equals_rebuild_at_rest(
    own_settings: Settings, own_store: PostgresEventStore
) -> None:
    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    world = World(bus_on(store))
    await scenario(world, courses=2, students=6)  # history to rebuild
    stop = asyncio.Event()

    async def traffic() -> int:
        rounds = 0
        course = await world.published("Busy course")
        while not stop.is_set() and rounds < 200:
            await world.learn(course, world.ctx("student"), finish=rounds % 2 == 0)
            rounds += 1
        return rounds

    async with relay(settings), projectors(settings):
        await wait_until(lambda: caught_up(store, dsn), within=60, what="the first catch-up")
        load = asyncio.create_task(traffic())
        for name, projection in PROJECTIONS.items():
            before = await store.head()
            reached = await rebuild(dsn, projection)
            assert reached >= before, name
        stop.set()
        rounds = await load
        assert rounds > 0
        await wait_until(lambda: caught_up(store, dsn), within=60, what="catch-up after the rebuilds")
    await equals_rebuild(dsn)


async def test_a_new_projection_version_rebuilds_before_going_live(
    own_settings: Settings, own_store: PostgresEventStore
) -> None:
    from projections.catalog import CatalogProjection
    from projections.projector import Projector
    from projections.store import read_checkpoint

    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    world = World(bus_on(store))
    await scenario(world, courses=1, students=2)
    await rebuild(dsn, CatalogProjection)  # version 1 is live

    class CatalogV2(CatalogProjection):
        version = CatalogProjection.version + 1

    async def upgraded() -> bool:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            cp = await read_checkpoint(conn, "rm_catalog")
        return cp is not None and cp.version == CatalogV2.version and cp.position == await store.head()

    async with relay(settings):
        task = asyncio.create_task(Projector(settings, CatalogV2, NatsConnector(settings)).run())
        try:
            await wait_until(upgraded, within=60, what="the catalog to be rebuilt at version 2")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await rebuild(dsn, CatalogProjection, target="cmp_catalog")
    live, fresh = await dump(dsn, "rm_catalog"), await dump(dsn, "cmp_catalog")
    assert live == fresh
    assert live["courses"]


def _cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    return env | {"CW_ENV": "test", **service_env(settings)}


async def test_the_rebuild_command_rebuilds_every_projection_with_a_progress_bar(
    own_settings: Settings, own_store: PostgresEventStore
) -> None:
    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    await scenario(World(bus_on(store)), courses=2, students=4)
    head = await store.head()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", "projections", "rebuild", *args],
            env=_cli_env(settings),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )

    done = await asyncio.to_thread(cli, "--all")
    assert done.returncode == 0, done.stderr
    for name in PROJECTIONS:
        assert f"{name} ✓" in done.stderr  # the progress bar's finished line
        assert await checkpoint(dsn, name) == head
    await equals_rebuild(dsn)

    unknown = await asyncio.to_thread(cli, "nosuch")
    assert unknown.returncode == 2 and "no projection 'nosuch'" in unknown.stderr


async def test_two_projector_processes_of_the_same_projections_equal_a_rebuild(
    own_settings: Settings, own_store: PostgresEventStore
) -> None:
    """Scale-out: two processes run every projection at once (one durable consumer each shares);
    each applies in its own transaction from its checkpoint, so nothing is applied twice."""
    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    world = World(bus_on(store))
    async with relay(settings):
        first, second = spawn_projectors(settings), spawn_projectors(settings)
        try:
            for _ in range(3):  # traffic while both run
                await scenario(world, courses=1, students=4)
            await wait_until(lambda: caught_up(store, dsn), within=90, what="both projectors to catch up")
            assert first.poll() is None and second.poll() is None
        finally:
            for proc in (first, second):
                proc.terminate()
            for proc in (first, second):
                proc.wait(timeout=60)
    await equals_rebuild(dsn)
