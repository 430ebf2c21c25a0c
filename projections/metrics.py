"""Prometheus metrics of the read side (served by the gateway's /metrics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from projections.applier import Outcome

EVENTS = Counter("cw_projection_events_total", "Events applied by a projection", ["projection", "source"])
DUPLICATES = Counter("cw_projection_duplicates_total", "Redelivered events skipped by a projection", ["projection"])
DEAD_LETTERS = Counter("cw_projection_dead_letters_total", "Events a projection parked as poison", ["projection"])
BATCH_SECONDS = Histogram("cw_projection_batch_seconds", "Time of one projection transaction", ["projection"])
LAG_EVENTS = Gauge("cw_projection_lag_events", "Log head position minus the projection checkpoint", ["projection"])
LAG_SECONDS = Gauge(
    "cw_projection_lag_seconds",
    "Age of the oldest event the projection has not applied yet (0 when caught up)",
    ["projection"],
)
CHECKPOINT = Gauge("cw_projection_checkpoint", "Last applied log position", ["projection"])


def record_batch(projection: str, out: Outcome, seconds: float) -> None:
    if out.applied:
        EVENTS.labels(projection, "stream").inc(out.applied - min(out.filled, out.applied))
    if out.filled:
        EVENTS.labels(projection, "log").inc(out.filled)
    if out.duplicates:
        DUPLICATES.labels(projection).inc(out.duplicates)
    if out.parked:
        DEAD_LETTERS.labels(projection).inc(len(out.parked))
    BATCH_SECONDS.labels(projection).observe(seconds)
    CHECKPOINT.labels(projection).set(out.position)


def record_lag(projection: str, events: int, seconds: float) -> None:
    LAG_EVENTS.labels(projection).set(events)
    LAG_SECONDS.labels(projection).set(seconds)
