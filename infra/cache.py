"""A Redis cache of query results: tagged invalidation, no stampede, early refresh, counters.

Invalidation is by generation: every cached key names the tags it depends on (an
organisation's catalog, one course, ...) and embeds their current generation numbers, read in
the same round trip as the value by a small script. A writer that changes a tag increments its
generation, so every key that depended on it is never read again (and expires). A reader that
computed a value from data older than an invalidation stores it under the old generation, where
nobody looks: a slow reader cannot put a stale value back.

Stampedes: in one process concurrent misses on a key share one computation; across processes
a short Redis lock elects one computer while the others wait for its value (bounded), and a
value is refreshed early with a probability that grows as its expiry nears (XFetch), by one
caller, while the others keep being served the current value.

Hot values are also kept in process memory for a few seconds (the catalog benchmark without
these local copies ran at 0.35 of its rate with them, same-run A/B; the page edge serves only
them). Invalidations are published on a Redis channel as well; every process listens and bumps
its local generations, so a local copy dies with the Redis one. A process that is not (or no
longer) subscribed keeps nothing locally: it could miss an invalidation.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from prometheus_client import Counter

from infra.availability import Availability
from infra.channels import follow
from infra.lru import Lru

REQUESTS = Counter("cw_cache_requests_total", "Cache lookups by outcome", ["cache", "outcome"])
GLOBAL_TAG = "*"

# KEYS: generation keys; ARGV[1]: the key without generations. Returns {full key, value}.
_LOOKUP = """
local gens = {}
for i, k in ipairs(KEYS) do
  local g = redis.call('GET', k)
  if not g then g = '0' end
  gens[i] = g
end
local full = ARGV[1] .. '@' .. table.concat(gens, '.')
return {full, redis.call('GET', full)}
"""

Compute = Callable[[], Awaitable[tuple[bytes, int]]]  # -> (value, position it reflects)

# The (key, tags) of the last `Cache.get` in this task: lets a caller in front of the code that
# asked (the gateway's page edge) find the same value again with `Cache.peek`.
SERVED: contextvars.ContextVar[tuple[str, tuple[str, ...]] | None] = contextvars.ContextVar(
    "cw_cache_served", default=None
)


def _pack(value: bytes, position: int, expires_at: float, delta: float) -> bytes:
    return b"%d %.3f %.4f\n" % (position, expires_at, delta) + value


def _unpack(raw: bytes) -> tuple[bytes, int, float, float]:
    head, _, value = raw.partition(b"\n")
    position, expires_at, delta = head.split(b" ")
    return value, int(position), float(expires_at), float(delta)


class Cache:
    """Query results in Redis under `prefix`; with `redis=None` every lookup computes."""

    def __init__(
        self,
        redis: Any | None,
        prefix: str,
        *,
        name: str = "query",
        ttl: float = 60.0,
        lock_ttl: float = 5.0,
        wait: float = 2.0,
        beta: float = 1.0,
        local_ttl: float = 5.0,
        local_size: int = 10_000,
        redis_health: Availability | None = None,
    ) -> None:
        self.redis: Any = redis
        # Shared with the process's other Redis users when given: an outage is logged once.
        self.redis_health = redis_health or Availability("redis")
        self.prefix = prefix
        self.name = name
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        # A generation key lives a day past its last bump, then reads as 0 again. That is safe
        # because every value is long expired by then (`ttl` is far shorter): no value stored
        # under an old generation 0 can be found again. Without it, each tag leaves a key forever.
        self.generation_ttl = max(int(ttl * 100), 86_400)
        self.wait = wait
        self.beta = beta
        self.hits = self.misses = self.refreshes = 0
        self._flights: dict[str, asyncio.Future[tuple[bytes, int]]] = {}
        self._script: Any = None
        self.local_ttl = local_ttl
        self._local: Lru[str, tuple[bytes, int, float]] = Lru(local_size)
        self._local_gens: dict[str, int] = {}
        self._subscribed = False
        self._listener: asyncio.Task[None] | None = None

    @property
    def channel(self) -> str:
        return f"{self.prefix}:invalidated"

    def _gen_key(self, tag: str) -> str:
        return f"{self.prefix}:gen:{tag}"

    async def get(
        self,
        key: str,
        tags: Sequence[str],
        compute: Compute,
        *,
        min_position: int = 0,
    ) -> bytes:
        """The cached value of `key`, computed (once) when missing, stale or too old.

        `min_position`: a value reflecting an older log position than this counts as missing.
        """
        if self.redis is None:
            return (await compute())[0]
        if not self.redis_health.worth_trying():  # known down: straight to the database
            self.redis_health.skipped("cache")
            return (await compute())[0]
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name=f"cache-listen:{self.name}")
        SERVED.set((key, tuple(tags)))
        local_key = self._local_key(key, tags)
        found = self._local.get(local_key)
        if found is not None and found[1] >= min_position and found[2] > time.monotonic():
            self._count("hit")
            return found[0]
        try:
            full, raw = await self._lookup(key, tags)
        except Exception as e:  # the cache is an optimisation: serve from the database
            self.redis_health.failed(e, during="cache")
            return (await compute())[0]
        self.redis_health.answered()
        if raw is not None:
            value, position, expires_at, delta = _unpack(raw)
            if position >= min_position:
                early = time.time() - delta * self.beta * math.log(random.random() or 1e-12)
                if early < expires_at:
                    self._count("hit")
                    self._remember(local_key, value, position, expires_at)
                    return value
                # Close to expiry: one caller refreshes, the rest keep the current value.
                if await self._lock(full):
                    self._count("refresh")
                    value, position = await self._fill(full, compute, locked=True)
                    self._remember(local_key, value, position, time.time() + self.ttl)
                    return value
                self._count("hit")
                return value
        self._count("miss")
        value, position = await self._single_flight(full, compute)
        if position >= min_position:
            self._remember(local_key, value, position, time.time() + self.ttl)
        return value

    def peek(self, key: str, tags: Sequence[str]) -> bytes | None:
        """The value of `key` held in this process, if a fresh copy is: no I/O, no computing."""
        found = self._local.get(self._local_key(key, tags))
        if found is None or found[2] <= time.monotonic():
            return None
        self._count("hit")
        return found[0]

    async def invalidate(self, tags: Iterable[str]) -> None:
        """Make every cached value depending on one of `tags` unreachable."""
        tags = list(tags)
        if self.redis is None or not tags:
            return
        self._bump(tags)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for tag in tags:
                    pipe.incr(self._gen_key(tag))
                    pipe.expire(self._gen_key(tag), self.generation_ttl)
                pipe.publish(self.channel, " ".join(tags))
                await pipe.execute()
            self.redis_health.answered()
        except Exception as e:
            self.redis_health.failed(e, during="cache invalidation")

    async def close(self) -> None:
        """Stop following invalidations (the Redis client stays open: it is the caller's)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.wait({listener}, timeout=2.0)

    # -- the local copies ----------------------------------------------------------------------

    def _local_key(self, key: str, tags: Sequence[str]) -> str:
        gens = self._local_gens
        return f"{key}@{gens.get(GLOBAL_TAG, 0)}." + ".".join(str(gens.get(t, 0)) for t in tags)

    def _remember(self, local_key: str, value: bytes, position: int, expires_at: float) -> None:
        if not self._subscribed:
            return
        ttl = min(self.local_ttl, expires_at - time.time())
        if ttl <= 0:
            return
        self._local.put(local_key, (value, position, time.monotonic() + ttl))

    def _bump(self, tags: Iterable[str]) -> None:
        for tag in tags:
            self._local_gens[tag] = self._local_gens.get(tag, 0) + 1

    async def _listen(self) -> None:
        """Follow invalidations published by other processes (the projectors)."""

        async def subscribed() -> None:
            self._subscribed = True

        def lost() -> None:
            # Invalidations may be missed until subscribed again: keep nothing locally.
            self._subscribed = False
            self._local.clear()

        await follow(
            self.redis,
            self.channel,
            on_message=lambda text: self._bump(text.split()),
            on_subscribed=subscribed,
            on_lost=lost,
            redis_health=self.redis_health,
        )

    # -- internals -------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        if outcome == "hit":
            self.hits += 1
        elif outcome == "miss":
            self.misses += 1
        else:
            self.refreshes += 1
        REQUESTS.labels(self.name, outcome).inc()

    async def _lookup(self, key: str, tags: Sequence[str]) -> tuple[str, bytes | None]:
        if self._script is None:
            self._script = self.redis.register_script(_LOOKUP)
        gen_keys = [self._gen_key(GLOBAL_TAG), *(self._gen_key(t) for t in tags)]
        full, raw = await self._script(keys=gen_keys, args=[f"{self.prefix}:v:{key}"])
        return (full.decode() if isinstance(full, bytes) else full), raw or None

    async def _lock(self, full: str) -> bool:
        ok = await self.redis.set(f"{full}:lock", b"1", nx=True, px=int(self.lock_ttl * 1000))
        return bool(ok)

    async def _single_flight(self, full: str, compute: Compute) -> tuple[bytes, int]:
        flight = self._flights.get(full)
        if flight is not None:
            return await asyncio.shield(flight)
        future: asyncio.Future[tuple[bytes, int]] = asyncio.get_running_loop().create_future()
        self._flights[full] = future
        try:
            result = await self._miss(full, compute)
            future.set_result(result)
            return result
        except Exception as e:
            future.set_exception(e)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._flights[full]

    async def _miss(self, full: str, compute: Compute) -> tuple[bytes, int]:
        if await self._lock(full):
            return await self._fill(full, compute, locked=True)
        # Another process computes it: wait for its value, boundedly, then compute ourselves.
        deadline = time.monotonic() + self.wait
        pause = 0.002
        while time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            raw = await self.redis.get(full)
            if raw is not None:
                value, position, _, _ = _unpack(raw)
                return value, position
        return await self._fill(full, compute, locked=False)

    async def _fill(self, full: str, compute: Compute, *, locked: bool) -> tuple[bytes, int]:
        started = time.time()
        try:
            value, position = await compute()
            delta = time.time() - started
            packed = _pack(value, position, time.time() + self.ttl, delta)
            with contextlib.suppress(Exception):
                await self.redis.set(full, packed, px=int(self.ttl * 1000))
            return value, position
        finally:
            if locked:
                with contextlib.suppress(Exception):
                    await self.redis.delete(f"{full}:lock")
