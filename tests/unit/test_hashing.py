"""The hash chain's canonical form: stored history stays verifiable whatever the code computing it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from infra.eventlog.hashing import GENESIS, event_hash, uuid_text


def reference(prev: bytes, fields: list[str], payload: bytes) -> bytes:
    """The documented form, written out plainly: sha256(prev || len(header) || header || payload)."""
    header = "\x1f".join(fields).encode()
    return hashlib.sha256(prev + len(header).to_bytes(4, "big") + header + payload).digest()


@given(st.uuids())
def test_uuid_text_is_the_canonical_form(u: uuid.UUID) -> None:
    assert uuid_text(u) == str(u)


@given(
    event_id=st.uuids(),
    stream_id=st.uuids(),
    version=st.integers(1, 2**40),
    event_type=st.text(min_size=1, max_size=40),
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    actor=st.none() | st.uuids().map(str),
    causation=st.none() | st.text(max_size=40),
    payload=st.binary(max_size=200),
)
def test_event_hash_follows_the_documented_form(
    event_id: uuid.UUID,
    stream_id: uuid.UUID,
    version: int,
    event_type: str,
    at: datetime,
    actor: str | None,
    causation: str | None,
    payload: bytes,
) -> None:
    got = event_hash(
        GENESIS,
        event_id=event_id,
        stream_id=stream_id,
        version=version,
        event_type=event_type,
        schema_version=1,
        occurred_at=at,
        actor_id=actor,
        org_id=None,
        correlation_id="corr",
        causation_id=causation,
        payload=payload,
    )
    fields = [
        str(event_id),
        str(stream_id),
        str(version),
        event_type,
        "1",
        at.astimezone(UTC).isoformat(timespec="microseconds"),
        actor or "",
        "",
        "corr",
        causation or "",
    ]
    assert got == reference(GENESIS, fields, payload)


def test_a_known_event_keeps_its_hash() -> None:
    """A fixed vector: changing the canonical form would orphan every stored chain."""
    got = event_hash(
        GENESIS,
        event_id=uuid.UUID("01a2026a-fa65-706c-b2d7-bd20b796670e"),
        stream_id=uuid.UUID("0c7e4f6a-9b1d-4a55-8c3e-5d2f1a7b9e01"),
        version=3,
        event_type="CourseCreated",
        schema_version=1,
        occurred_at=datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
        actor_id="a",
        org_id="o",
        correlation_id="c",
        causation_id=None,
        payload=b'{"title":"Forklifts"}',
    )
    assert got.hex() == "dc4983e8363db787abc6a4ea868ce08c80e71cba7ec7ddff8361bf841893c9bd"
