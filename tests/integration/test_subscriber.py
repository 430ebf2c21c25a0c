"""A worker's subscription on the real NATS server: handled once, retried, poison parked, order kept."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import msgspec
import nats
import pytest
from nats.aio.client import Client

from infra.backoff import Backoff
from infra.eventlog import EventEnvelope
from infra.eventlog.deadletters import DeadLetter, dead_letter_stream, delete_streams
from infra.eventlog.subscriber import EventSubscriber
from infra.nats import ensure_events_stream
from infra.settings import Settings
from schemas.envelope import Headers
from tests.conftest import make_settings

FAST = Backoff(initial=0.05, maximum=0.2)


@pytest.fixture
async def nc(database: str) -> AsyncIterator[tuple[Client, Settings]]:
    settings = make_settings(database)
    client = await nats.connect(settings.nats_url)
    await ensure_events_stream(client.jetstream(), settings)
    yield client, settings
    await delete_streams(client.jetstream(), settings)
    await client.close()


def _event(position: int, event_type: str = "OrderPlaced", stream_type: str = "order") -> EventEnvelope:
    return EventEnvelope(
        position=position, event_id=uuid.uuid4(), stream_id=uuid.uuid4(), stream_type=stream_type, version=1,
        event_type=event_type, schema_version=1, occurred_at=datetime.now(UTC), actor_id=None, org_id=None,
        correlation_id=f"corr-{position}", causation_id=None, prev_hash="0" * 64, hash="1" * 64,
        payload=msgspec.Raw(b'{"n": %d}' % position),
    )  # fmt: skip


async def _publish(client: Client, settings: Settings, env: EventEnvelope) -> None:
    await client.jetstream().publish(
        settings.event_subject(env.stream_type, env.event_type),
        msgspec.json.encode(env),
        headers={Headers.MSG_ID: str(env.event_id), Headers.POSITION: str(env.position)},
    )


async def _until(predicate: Callable[[], bool], seconds: float = 20.0) -> None:
    """Wait until `predicate` holds (polled: the subscriber has no event to wait on)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_each_event_is_handled_once_retried_after_failures_and_poison_is_parked(
    nc: tuple[Client, Settings],
) -> None:
    client, settings = nc
    seen: list[int] = []
    failures = {2: 2}  # event 2 fails twice, then succeeds

    async def handle(env: EventEnvelope) -> None:
        if env.position == 3:
            raise ValueError("this document cannot be read")
        if failures.get(env.position, 0) > 0:
            failures[env.position] -= 1
            raise RuntimeError("transient")
        seen.append(env.position)

    subscriber = EventSubscriber(client, settings, "worker_test", handle, subjects="order.>", max_deliver=3, retry=FAST)
    task = asyncio.create_task(subscriber.run())
    try:
        for p in (1, 2, 3, 4):
            await _publish(client, settings, _event(p))
        await _publish(client, settings, _event(5, "CourseCreated", "course"))  # outside the filter
        await _until(lambda: subscriber.handled == 3 and subscriber.parked == 1, 10)
        await asyncio.sleep(0.3)  # nothing more arrives
        assert sorted(seen) == [1, 2, 4]
        dead = await client.jetstream().get_last_msg(
            dead_letter_stream(settings), f"{settings.subject_prefix}.dlq.worker_test.OrderPlaced"
        )
        letter = msgspec.json.decode(dead.data, type=DeadLetter)
        assert (letter.position, letter.consumer) == (3, "worker_test")
        assert "this document cannot be read" in letter.error
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_undecodable_message_is_parked_at_once_and_the_next_is_handled(nc: tuple[Client, Settings]) -> None:
    client, settings = nc
    seen: list[int] = []

    async def handle(env: EventEnvelope) -> None:
        seen.append(env.position)

    subscriber = EventSubscriber(client, settings, "worker_bad", handle, subjects="order.>", retry=FAST)
    task = asyncio.create_task(subscriber.run())
    try:
        await client.jetstream().publish(
            settings.event_subject("order", "OrderPlaced"),
            b"{not an envelope",
            headers={Headers.MSG_ID: "bad-1", Headers.POSITION: "7"},
        )
        await _publish(client, settings, _event(8))
        await _until(lambda: subscriber.parked == 1 and seen == [8])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_second_member_of_the_same_durable_shares_the_work_without_doubles(
    nc: tuple[Client, Settings],
) -> None:
    client, settings = nc
    seen: list[int] = []

    async def handle(env: EventEnvelope) -> None:
        seen.append(env.position)

    members = [EventSubscriber(client, settings, "worker_pair", handle, subjects="order.>") for _ in range(2)]
    tasks = [asyncio.create_task(m.run()) for m in members]
    try:
        for p in range(1, 41):
            await _publish(client, settings, _event(p))
        await _until(lambda: len(seen) >= 40)
        await asyncio.sleep(0.3)
        assert sorted(seen) == list(range(1, 41))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_event_handled_for_longer_than_ack_wait_is_kept_in_progress_not_redelivered(
    nc: tuple[Client, Settings],
) -> None:
    client, settings = nc
    calls: list[int] = []

    async def handle(env: EventEnvelope) -> None:
        calls.append(env.position)
        await asyncio.sleep(7.0)  # more than twice ack_wait: only the in-progress reports keep it

    # Two lanes: were the event given out again, the idle lane would take it while the first works.
    subscriber = EventSubscriber(
        client, settings, "worker_long", handle, subjects="order.>", concurrency=2, ack_wait=3.0, retry=FAST
    )
    task = asyncio.create_task(subscriber.run())
    try:
        await _publish(client, settings, _event(1))
        await _until(lambda: subscriber.handled == 1, 30)
        assert calls == [1]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
