"""Rate limits with the `limits` library over Redis: per user (or address) and endpoint, and a
stricter one per address on sign-in and the other guessable identity endpoints.

Litestar's own limiter serialises every request behind one process-wide lock held across two
Redis round trips; `limits` keeps a sliding-window counter per key with one atomic script call,
so concurrent requests never wait for each other.

Leases: a busy user need not cost a Redis round trip per request. The general limit's permits
are taken from Redis a few at a time (`hit(..., cost=n)`, counted there at once, atomically,
by the library) and spent in this process for up to a second; the lease doubles while a key
stays busy, is topped up in the background once half spent (so a busy user rarely waits for
Redis), and is at most a fiftieth of the limit (and 1024), so a small limit stays exact (a lease
of one) and at most that many permits per process go unused. Sign-in and the other guessable endpoints
are always counted one by one.
"""

from __future__ import annotations

import asyncio
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.auth import Authenticator
from infra.availability import Availability
from infra.tokens import InvalidToken

STRICT = "strict_rate_limit"  # route opt: this endpoint is guessable, limit it per address
UNLIMITED = ("/health", "/ready", "/metrics", "/schema")
LEASE_SECONDS = 1.0  # a lease's unspent permits are dropped after this
LEASE_MAX = 1024
LEASES_KEPT = 50_000  # then the expired ones are forgotten
FAILED_OPEN = "rate_limit_failed_open"  # permits given without Redis are counted under this


class _Lease:
    """Permits of one user and endpoint taken from Redis at once, to spend in this process."""

    __slots__ = ("expires", "left", "refilling", "size")

    def __init__(self) -> None:
        self.left = 0  # permits still to spend here
        self.size = 1  # how many the last refill took from Redis
        self.expires = 0.0  # time.monotonic() after which the rest is dropped
        self.refilling: asyncio.Task[TooManyRequestsException | None] | None = None

    def take(self) -> bool:
        if self.left > 0 and self.expires > time.monotonic():
            self.left -= 1
            return True
        return False

    def add(self, size: int, expires: float) -> None:
        if self.expires <= time.monotonic():
            self.left = 0  # the unspent rest of an old lease is not carried over
        self.left += size
        self.size = size
        self.expires = expires


def storage(redis_url: str | None, namespace: str) -> Storage:
    """Counters in Redis (shared by every gateway process), in memory when the cache is off."""
    if not redis_url:
        return MemoryStorage()
    uri = redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
    return RedisStorage(uri, implementation="redispy", wrap_exceptions=True, key_prefix=namespace)


def endpoint_of(scope: Scope) -> str:
    """What a limit counts per: the method and the route's path template."""
    return f"{scope['method']}:{scope.get('path_template') or scope['path']}"


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(
        self,
        *,
        auth: Authenticator,
        store: Storage,
        per_minute: int,
        strict_per_minute: int,
        store_health: Availability,
    ) -> None:
        self.auth = auth
        self.store_health = store_health  # Redis's: while it is down, limits are not even tried
        self.should_bypass_for_scope = lambda scope: str(scope.get("path", "")).startswith(UNLIMITED)
        self.limiter = SlidingWindowCounterRateLimiter(store)
        self.general = RateLimitItemPerMinute(per_minute)
        self.strict = RateLimitItemPerMinute(strict_per_minute)
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._lease_max = max(1, min(LEASE_MAX, per_minute // 50))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        # Straight from the scope: a Request (and its URL) per request costs more than the limit.
        endpoint = endpoint_of(scope)
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(STRICT):
            await self._check(self.strict, "strict", _address(scope), endpoint)
        await self._leased(self._who(scope), endpoint)
        await next_app(scope, receive, send)

    def _who(self, scope: Scope) -> str:
        try:
            return f"user:{self.auth.claims_of(scope).user_id}"  # type: ignore[arg-type]
        except InvalidToken:
            return f"addr:{_address(scope)}"

    def take_now(self, scope: Scope, endpoint: str) -> bool:
        """One permit of the general limit if this process holds one (no I/O), else False:
        the caller then takes the full path, which waits for permits or answers 429."""
        who = self._who(scope)
        lease = self._leases.get((who, endpoint))
        if lease is None or not lease.take():
            return False
        self._top_up(lease, who, endpoint)
        return True

    def _top_up(self, lease: _Lease, who: str, endpoint: str) -> None:
        if lease.size > 1 and lease.left * 2 < lease.size and lease.refilling is None:
            # Half spent: the next permits are fetched now, so a busy user rarely waits.
            lease.refilling = asyncio.create_task(self._refill(lease, who, endpoint, busy=True))

    async def _leased(self, who: str, endpoint: str) -> None:
        """One permit of the general limit, from this process's lease when it has one left."""
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

    async def _refill(self, lease: _Lease, who: str, endpoint: str, *, busy: bool) -> TooManyRequestsException | None:
        """Take the next permits from Redis: a doubled lease while the key stays busy, else one."""
        try:
            now = time.monotonic()
            size = min(lease.size * 2, self._lease_max) if busy or lease.expires > now else 1
            if size > 1 and await self._hit(self.general, size, "general", who, endpoint):
                lease.add(size, now + LEASE_SECONDS)
                return None
            if busy:
                return None  # near the limit: the waiters will take permits one by one
            try:
                await self._check(self.general, "general", who, endpoint)
            except TooManyRequestsException as refused:
                return refused
            lease.add(1, now + LEASE_SECONDS)
            return None
        finally:
            lease.refilling = None

    async def _hit(self, item: RateLimitItemPerMinute, cost: int, *key: str) -> bool:
        # The limiter fails open: a Redis outage must not stop the API. It is logged once, with
        # the count of requests let through, by the store's Availability.
        if not self.store_health.up:
            self.store_health.skipped(FAILED_OPEN, cost)
            return True
        try:
            return bool(await self.limiter.hit(item, *key, cost=cost))
        except Exception as e:
            self.store_health.failed(e, FAILED_OPEN, cost)
            return True

    async def _check(self, item: RateLimitItemPerMinute, *key: str) -> None:
        """One permit, or 429 with Retry-After."""
        if await self._hit(item, 1, *key):
            return
        try:
            stats = await self.limiter.get_window_stats(item, *key)
        except Exception as e:
            self.store_health.failed(e, FAILED_OPEN)
            return
        retry = max(1, int(stats.reset_time - time.time() + 0.999))
        raise TooManyRequestsException(
            detail=f"rate limit of {item.amount} per minute reached",
            headers={"Retry-After": str(retry), "RateLimit-Limit": str(item.amount), "RateLimit-Remaining": "0"},
        )


def limiter(
    auth: Authenticator, store: Storage, per_minute: int, strict_per_minute: int, store_health: Availability
) -> RateLimitMiddleware:
    return RateLimitMiddleware(
        auth=auth, store=store, per_minute=per_minute, strict_per_minute=strict_per_minute, store_health=store_health
    )
