"""Tamper evidence: walk the hash chains and the global log, and name the first broken link.

Each stream's events link by hash (`infra.eventlog.hashing`): an event's `hash` covers its
predecessor's hash, its metadata and its payload. So, read in version order, an edited row no
longer matches its own hash; a row moved to another version matches its hash only under the
version it was written as; a row whose predecessor was deleted links to a hash no row has; and
rows inserted before an event leave it linking further back. Across streams, positions run
1, 2, ... up to the log's head with no hole; a hole is a deleted event, a row past the head an
inserted one. What the chains cannot show (a stream re-hashed consistently end to end) the
signed seals show: see `infra.eventlog.seals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID

import msgspec

from infra.eventlog.hashing import GENESIS, event_hash
from schemas.envelope import EventEnvelope


class BreakKind(StrEnum):
    EDITED = "edited"  # payload or metadata changed: the row no longer matches its hash
    DELETED = "deleted"  # an event is missing from its stream
    INSERTED = "inserted"  # an event that was never appended stands in the log
    REORDERED = "reordered"  # an event stands at another version or position than it was written at
    GAP = "gap"  # positions missing from the global log
    SEAL = "seal"  # a seal does not match the log, its predecessor or its signature


class Break(msgspec.Struct, frozen=True, kw_only=True):
    """One broken link: what is wrong, where, in words an auditor can act on."""

    kind: BreakKind
    detail: str
    position: int | None = None
    stream_id: UUID | None = None
    version: int | None = None


def recompute(e: EventEnvelope, prev_hash: bytes, version: int | None = None) -> bytes:
    """The hash `e` must carry if it follows `prev_hash` (at `version`, by default its own)."""
    return event_hash(
        prev_hash,
        event_id=e.event_id,
        stream_id=e.stream_id,
        version=e.version if version is None else version,
        event_type=e.event_type,
        schema_version=e.schema_version,
        occurred_at=e.occurred_at,
        actor_id=e.actor_id,
        org_id=e.org_id,
        correlation_id=e.correlation_id,
        causation_id=e.causation_id,
        payload=msgspec.json.encode(e.payload),
    )


def diagnose(stream: Sequence[EventEnvelope]) -> Break | None:
    """The first broken link of one stream's stored events (in version order), or None."""
    stored = {bytes.fromhex(e.hash): e for e in stream}
    prev, expected, last_position = GENESIS, 1, 0
    for e in stream:
        digest, linked = bytes.fromhex(e.hash), bytes.fromhex(e.prev_hash)
        if e.version != expected:
            return _at(
                e,
                BreakKind.DELETED,
                f"versions {expected}..{e.version - 1} are missing before version {e.version}",
            )
        if recompute(e, linked) != digest:
            written_as = _written_as(e, linked, len(stream))
            if written_as is None:
                return _at(e, BreakKind.EDITED, "its payload or metadata no longer match its hash")
            if written_as < e.version:
                return _at(
                    e,
                    BreakKind.INSERTED,
                    f"it was written as version {written_as}: {e.version - written_as} event(s) were "
                    f"inserted before it",
                )
            kind = BreakKind.REORDERED if linked == GENESIS or linked in stored else BreakKind.DELETED
            what = "moved" if kind is BreakKind.REORDERED else f"moved down after {written_as - e.version} deletion(s)"
            return _at(e, kind, f"it was written as version {written_as} ({what})")
        if linked != prev:
            before = stored.get(linked)
            if before is not None and before.version < e.version - 1:
                return _at(
                    e,
                    BreakKind.INSERTED,
                    f"it links to version {before.version}: versions {before.version + 1}..{e.version - 1} "
                    f"were inserted",
                )
            if before is not None or (linked == GENESIS and e.version > 1):
                return _at(e, BreakKind.REORDERED, "it does not link to the event before it")
            return _at(e, BreakKind.DELETED, "the event it links to is gone")
        if e.position <= last_position:
            return _at(
                e,
                BreakKind.REORDERED,
                f"its position comes before that of version {e.version - 1} ({last_position})",
            )
        prev, expected, last_position = digest, expected + 1, e.position
    return None


def _at(e: EventEnvelope, kind: BreakKind, detail: str) -> Break:
    return Break(kind=kind, detail=detail, position=e.position, stream_id=e.stream_id, version=e.version)


def _written_as(e: EventEnvelope, linked: bytes, length: int) -> int | None:
    """The version `e` matches its hash at, if not its own (tried on a broken row only)."""
    digest = bytes.fromhex(e.hash)
    for version in range(1, length + 2):
        if version != e.version and recompute(e, linked, version) == digest:
            return version
    return None


class LogWalk:
    """Checks the whole log in position order, one page at a time, with one state per stream.

    Rows that break the fast check (next version, linked to the stream's last hash, matching
    their own hash) mark their stream as suspect; `breaks` then diagnoses each suspect stream in
    full (`diagnose`) and attributes holes in the positions to the stream that lost the event.
    """

    def __init__(self) -> None:
        self.last_position = 0
        self.checked = 0
        self._heads: dict[UUID, tuple[int, bytes]] = {}  # stream -> (version, hash)
        self.suspects: dict[UUID, int] = {}  # stream -> position of its first failed check
        self.holes: list[tuple[int, int]] = []  # missing positions, first..last

    def feed(self, events: Sequence[EventEnvelope]) -> None:
        heads, suspects = self._heads, self.suspects
        for e in events:
            if e.position != self.last_position + 1:
                self.holes.append((self.last_position + 1, e.position - 1))
            self.last_position = e.position
            self.checked += 1
            sid = e.stream_id
            if sid in suspects:
                continue
            version, prev = heads.get(sid, (0, GENESIS))
            digest = bytes.fromhex(e.hash)
            if e.version == version + 1 and bytes.fromhex(e.prev_hash) == prev and recompute(e, prev) == digest:
                heads[sid] = (e.version, digest)
            else:
                suspects[sid] = e.position

    @property
    def streams(self) -> int:
        return len(self._heads) + len(self.suspects)

    def end(self, head: int) -> list[Break]:
        """Breaks found in the positions themselves, once the walk is over (`head`: the log's head)."""
        found = [_hole(first, last) for first, last in self.holes]
        if head > self.last_position:
            found.append(_hole(self.last_position + 1, head))
        elif head < self.last_position:
            found.append(
                Break(
                    kind=BreakKind.INSERTED,
                    position=head + 1,
                    detail=f"positions {head + 1}..{self.last_position} lie past the log's head ({head})",
                )
            )
        return found


def _hole(first: int, last: int) -> Break:
    span = f"position {first} is" if first == last else f"positions {first}..{last} are"
    return Break(kind=BreakKind.GAP, position=first, detail=f"{span} missing from the log")


def attribute(breaks: list[Break], streams: dict[UUID, list[EventEnvelope]]) -> list[Break]:
    """Breaks in position order, each hole merged into the stream deletion that explains it."""
    holes = [b for b in breaks if b.kind is BreakKind.GAP]
    merged: list[Break] = []
    for b in breaks:
        if b.kind is BreakKind.DELETED and b.stream_id is not None:
            lo, hi = _bracket(streams[b.stream_id], b.version or 0)
            hole = next((h for h in holes if h.position is not None and lo < h.position < hi), None)
            if hole is not None:
                holes.remove(hole)
                b = msgspec.structs.replace(b, position=hole.position, detail=f"{b.detail}; {hole.detail}")
        if b.kind is not BreakKind.GAP:
            merged.append(b)
    merged.extend(holes)
    return sorted(merged, key=lambda b: b.position or 0)


def _bracket(stream: Sequence[EventEnvelope], version: int) -> tuple[int, int]:
    """The positions between which the stream's event at `version` stood."""
    before = [e.position for e in stream if e.version < version]
    after = [e.position for e in stream if e.version >= version]
    return (max(before, default=0), min(after, default=2**63))
