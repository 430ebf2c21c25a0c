"""Following a Redis pub/sub channel for as long as the process runs.

Used by the query cache (invalidations) and by the revocation list (sign-outs): both keep a copy
in memory that is only right while subscribed, so both need the same loop: subscribe, be told
once the server has confirmed it, hand over every message, be told when the subscription is
lost, and subscribe again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from infra.availability import Availability


async def follow(
    redis: Any,
    channel: str,
    *,
    on_message: Callable[[str], None],
    on_subscribed: Callable[[], Awaitable[None]],
    on_lost: Callable[[], None],
    redis_health: Availability,
    retry_seconds: float = 1.0,
) -> None:
    """Follow `channel` until cancelled.

    `on_subscribed` runs once the server has confirmed the subscription, so anything published
    after it is delivered; `on_lost` runs whenever the subscription ends (error or cancel);
    failures and recoveries are reported to `redis_health` (which logs an outage once).
    """
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(channel)
            async for message in pubsub.listen():
                if message.get("type") == "subscribe":
                    redis_health.answered()
                    await on_subscribed()
                elif message.get("type") == "message":
                    data = message["data"]
                    on_message(data.decode() if isinstance(data, bytes) else str(data))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            redis_health.failed(e, during=f"follow {channel}")
        finally:
            on_lost()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):  # never hang a shutdown on a dead socket
                    await pubsub.aclose()
        await asyncio.sleep(retry_seconds)
