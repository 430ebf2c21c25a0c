"""The long-lived heap policy: survivors are frozen (never rescanned), and a periodic full pass
still reclaims garbage cycles that formed among frozen objects."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from infra.gcpolicy import YOUNG_THRESHOLD, LongLivedHeap, tune_for_server


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_settle_freezes_survivors_at_most_once_per_interval() -> None:
    heap = LongLivedHeap(every=0.0, full_every=3600)
    kept = [Node() for _ in range(1000)]
    heap.settle()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    slow = LongLivedHeap(every=3600, full_every=3600)
    more = [Node() for _ in range(1000)]
    slow.settle()  # too soon after its start: nothing happens
    assert gc.get_freeze_count() < frozen + len(more)


def test_a_cycle_that_dies_while_frozen_is_reclaimed_by_the_full_pass() -> None:
    heap = LongLivedHeap(every=0.0, full_every=3600)
    holder = Node()
    holder.other = Node()
    holder.other.other = holder  # a cycle, alive for now
    probe = weakref.ref(holder)
    heap.settle()  # frozen while alive
    del holder  # now garbage, but frozen
    gc.collect()
    assert probe() is not None  # the collector no longer looks at it
    heap.full_every = 0.0
    heap.settle()  # the periodic full pass: unfreeze, collect everything
    assert probe() is None


def test_young_garbage_cycles_are_collected_not_frozen() -> None:
    heap = LongLivedHeap(every=0.0, full_every=3600)
    probe = _cycle()  # garbage already: only the collector can free it
    heap.settle()
    assert probe() is None


def test_a_server_freezes_its_startup_and_collects_the_young_generation_less_often() -> None:
    before = gc.get_threshold()
    try:
        startup = [Node() for _ in range(1000)]
        _cycle()  # startup garbage: collected, not frozen
        tune_for_server()
        assert gc.get_freeze_count() >= len(startup)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.isenabled()
        # The collector still reclaims cycles made after startup.
        probe = _cycle()
        gc.collect()
        assert probe() is None
    finally:
        gc.set_threshold(*before)
