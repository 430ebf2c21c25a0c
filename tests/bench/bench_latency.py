"""Append-to-delivery latency through the relay, against raw JetStream publish-to-delivery.

    python tests/bench/bench_latency.py [seconds] [--process]

1. Peak: 6000 single-event commits appended as fast as 64 callers can while the relay runs;
   the rate is events delivered to a JetStream push consumer per second.
2. Ours: appends paced at half that rate for `seconds` (10); each event's payload carries the
   time it was handed to the store, the consumer subtracts it from the time it arrives.
3. Baseline: `js.publish_async` at the same pace straight into a stream of its own, the same
   kind of consumer measuring publish-to-delivery.
Relay, store and consumers share this process (as under `coursewright up`); with --process
the relay runs as `coursewright run relay` beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import msgspec
import nats
from nats.aio.msg import Msg

from infra.eventlog.postgres import PostgresEventStore
from infra.nats import NatsConnector, ensure_events_stream
from infra.relay import Relay
from infra.settings import Settings
from schemas.envelope import EventEnvelope
from tests.bench._common import commit, until
from tests.bench._report import percentile, result, summary
from tests.conftest import create_database, drop_database, make_settings

ROOT = Path(__file__).resolve().parents[2]
PEAK_EVENTS = 6000
TICK = 0.005


class _Stamp(msgspec.Struct):
    t: float


class _Stamped(msgspec.Struct):
    payload: _Stamp


_decode = msgspec.json.Decoder(_Stamped).decode


class Probe:
    """A push consumer on a stream that records delivery latency from the payload's stamp."""

    def __init__(self) -> None:
        self.count = 0
        self.latencies: list[float] = []
        self.recording = False
        self._sub = None

    async def start(self, nc: nats.NATS, settings: Settings) -> None:
        async def on_msg(msg: Msg) -> None:
            now = time.perf_counter()
            self.count += 1
            if self.recording:
                self.latencies.append((now - _decode(msg.data).payload.t) * 1000)

        self._sub = await nc.jetstream().subscribe(f"{settings.subject_prefix}.evt.>", cb=on_msg, ordered_consumer=True)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()


def _stamp() -> bytes:
    return b'{"t": %r}' % time.perf_counter()


async def paced(rate: float, seconds: float, issue: Callable[[], Awaitable[object]]) -> int:
    """Call `issue` `rate` times a second for `seconds`, each as a task; returns how many."""
    tasks: set[asyncio.Task[object]] = set()
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(rate * elapsed) - sent
        for _ in range(due):
            task = asyncio.create_task(issue())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent += due
        await asyncio.sleep(TICK)
    await asyncio.gather(*tasks)
    return sent


@contextlib.asynccontextmanager
async def relay_running(settings: Settings, in_process: bool) -> AsyncIterator[None]:
    """The relay as a task of this process, or as `coursewright run relay` beside it."""
    if in_process:
        task = asyncio.create_task(Relay(settings, NatsConnector(settings)).run())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return
    env = {
        **os.environ,
        "CW_PG_DSN": settings.pg_dsn,
        "CW_NATS_URL": settings.nats_url,
        "CW_EVENTS_STREAM": settings.events_stream,
        "CW_SUBJECT_PREFIX": settings.subject_prefix,
        "CW_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "run", "relay", cwd=ROOT, env=env)
    try:
        yield
    finally:
        proc.terminate()
        await proc.wait()


async def measure_ours(dsn: str, seconds: float, in_process: bool) -> tuple[float, list[float]]:
    settings = make_settings(dsn)
    store = PostgresEventStore(dsn)
    await store.start()
    stack = contextlib.AsyncExitStack()
    await stack.enter_async_context(relay_running(settings, in_process))
    nc = await nats.connect(settings.nats_url)
    probe = Probe()
    try:
        await ensure_events_stream(nc.jetstream(), settings)
        await probe.start(nc, settings)

        # Peak: as fast as 64 callers can append single-event commits.
        start = time.perf_counter()
        left = PEAK_EVENTS

        async def caller() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await store.append(commit([_stamp()]))

        await asyncio.gather(*(caller() for _ in range(64)))
        appended = time.perf_counter() - start
        async with asyncio.timeout(120):
            await until(lambda: probe.count >= PEAK_EVENTS)
        peak = PEAK_EVENTS / (time.perf_counter() - start)
        print(f"peak: {PEAK_EVENTS} events appended in {appended:.2f}s, delivered at {peak:.0f}/s")

        rate = peak / 2
        appends: list[float] = []

        async def append() -> None:
            t = time.perf_counter()
            await store.append(commit([_stamp()]))
            appends.append((time.perf_counter() - t) * 1000)

        probe.recording = True
        sent = await paced(rate, seconds, append)
        async with asyncio.timeout(120):
            await until(lambda: probe.count >= PEAK_EVENTS + sent)
        print(f"ours: {sent} events at {rate:.0f}/s for {seconds:.0f}s")
        print(f"  of which the append (commit, fsync) alone (ms): {summary(appends)}")
        return rate, probe.latencies
    finally:
        await probe.stop()
        await stack.aclose()
        await store.close()
        await _delete(nc, settings)


async def measure_baseline(dsn: str, rate: float, seconds: float) -> list[float]:
    settings = make_settings(dsn)
    nc = await nats.connect(settings.nats_url)
    probe = Probe()
    try:
        js = nc.jetstream(publish_async_max_pending=settings.relay_window)
        await ensure_events_stream(js, settings)
        await probe.start(nc, settings)
        probe.recording = True
        subject = settings.event_subject("course", "Happened")
        encode = msgspec.json.Encoder().encode

        async def publish() -> object:
            event_id = str(uuid.uuid4())
            body = encode(
                EventEnvelope(
                    event_id=event_id, position=0, stream_id=event_id, stream_type="course",
                    version=1, event_type="Happened", schema_version=1,
                    occurred_at=datetime.now(UTC), actor_id="bench", org_id="org-1",
                    correlation_id=event_id, causation_id=event_id, prev_hash="0" * 64,
                    hash="0" * 64, payload=msgspec.Raw(_stamp()),
                )
            )  # fmt: skip
            return await js.publish_async(subject, body, headers={"Nats-Msg-Id": event_id})

        sent = await paced(rate, seconds, publish)
        await js.publish_async_completed()
        async with asyncio.timeout(120):
            await until(lambda: probe.count >= sent)
        print(f"baseline: {sent} raw publishes at {rate:.0f}/s for {seconds:.0f}s")
        return probe.latencies
    finally:
        await probe.stop()
        await _delete(nc, settings)


async def _delete(nc: nats.NATS, settings: Settings) -> None:
    try:
        await nc.jetstream().delete_stream(settings.events_stream)
    except Exception:
        pass
    finally:
        await nc.close()


async def main(seconds: float, in_process: bool) -> None:
    dsn = create_database("cw_bench_latency")
    print(f"relay {'in this process' if in_process else 'in a process of its own'}")
    try:
        rate, ours = await measure_ours(dsn, seconds, in_process)
        base = await measure_baseline(dsn, rate, seconds)
    finally:
        drop_database(dsn)
    o50, o99 = percentile(ours, 50), percentile(ours, 99)
    b50, b99 = percentile(base, 50), percentile(base, 99)
    print(f"append->delivery via relay at {rate:.0f}/s (ms): {summary(ours)}")
    print(f"raw publish->delivery at {rate:.0f}/s (ms): {summary(base)}")
    print(f"latency p50/p99 ms: ours {o50:.2f}/{o99:.2f} baseline {b50:.2f}/{b99:.2f}")
    result("latency", o99, b99)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--process"]
    asyncio.run(main(float(args[0]) if args else 10.0, in_process="--process" not in sys.argv))
