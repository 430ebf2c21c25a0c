"""Rate-limit leases: a busy user's permits taken from Redis a few at a time and spent here.

What it buys: no Redis round trip for most requests of a busy user, and the page edge
(gateway/edge.py) can serve a cached page only when a permit is at hand with no I/O. Removing
it (one `limits` hit in Redis per request, the edge awaiting that hit) lowered the median ratio
of http-command from 0.77 to 0.57 (-26 %, lower in 6 of 7 rounds) and of catalog from 0.66 to
0.32 (-52 %, 7 of 7) over seven same-run alternating A/B rounds on a loaded two-core machine.

How: the general limit's permits are taken from Redis `n` at a time (`hit(..., cost=n)`,
counted there at once, atomically) and spent in this process for up to a second. A lease
doubles while a key stays busy, is topped up in the background once half spent (so a busy user
rarely waits for Redis), and is at most a fiftieth of the limit (and 1024): a small limit stays
exact (a lease of one), and at most that many permits per process go unused, so the limit is
never exceeded.

A lease that runs out of time before it is half spent (a key busy at fewer permits a second than
its size: the catalog benchmark's gateway under 1,000 req/s, as on a loaded machine) is taken
again, in one round trip, as large as the permits it was spent at per second. It used to start
again at one permit and double one round trip at a time, and every request in between took the
gateway's full path (3.5 times the instructions of the page edge): with the benchmark's server
held to 15 % of a core, the edge served 0.86-0.93 of the requests that way and 0.94-0.98 now,
and the gateway's rate was 1.18 times the old one (median of six same-run alternating rounds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from litestar.exceptions import TooManyRequestsException

LEASE_SECONDS = 1.0  # a lease's unspent permits are dropped after this
LEASE_MAX = 1024
LEASES_KEPT = 50_000  # then the expired ones are forgotten

# (cost, who, endpoint) -> whether Redis granted `cost` permits at once
Hit = Callable[[int, str, str], Awaitable[bool]]
# (who, endpoint) -> one permit, or TooManyRequestsException
Check = Callable[[str, str], Awaitable[None]]


class _Lease:
    """Permits of one user and endpoint taken from Redis at once, to spend in this process."""

    __slots__ = ("expires", "left", "refilling", "size", "spent", "started")

    def __init__(self) -> None:
        self.left = 0  # permits still to spend here
        self.size = 1  # how many the last refill took from Redis
        self.expires = 0.0  # time.monotonic() after which the rest is dropped
        self.started = 0.0  # when this run of leases began (after the last one ran out of time)
        self.spent = 0  # permits spent since then
        self.refilling: asyncio.Task[TooManyRequestsException | None] | None = None

    def take(self) -> bool:
        if self.left > 0 and self.expires > time.monotonic():
            self.left -= 1
            self.spent += 1
            return True
        return False

    def add(self, size: int, expires: float) -> None:
        now = time.monotonic()
        if self.expires <= now:
            self.left = 0  # the unspent rest of an old lease is not carried over
            self.started, self.spent = now, 0
        self.left += size
        self.size = size
        self.expires = expires

    def rate(self) -> int:
        """Permits spent per lease-second while this run of leases lasted."""
        return round(self.spent * LEASE_SECONDS / max(self.expires - self.started, LEASE_SECONDS))


class Leases:
    """This process's leases of one limit, per (who, endpoint)."""

    def __init__(self, per_minute: int, hit: Hit, check: Check) -> None:
        self._hit = hit
        self._check = check
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._max = max(1, min(LEASE_MAX, per_minute // 50))

    def take_now(self, who: str, endpoint: str) -> bool:
        """One permit if this process holds one (no I/O), else False."""
        lease = self._leases.get((who, endpoint))
        if lease is None or not lease.take():
            return False
        self._top_up(lease, who, endpoint)
        return True

    async def take(self, who: str, endpoint: str) -> None:
        """One permit, from this process's lease when it has one left; else 429."""
        slot = (who, endpoint)
        lease = self._leases.get(slot)
        if lease is None:
            if len(self._leases) >= LEASES_KEPT:
                now = time.monotonic()
                self._leases = {k: v for k, v in self._leases.items() if v.expires > now or v.refilling}
            lease = self._leases[slot] = _Lease()
        while not lease.take():  # (take_now is the no-wait form of this loop)
            # Spent: every request waiting for this lease waits for one refill and wakes with it
            # (a lock would wake them one per event-loop turn: slow under load).
            if lease.refilling is None:
                lease.refilling = asyncio.create_task(self._refill(lease, who, endpoint, busy=False))
            refused = await asyncio.shield(lease.refilling)
            if refused is not None and lease.left == 0:
                raise TooManyRequestsException(detail=refused.detail, headers=refused.headers)
        self._top_up(lease, who, endpoint)

    def _top_up(self, lease: _Lease, who: str, endpoint: str) -> None:
        if lease.size > 1 and lease.left * 2 < lease.size and lease.refilling is None:
            # Half spent: the next permits are fetched now, so a busy user rarely waits.
            lease.refilling = asyncio.create_task(self._refill(lease, who, endpoint, busy=True))

    async def _refill(self, lease: _Lease, who: str, endpoint: str, *, busy: bool) -> TooManyRequestsException | None:
        """Take the next permits from Redis: a doubled lease while the key stays busy; once a
        lease ran out of time, as many as were spent per lease-second (one for an occasional caller)."""
        try:
            now = time.monotonic()
            if busy or lease.expires > now:
                size = min(lease.size * 2, self._max)
            else:
                size = min(max(lease.rate(), 1), self._max)
            if size > 1 and await self._hit(size, who, endpoint):
                lease.add(size, now + LEASE_SECONDS)
                return None
            if busy:
                return None  # near the limit: the waiters will take permits one by one
            try:
                await self._check(who, endpoint)
            except TooManyRequestsException as refused:
                return refused
            lease.add(1, now + LEASE_SECONDS)
            return None
        finally:
            lease.refilling = None
