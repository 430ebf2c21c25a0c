"""Rate limits with the `limits` library over Redis: per user (or address) and endpoint, and a
stricter one per address on sign-in and the other guessable identity endpoints.

Litestar's own limiter serialises every request behind one process-wide lock held across two
Redis round trips; `limits` keeps a sliding-window counter per key with one atomic script call,
so concurrent requests never wait for each other.
"""

from __future__ import annotations

import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.auth import Authenticator
from infra.logging import get_logger
from infra.tokens import InvalidToken

log = get_logger(__name__)
STRICT = "strict_rate_limit"  # route opt: this endpoint is guessable, limit it per address
UNLIMITED = ("/health", "/ready", "/metrics", "/schema")


def storage(redis_url: str | None, namespace: str) -> Storage:
    """Counters in Redis (shared by every gateway process), in memory when the cache is off."""
    if not redis_url:
        return MemoryStorage()
    uri = redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
    return RedisStorage(uri, implementation="redispy", wrap_exceptions=True, key_prefix=namespace)


def _address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else "unknown"


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, *, auth: Authenticator, store: Storage, per_minute: int, strict_per_minute: int) -> None:
        self.auth = auth
        self.should_bypass_for_scope = lambda scope: str(scope.get("path", "")).startswith(UNLIMITED)
        self.limiter = SlidingWindowCounterRateLimiter(store)
        self.general = RateLimitItemPerMinute(per_minute)
        self.strict = RateLimitItemPerMinute(strict_per_minute)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request[Any, Any, Any] = Request(scope)
        template = str(scope.get("path_template", request.url.path))
        endpoint = f"{request.method}:{template}"
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(STRICT):
            await self._check(self.strict, "strict", _address(request), endpoint)
        try:
            who = f"user:{self.auth.claims(request).user_id}"
        except InvalidToken:
            who = f"addr:{_address(request)}"
        await self._check(self.general, "general", who, endpoint)
        await next_app(scope, receive, send)

    async def _check(self, item: RateLimitItemPerMinute, *key: str) -> None:
        try:
            allowed = await self.limiter.hit(item, *key)
            if allowed:
                return
            stats = await self.limiter.get_window_stats(item, *key)
        except Exception as e:  # the limiter fails open: a Redis outage must not stop the API
            log.warning("ratelimit.store_unavailable", error=str(e))
            return
        retry = max(1, int(stats.reset_time - time.time() + 0.999))
        raise TooManyRequestsException(
            detail=f"rate limit of {item.amount} per minute reached",
            headers={"Retry-After": str(retry), "RateLimit-Limit": str(item.amount), "RateLimit-Remaining": "0"},
        )


def limiter(auth: Authenticator, store: Storage, per_minute: int, strict_per_minute: int) -> RateLimitMiddleware:
    return RateLimitMiddleware(auth=auth, store=store, per_minute=per_minute, strict_per_minute=strict_per_minute)
