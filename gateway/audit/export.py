"""Exports an auditor can check offline: JSON Lines of whole streams, then a manifest.

Each line but the last is one `EventEnvelope` (metadata, payload, hash chain) in log order; the
streams are exported from their first version, so every chain can be walked again. The last line
is the manifest: each stream's head, the sha256 of the event lines, the seals (with the public
key that signed them) and, for every sealed event, its Merkle inclusion proof under its seal.
`check_export` needs nothing but the file: an edited line breaks its chain, its stream head, the
file digest or its proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from infra.eventlog import merkle
from infra.eventlog.reader import LogReader
from infra.eventlog.seals import Seal, StreamHead, seal_problem, signature_problem
from infra.eventlog.verify import Break, BreakKind, diagnose, recompute
from schemas.envelope import EventEnvelope

FORMAT = "coursewright-audit-export/1"
_encode = msgspec.json.Encoder().encode


class Proof(msgspec.Struct, frozen=True, array_like=True):
    """Event at `position` is leaf `position - first_position` of seal `sequence`."""

    position: int
    sequence: int
    path: list[str]


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: str = FORMAT
    scope: str
    exported_at: datetime
    events: int
    events_sha256: str  # of the event lines, each with its newline
    heads: list[StreamHead]
    seals: list[Seal]
    proofs: list[Proof]
    public_keys: list[str]


class ManifestLine(msgspec.Struct, frozen=True):
    manifest: Manifest


class Export(msgspec.Struct, frozen=True):
    events: list[EventEnvelope]
    manifest: Manifest


def export_lines(export: Export) -> Iterator[bytes]:
    """The file, line by line."""
    for e in export.events:
        yield _encode(e) + b"\n"
    yield _encode(ManifestLine(export.manifest)) + b"\n"


async def gather(
    reader: LogReader, stream_ids: Sequence[UUID], seals: Sequence[Seal], scope: str, now: datetime
) -> Export:
    """The export of these streams, with the seals and proofs that cover their events."""
    streams = [await reader.stream(sid) for sid in stream_ids]
    events = sorted((e for s in streams for e in s), key=lambda e: e.position)
    heads = [StreamHead(str(s[-1].stream_id), s[-1].version, s[-1].position, s[-1].hash) for s in streams if s]
    digest = hashlib.sha256()
    for e in events:
        digest.update(_encode(e) + b"\n")
    proofs: list[Proof] = []
    wanted = {e.position for e in events}
    for seal in seals:
        inside = sorted(p for p in wanted if seal.first_position <= p <= seal.last_position)
        if not inside:
            continue
        tree = merkle.Tree(await _leaves(reader, seal))
        proofs += [Proof(p, seal.sequence, [h.hex() for h in tree.proof(p - seal.first_position)]) for p in inside]
    return Export(
        events=events,
        manifest=Manifest(
            scope=scope,
            exported_at=now,
            events=len(events),
            events_sha256=digest.hexdigest(),
            heads=heads,
            seals=list(seals),
            proofs=proofs,
            public_keys=sorted({s.public_key for s in seals}),
        ),
    )


async def _leaves(reader: LogReader, seal: Seal) -> list[bytes]:
    leaves: list[bytes] = []
    after = seal.first_position - 1
    while after < seal.last_position:
        page = await reader.read(after, min(5000, seal.last_position - after))
        if not page:
            break
        leaves += [merkle.leaf(e.position, bytes.fromhex(e.hash)) for e in page]
        after = page[-1].position
    return leaves


class ExportCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What an offline check found: counts, and every problem (none: the export is intact)."""

    events: int
    streams: int
    sealed: int  # events proven to lie under a valid seal
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def check_export(lines: Iterable[bytes], trusted_keys: frozenset[str] = frozenset()) -> ExportCheck:
    """Check an export with nothing but its lines (and, if given, the keys to trust; otherwise the
    keys the manifest names, which the auditor compares with the platform's published key)."""
    rows = [line for line in lines if line.strip()]
    if not rows:
        return ExportCheck(events=0, streams=0, sealed=0, problems=["the file is empty"])
    problems: list[str] = []
    try:
        manifest = msgspec.json.decode(rows[-1], type=ManifestLine).manifest
        events = [msgspec.json.decode(r, type=EventEnvelope) for r in rows[:-1]]
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError
        return ExportCheck(events=0, streams=0, sealed=0, problems=[f"not an export: {error}"])
    digest = hashlib.sha256(b"".join(r if r.endswith(b"\n") else r + b"\n" for r in rows[:-1])).hexdigest()
    if digest != manifest.events_sha256 or len(events) != manifest.events:
        problems.append("the event lines are not those the manifest lists (edited, added or removed)")
    by_stream: dict[UUID, list[EventEnvelope]] = {}
    for e in events:
        by_stream.setdefault(e.stream_id, []).append(e)
    for stream in by_stream.values():
        stream.sort(key=lambda e: e.version)
        found = diagnose(stream)
        if found is not None:
            problems.append(_describe(found))
    heads = {h.stream_id: h for h in manifest.heads}
    for sid, stream in by_stream.items():
        last = stream[-1]
        if heads.get(str(sid)) != StreamHead(str(sid), last.version, last.position, last.hash):
            problems.append(f"stream {sid} does not end where the manifest says")
    if len(heads) != len(by_stream):
        problems.append("the manifest lists streams the export does not hold")
    trusted = trusted_keys or frozenset(manifest.public_keys)
    seals = {s.sequence: s for s in manifest.seals}
    for seal in manifest.seals:
        problem = seal_problem(seal, seals.get(seal.sequence - 1), trusted)
        if problem is not None:
            problems.append(f"seal {seal.sequence}: {problem}")
    at = {e.position: e for e in events}
    sealed = 0
    for proof in manifest.proofs:
        under, proven = seals.get(proof.sequence), at.get(proof.position)
        if under is None or proven is None:
            problems.append(f"the proof of position {proof.position} names no exported event or seal")
        elif merkle.verify_inclusion(
            merkle.leaf(proven.position, bytes.fromhex(proven.hash)),
            proven.position - under.first_position,
            under.last_position - under.first_position + 1,
            [bytes.fromhex(h) for h in proof.path],
            bytes.fromhex(under.root),
        ):
            sealed += 1
        else:
            problems.append(f"the event at position {proven.position} is not the one seal {under.sequence} signed")
    return ExportCheck(events=len(events), streams=len(by_stream), sealed=sealed, problems=problems)


class InclusionProof(msgspec.Struct, frozen=True, kw_only=True):
    """One event, the seal that covers it and the Merkle path from its leaf to the seal's root:
    enough to show, without the rest of the log, that the event is the one the seal signed."""

    event: EventEnvelope
    seal: Seal
    index: int  # the event's leaf: position - seal.first_position
    path: list[str]


async def inclusion_proof(reader: LogReader, event: EventEnvelope, seals: Sequence[Seal]) -> InclusionProof | None:
    """The proof of `event` under the seal covering its position (None: no seal covers it yet)."""
    seal = next((s for s in seals if s.first_position <= event.position <= s.last_position), None)
    if seal is None:
        return None
    index = event.position - seal.first_position
    path = merkle.Tree(await _leaves(reader, seal)).proof(index)
    return InclusionProof(event=event, seal=seal, index=index, path=[h.hex() for h in path])


def proof_problem(proof: InclusionProof, trusted_keys: frozenset[str]) -> str | None:
    """What is wrong with a proof, checked offline (None: the seal is signed by a trusted key and
    the event, as given, is the leaf it signed)."""
    event, seal = proof.event, proof.seal
    if not trusted_keys:
        return "no public key to trust was given"
    problem = signature_problem(seal, trusted_keys)
    if problem is not None:
        return f"seal {seal.sequence}: {problem}"
    if recompute(event, bytes.fromhex(event.prev_hash)) != bytes.fromhex(event.hash):
        return f"the event at position {event.position} no longer matches its hash"
    if proof.index != event.position - seal.first_position:
        return "the leaf index is not the event's place under the seal"
    if not merkle.verify_inclusion(
        merkle.leaf(event.position, bytes.fromhex(event.hash)),
        proof.index,
        seal.last_position - seal.first_position + 1,
        [bytes.fromhex(h) for h in proof.path],
        bytes.fromhex(seal.root),
    ):
        return f"the event at position {event.position} is not the one seal {seal.sequence} signed"
    return None


def _describe(b: Break) -> str:
    where = f"stream {b.stream_id} version {b.version} (position {b.position})"
    return f"{b.kind}: {where}: {b.detail}" if b.kind is not BreakKind.GAP else b.detail
