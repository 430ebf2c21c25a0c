"""Views shared between decisions: a stream's state at a version, replayed once per process.

Stored events never change, so an aggregate replayed from a stream's first n events is the
state every decision holding those n events would replay: `Session.view` takes it from here
rather than decoding and applying the events again (every enrolment views its course). A
shared view is sealed (`Aggregate.shared`): recording an event on it raises at once, so no
decision can change what another reads; aggregates change only through their events. An
entry holds while the decision's stream ends with the same event (its id); a longer or
another stream is replayed and replaces it.

Measured (docs/performance.md, "The gateway, per enrolment"): replaying a course costs some
2 to 7 µs of CPU per event, so without it an enrolment in a course of 20 lessons (45 events) ran at
0.66 of the rate with it (same-run A/B of http-command, median of 6 rounds); in the benchmark's
one-lesson course (7 events) it saves 130,000 of some 1.5 million instructions per enrolment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from domain.aggregate import Aggregate
from infra.lru import Lru
from schemas.envelope import EventEnvelope

A = TypeVar("A", bound=Aggregate)


class SharedViews:
    """The last view replayed of each stream (bounded), for the decisions of one process."""

    def __init__(self, size: int = 2_000) -> None:
        self._views: Lru[UUID, tuple[UUID, Aggregate]] = Lru(size)  # stream -> (last event id, view)

    def view(self, cls: type[A], stream_id: UUID, stored: Sequence[EventEnvelope], replay: Callable[[], A]) -> A:
        """The sealed view of `stream_id` as `stored` ends; `replay` makes it when none is held."""
        last = stored[-1].event_id
        held = self._views.get(stream_id)
        if held is not None and held[0] == last and type(held[1]) is cls and held[1].stored_version == len(stored):
            return held[1]
        agg = replay()
        agg.shared = True
        self._views.put(stream_id, (last, agg))
        return agg
