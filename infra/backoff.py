"""Exponential backoff with jitter: how long to wait before trying again after a failure."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Delays of `initial`, twice that, ... up to `maximum`, each shortened by up to `jitter`
    (a fraction) so that processes failing together do not retry in step."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: float = 0.2) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.failures = 0

    def delay(self, failures: int) -> float:
        """The delay after `failures` consecutive failures (1 for the first)."""
        base = min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))
        return base * random.uniform(1.0 - self.jitter, 1.0)

    def reset(self) -> None:
        """A success: the next failure waits `initial` again."""
        self.failures = 0

    async def sleep(self) -> None:
        """Count one more failure and wait its delay."""
        self.failures += 1
        await asyncio.sleep(self.delay(self.failures))
