"""Rate-limit leases over the `limits` library's counters: a lease that ran out of time is taken
again at the rate it was spent at, and an occasional caller is counted one permit at a time."""

from __future__ import annotations

import asyncio

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from litestar.exceptions import TooManyRequestsException

from gateway.leases import LEASE_SECONDS, Leases

LIMIT = 50 * 64  # a lease of at most 64 permits
ITEM = RateLimitItemPerMinute(LIMIT)


def leases() -> tuple[Leases, SlidingWindowCounterRateLimiter]:
    limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def hit(cost: int, who: str, endpoint: str) -> bool:
        return await limiter.hit(ITEM, who, endpoint, cost=cost)

    async def check(who: str, endpoint: str) -> None:
        if not await limiter.hit(ITEM, who, endpoint):
            raise TooManyRequestsException()

    return Leases(LIMIT, hit, check), limiter


async def counted(limiter: SlidingWindowCounterRateLimiter, who: str) -> int:
    """The permits Redis (here: the memory storage) has handed out to `who`."""
    stats = await limiter.get_window_stats(ITEM, who, "GET:/catalog")
    return LIMIT - stats.remaining


async def take(leases: Leases, who: str, n: int) -> None:
    for _ in range(n):
        await leases.take(who, "GET:/catalog")
        await asyncio.sleep(0)  # lets a background top-up run


async def test_a_lease_that_ran_out_of_time_comes_back_at_its_rate_not_at_one() -> None:
    leases_, limiter = leases()
    await take(leases_, "busy", 300)  # the lease has grown to its largest, 64
    await asyncio.sleep(LEASE_SECONDS + 0.1)  # its second is over: the rest is dropped
    before = await counted(limiter, "busy")
    await take(leases_, "busy", 1)
    taken = await counted(limiter, "busy") - before
    # One round trip brings back a lease as large as the rate it was spent at (300 in about a
    # second, so the largest, 64), where it used to start again at 1 and double one round trip
    # at a time, every request in between taking the gateway's full path.
    assert taken == 64


async def test_an_occasional_caller_is_counted_one_permit_at_a_time() -> None:
    leases_, limiter = leases()
    for i in range(1, 3):
        await take(leases_, "calm", 1)
        assert await counted(limiter, "calm") == i
        await asyncio.sleep(LEASE_SECONDS + 0.1)
