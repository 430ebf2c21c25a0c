"""Keep a worker's long-lived objects out of the cyclic garbage collector's way.

One idea (frozen objects are never scanned again, yet still freed by reference counting), three
uses, each measured in a same-run A/B (docs/performance.md):

- a server (the gateway) freezes what its startup built and collects the young generation every
  `YOUNG_THRESHOLD` allocations (`tune_for_server`): without any collector policy the gateway
  served 0.45 of its http-command rate, its held streams rescanned by every full collection;
- a live projector settles its heap after each batch (`HEAP.settle()`): without it the
  command → read-model freshness was 20 % longer at p50 and 18 % at p99;
- a rebuild applies each batch with the collector paused and freezes what survived
  (`collector_paused`, `gc.unfreeze()` at its end): without it the analytics rebuild of a
  45,000-event log ran at 0.63 and the progress one at 0.88 of their rate.

`LongLivedHeap.settle()` collects the young generations and freezes what survived (at most once
a second). Garbage cycles that form among frozen objects later would never be collected, so
every `full_every` seconds everything is unfrozen and collected once (one longer pause, rarely).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator


class LongLivedHeap:
    def __init__(self, every: float = 1.0, full_every: float = 600.0) -> None:
        self.every = every
        self.full_every = full_every
        self._last = self._last_full = time.monotonic()

    def settle(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        if now - self._last_full >= self.full_every:
            self._last_full = now
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()


# One per process: every worker in it shares the same heap (and the same collector).
HEAP = LongLivedHeap()

# Young collections every 5000 net allocations instead of CPython's 700 (see tune_for_server).
YOUNG_THRESHOLD = 5000


def tune_for_server() -> None:
    """Freeze what startup built, and collect the young generation less often.

    Startup (imports, the app, its OpenAPI document) leaves objects that live as long as the
    process; frozen, no collection scans them again (a full collection of them was a 90 ms pause
    in the first seconds under load). The young generation of a busy gateway holds what its
    requests in flight hold, some 7000 objects at 64 connections, and every young collection
    scans all of them: at CPython's threshold that happened every 75 requests and took 9 % of
    the CPU; at `YOUNG_THRESHOLD` it happens about 15 times less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run a block without the cyclic collector, then freeze what survived it.

    A rebuild keeps hundreds of thousands of rows in memory until it ends; left to the collector
    they are scanned again and again, which was more than half of a rebuild's time. The few
    cycles a batch leaves are collected once `gc.unfreeze()` hands the frozen objects back.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
