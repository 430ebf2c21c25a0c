"""A bounded, least-recently-stored-first dict: the one shape of every in-process memo here.

Its uses, each measured in a same-run A/B (docs/performance.md): the event store's held streams
(http-command at 0.60 of its rate without them), the query cache's local copies (catalog at 0.35
without), the page edge's routes, and verified access tokens.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(OrderedDict[K, V]):
    """Keeps the `size` keys stored most recently; `put` stores and evicts the oldest."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
