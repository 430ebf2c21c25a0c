"""Each kind of tampering with one stream is named, at the right version, whatever the stream."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from infra.eventlog.hashing import GENESIS, event_hash
from infra.eventlog.verify import BreakKind, LogWalk, diagnose
from schemas.envelope import EventEnvelope

STREAM = uuid.UUID("00000000-0000-4000-8000-00000000000a")
T0 = datetime(2026, 3, 3, 9, tzinfo=UTC)


def forge(n: int, *, start_position: int = 1, stream: uuid.UUID = STREAM) -> list[EventEnvelope]:
    """A well-linked stream of `n` events, as the store writes them."""
    out, prev = [], GENESIS
    for v in range(1, n + 1):
        out.append(written(prev, v, start_position + v - 1, stream, f'{{"n":{v}}}'))
        prev = bytes.fromhex(out[-1].hash)
    return out


def written(prev: bytes, version: int, position: int, stream: uuid.UUID, payload: str) -> EventEnvelope:
    event_id = uuid.uuid5(stream, str(version) + payload)
    at = T0 + timedelta(minutes=version)
    digest = event_hash(
        prev, event_id=event_id, stream_id=stream, version=version, event_type="CourseLessonEdited",
        schema_version=1, occurred_at=at, actor_id="a", org_id="o", correlation_id="c", causation_id=None,
        payload=payload.encode(),
    )  # fmt: skip
    return EventEnvelope(
        position=position, event_id=event_id, stream_id=stream, stream_type="course", version=version,
        event_type="CourseLessonEdited", schema_version=1, occurred_at=at, actor_id="a", org_id="o",
        correlation_id="c", causation_id=None, prev_hash=prev.hex(), hash=digest.hex(), payload=msgspec.Raw(payload),
    )  # fmt: skip


def renumbered(events: list[EventEnvelope], shift: int) -> list[EventEnvelope]:
    return [msgspec.structs.replace(e, version=e.version + shift) for e in events]


streams = st.integers(3, 30).flatmap(lambda n: st.tuples(st.just(forge(n)), st.integers(2, n - 1)))


@given(streams)
def test_an_intact_stream_has_no_break(case: tuple[list[EventEnvelope], int]) -> None:
    assert diagnose(case[0]) is None


@given(streams, st.sampled_from(["payload", "actor", "time"]))
def test_an_edit_is_named_at_its_version(case: tuple[list[EventEnvelope], int], what: str) -> None:
    events, k = case
    e = events[k - 1]
    changed = {
        "payload": {"payload": msgspec.Raw(b'{"n":-1}')},
        "actor": {"actor_id": "someone else"},
        "time": {"occurred_at": e.occurred_at + timedelta(seconds=1)},
    }[what]
    events[k - 1] = msgspec.structs.replace(e, **changed)  # type: ignore[arg-type]
    found = diagnose(events)
    assert found is not None and (found.kind, found.version, found.position) == (BreakKind.EDITED, k, e.position)


@given(streams, st.booleans())
def test_a_deletion_is_named_with_or_without_renumbering(case: tuple[list[EventEnvelope], int], renumber: bool) -> None:
    events, k = case
    tampered = events[: k - 1] + (renumbered(events[k:], -1) if renumber else events[k:])
    found = diagnose(tampered)
    assert found is not None and found.kind is BreakKind.DELETED
    assert found.version == k if renumber else found.version == k + 1


@given(streams)
def test_two_swapped_versions_are_reordered(case: tuple[list[EventEnvelope], int]) -> None:
    events, k = case
    a, b = events[k - 1], events[k]
    tampered = [*events[: k - 1], msgspec.structs.replace(b, version=k), msgspec.structs.replace(a, version=k + 1)]
    tampered += events[k + 1 :]
    found = diagnose(tampered)
    assert found is not None and (found.kind, found.version) == (BreakKind.REORDERED, k)


@given(streams)
def test_an_insertion_is_named_after_the_forged_event(case: tuple[list[EventEnvelope], int]) -> None:
    events, k = case
    forged = written(bytes.fromhex(events[k - 2].hash), k, 10_000, STREAM, '{"forged":true}')
    tampered = [*events[: k - 1], forged, *renumbered(events[k - 1 :], 1)]
    found = diagnose(tampered)
    assert found is not None and (found.kind, found.version) == (BreakKind.INSERTED, k + 1)


def test_the_log_walk_marks_a_broken_stream_and_a_hole() -> None:
    a = forge(4, start_position=1)
    b = forge(3, start_position=5, stream=uuid.UUID("00000000-0000-4000-8000-00000000000b"))
    walk = LogWalk()
    walk.feed([a[0], a[1], a[3], *b[:2]])  # position 3 deleted; b intact
    walk.feed([b[2]])
    assert walk.suspects == {STREAM: 4}
    (hole,) = walk.end(7)
    assert (hole.kind, hole.position) == (BreakKind.GAP, 3)
