"""Relay throughput: events/s from a pre-filled log to JetStream acks, against raw publish_async.

    python tests/bench/bench_relay.py [events] [rounds]

Ours: a Relay starts on a log of N events and runs until JetStream acknowledged all of them
(reading Postgres, building envelopes and headers, publishing, acks). Baseline: nats-py
`js.publish_async` of the same bodies with the same Nats-Msg-Id headers, prepared beforehand,
to a fresh stream of its own, with the same number in flight. Rounds alternate; medians count.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import nats
import psycopg

from infra.eventlog import EventEnvelope
from infra.eventlog.postgres import PostgresEventStore
from infra.eventlog.reader import LogReader
from infra.nats import NatsConnector, ensure_events_stream
from infra.relay import Relay, _Messages
from infra.settings import Settings
from tests.bench._common import append_many, until
from tests.bench._report import result
from tests.conftest import create_database, drop_database, make_settings


async def run_relay(settings: Settings, n: int) -> float:
    relay = Relay(settings, NatsConnector(settings))
    start = time.perf_counter()
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(300):
            await until(lambda: relay.position >= n)
        elapsed = time.perf_counter() - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert relay.published == n, relay.published
    return n / elapsed


async def log_rows(dsn: str, n: int) -> list[EventEnvelope]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        return await LogReader(conn).read(0, n)


def prepared_messages(settings: Settings, rows: list[EventEnvelope]) -> list[tuple[str, bytes, str]]:
    """(subject, body, event id) of the log, built exactly as the relay builds them."""
    messages = _Messages(settings, 1 << 20)
    out = []
    for env in rows:
        subject, _, body = messages.build(env, str(env.event_id), None)
        out.append((subject, body, str(env.event_id)))
    return out


async def run_baseline(settings: Settings, messages: list[tuple[str, bytes, str]]) -> float:
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream(publish_async_max_pending=settings.relay_window)
        await ensure_events_stream(js, settings)
        start = time.perf_counter()
        for subject, body, event_id in messages:
            await js.publish_async(subject, body, headers={"Nats-Msg-Id": event_id})
        async with asyncio.timeout(300):
            await js.publish_async_completed()
        elapsed = time.perf_counter() - start
        info = await js.stream_info(settings.events_stream)
        assert info.state.messages == len(messages), info.state.messages
        return len(messages) / elapsed
    finally:
        await nc.close()


async def delete_stream(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        await nc.jetstream().delete_stream(settings.events_stream)
    except Exception:
        pass
    finally:
        await nc.close()


async def main(n: int, rounds: int) -> None:
    dsn = create_database("cw_bench_relay")
    used: list[Settings] = []
    try:
        store = PostgresEventStore(dsn)
        await store.start()
        try:
            t = time.perf_counter()
            await append_many(store, n)
            print(f"appended {n} events in {time.perf_counter() - t:.2f}s")
        finally:
            await store.close()
        rows = await log_rows(dsn, n)
        ours, base = [], []
        for r in range(rounds):
            s_ours, s_base = make_settings(dsn), make_settings(dsn)
            used += [s_ours, s_base]
            ours.append(await run_relay(s_ours, n))
            base.append(await run_baseline(s_base, prepared_messages(s_base, rows)))
            await delete_stream(s_ours)
            await delete_stream(s_base)
            print(f"round {r + 1}: relay {ours[-1]:.0f} ev/s, raw publish_async {base[-1]:.0f} msg/s")
        print(f"relay: median {statistics.median(ours):.0f} events/s over {rounds} rounds of {n}")
        print(f"baseline: median {statistics.median(base):.0f} msgs/s")
        result("relay", statistics.median(ours), statistics.median(base))
    finally:
        for s in used:
            await delete_stream(s)
        drop_database(dsn)


if __name__ == "__main__":
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    asyncio.run(main(events, rounds))
