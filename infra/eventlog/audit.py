"""Verification runs over the log: one stream, a set of streams (an organisation), or the whole
log with its seals. Each reads through `LogReader` and reports its breaks in position order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

import msgspec

from infra.eventlog.reader import LogReader
from infra.eventlog.seals import Seal, Span, seal_problem
from infra.eventlog.verify import Break, BreakKind, LogWalk, attribute, diagnose

Progress = Callable[[int, int], None]  # (events checked, events to check)
PAGE = 5000


class Verification(msgspec.Struct, kw_only=True):
    """The outcome of one run: what was checked and every break found, first first."""

    scope: str
    events: int
    streams: int
    seals: int = 0
    head: int = 0
    breaks: list[Break] = []

    @property
    def intact(self) -> bool:
        return not self.breaks

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None


async def verify_streams(
    reader: LogReader, stream_ids: Sequence[UUID], scope: str, progress: Progress | None = None
) -> Verification:
    """Each stream's chain, in full."""
    breaks: list[Break] = []
    events = 0
    for n, stream_id in enumerate(stream_ids, 1):
        stream = await reader.stream(stream_id)
        events += len(stream)
        found = diagnose(stream)
        if found is not None:
            breaks.append(found)
        if progress:
            progress(n, len(stream_ids))
    breaks.sort(key=lambda b: b.position or 0)
    return Verification(scope=scope, events=events, streams=len(stream_ids), breaks=breaks)


async def verify_log(
    reader: LogReader,
    seals: Sequence[Seal],
    trusted_keys: frozenset[str],
    progress: Progress | None = None,
    *,
    page: int = PAGE,
) -> Verification:
    """Every stream's chain, the positions 1..head, and every seal: its signature, its chain,
    and its Merkle root and stream heads recomputed from the stored events it covers."""
    head = await reader.head()
    walk = LogWalk()
    breaks: list[Break] = []
    ordered = sorted(seals, key=lambda s: s.sequence)
    previous: Seal | None = None
    for seal in ordered:
        problem = seal_problem(seal, previous, trusted_keys)
        if problem is not None:
            breaks.append(_seal_break(seal, problem))
        previous = seal
    ranges = iter(ordered)
    current, span = next(ranges, None), Span()
    after = 0
    while events := await reader.read(after, page):
        walk.feed(events)
        for e in events:
            while current is not None and e.position > current.last_position:
                breaks.extend(_compare(current, span))
                current, span = next(ranges, None), Span()
            if current is not None and e.position >= current.first_position:
                span.add(e)
        after = events[-1].position
        if progress:
            progress(walk.checked, max(head, walk.last_position))
    while current is not None:
        breaks.extend(_compare(current, span))
        current, span = next(ranges, None), Span()
    streams = {sid: await reader.stream(sid) for sid in walk.suspects}
    for stream in streams.values():
        found = diagnose(stream)
        if found is not None:
            breaks.append(found)
    breaks = attribute([*breaks, *walk.end(head)], streams)
    return Verification(
        scope="log", events=walk.checked, streams=walk.streams, seals=len(ordered), head=head, breaks=breaks
    )


def _compare(seal: Seal, span: Span) -> list[Break]:
    """How the stored events of a seal's range differ from what it signed (nothing if intact)."""
    found = [
        Break(
            kind=BreakKind.SEAL,
            position=head.position,
            stream_id=UUID(head.stream_id),
            version=head.version,
            detail=f"seal {seal.sequence}: {problem}",
        )
        for head, problem in span.differences(seal)
    ]
    covered = seal.last_position - seal.first_position + 1
    if not found and (span.size != covered or span.root().hex() != seal.root):
        found.append(
            _seal_break(
                seal,
                f"the events at positions {seal.first_position}..{seal.last_position} no longer match its root "
                f"({span.size} of {covered} present)",
            )
        )
    return found


def _seal_break(seal: Seal, problem: str) -> Break:
    return Break(kind=BreakKind.SEAL, position=seal.first_position, detail=f"seal {seal.sequence}: {problem}")
