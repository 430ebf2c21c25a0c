"""Rate limits with the `limits` library over Redis: per user (or address) and endpoint, and a
stricter one per address on sign-in and the other guessable identity endpoints.

Litestar's own limiter serialises every request behind one process-wide lock held across two
Redis round trips; `limits` keeps a sliding-window counter per key with one atomic script call,
so concurrent requests never wait for each other.

The general limit's permits are spent from leases (gateway.leases): a busy user costs no Redis
round trip per request. Sign-in and the other guessable endpoints are counted one by one.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.auth import Authenticator
from gateway.leases import Leases
from infra.availability import Availability
from infra.tokens import InvalidToken

STRICT = "strict_rate_limit"  # route opt: this endpoint is guessable, limit it per address
UNLIMITED = ("/health", "/ready", "/metrics", "/schema")
FAILED_OPEN = "rate_limit_failed_open"  # permits given without Redis are counted under this


def storage(redis_url: str | None, namespace: str) -> Storage:
    """Counters in Redis (shared by every gateway process), in memory when the cache is off."""
    if not redis_url:
        return MemoryStorage()
    uri = redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
    return RedisStorage(uri, implementation="redispy", wrap_exceptions=True, key_prefix=namespace)


def endpoint_of(scope: Scope) -> str:
    """What a limit counts per: the method and the route's path template."""
    method = scope.get("method", "WS")  # a websocket scope has none
    return f"{method}:{scope.get('path_template') or scope['path']}"


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
        self.leases = Leases(per_minute, self._general_hit, self._general_check)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        # Straight from the scope: a Request (and its URL) per request costs more than the limit.
        endpoint = endpoint_of(scope)
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(STRICT):
            await self._check(self.strict, "strict", _address(scope), endpoint)
        await self.leases.take(self._who(scope), endpoint)
        await next_app(scope, receive, send)

    def _who(self, scope: Scope) -> str:
        try:
            return f"user:{self.auth.claims_of(scope).user_id}"  # type: ignore[arg-type]
        except InvalidToken:
            return f"addr:{_address(scope)}"

    def take_now(self, scope: Scope, endpoint: str) -> bool:
        """One permit of the general limit if this process holds one (no I/O), else False:
        the caller then takes the full path, which waits for permits or answers 429."""
        return self.leases.take_now(self._who(scope), endpoint)

    async def _general_hit(self, cost: int, who: str, endpoint: str) -> bool:
        return await self._hit(self.general, cost, "general", who, endpoint)

    async def _general_check(self, who: str, endpoint: str) -> None:
        await self._check(self.general, "general", who, endpoint)

    async def _hit(self, item: RateLimitItemPerMinute, cost: int, *key: str) -> bool:
        # The limiter fails open: a Redis outage must not stop the API. It is logged once, with
        # the count of requests let through, by the store's Availability.
        if not self.store_health.worth_trying():
            self.store_health.skipped(FAILED_OPEN, cost)
            return True
        try:
            allowed = bool(await self.limiter.hit(item, *key, cost=cost))
        except Exception as e:
            self.store_health.failed(e, FAILED_OPEN, cost)
            return True
        self.store_health.answered()
        return allowed

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
