"""`coursewright audit ...`: a stream's history, its state at a point, a diff, verification of the
log, a seal now, exports and their offline check."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from domain.errors import DomainError
from gateway.audit.export import InclusionProof, check_export, export_lines, proof_problem
from gateway.audit.replay import UnknownStream
from gateway.audit.sealer import Sealer, seal_key, trusted_keys
from gateway.audit.service import AuditLog, Point, connect_to, parse_point
from gateway.audit.xapi import Learning
from gateway.bootstrap import load_settings
from infra.errors import InfraError
from infra.eventlog.audit import Verification
from infra.eventlog.reader import Match
from infra.settings import Settings

console = Console(stderr=True, highlight=False)
audit_cli = typer.Typer(
    help="Audit: histories, past states and diffs, tamper evidence, seals, exports.", no_args_is_help=True
)
T = TypeVar("T")


def _settings() -> Settings:
    return load_settings(quiet=True)


def _audit(settings: Settings) -> AuditLog:
    return AuditLog(connect_to(settings.pg_dsn), trusted_keys(settings))


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except (UnknownStream, DomainError) as e:
        console.print(f"[red]{e}[/]")
        raise typer.Exit(2) from None
    except InfraError as e:
        console.print(f"[red]{e}[/]")
        raise typer.Exit(1) from None


def _point(text: str) -> Point:
    try:
        return parse_point(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def _print_json(value: object) -> None:
    sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(value)) + b"\n")


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(f"{label:<10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=max(total, 1))


@audit_cli.command("history")
def history_command(
    stream: Annotated[UUID, typer.Argument(help="stream id (a course, enrolment, review, order...)")],
    event_type: Annotated[list[str] | None, typer.Option("--type", help="only these event types")] = None,
    actor: Annotated[str | None, typer.Option(help="only events by this actor")] = None,
    since: Annotated[datetime | None, typer.Option(help="only events at or after this time")] = None,
    until: Annotated[datetime | None, typer.Option(help="only events before this time")] = None,
    after: Annotated[int, typer.Option(help="cursor: events after this position")] = 0,
    limit: Annotated[int, typer.Option(help="events per page")] = 100,
    linked: Annotated[bool, typer.Option(help="include the streams that name it")] = True,
    json: Annotated[bool, typer.Option("--json", help="the page as JSON")] = False,
) -> None:
    """A stream's events in order (a course's with its reviews, enrolments and orders)."""
    match = Match(event_types=tuple(event_type or ()), actor_id=actor, since=since, until=until)
    page = _run(_audit(_settings()).history(stream, match, after=after, limit=limit, linked=linked))
    if json:
        _print_json(page)
        return
    table = Table("position", "time", "stream", "v", "event", "actor", "correlation")
    for e in page.events:
        table.add_row(
            str(e.position),
            e.occurred_at.isoformat(timespec="seconds"),
            f"{e.stream_type} {str(e.stream_id)[:8]}",
            str(e.version),
            e.event_type,
            (e.actor_id or "")[:8],
            e.correlation_id[:8],
        )
    Console().print(table)
    if page.next_after is not None:
        console.print(f"more: --after {page.next_after}")


@audit_cli.command("at")
def at_command(
    stream: Annotated[UUID, typer.Argument(help="stream id")],
    point: Annotated[str | None, typer.Argument(help="version number or ISO 8601 time; default now")] = None,
) -> None:
    """The stream's state at a version or time, rebuilt by replaying its aggregate (JSON)."""
    _print_json(_run(_audit(_settings()).state(stream, _point(point) if point else None)))


@audit_cli.command("diff")
def diff_command(
    stream: Annotated[UUID, typer.Argument(help="stream id")],
    before: Annotated[str, typer.Argument(help="version number or ISO 8601 time")],
    after: Annotated[str, typer.Argument(help="version number or ISO 8601 time")],
) -> None:
    """What changed in the stream's state between two versions or times."""
    found = _run(_audit(_settings()).diff(stream, _point(before), _point(after)))
    print(f"version {found.before.version} -> {found.after.version}: {len(found.changes)} change(s)")
    for change in found.changes:
        print(f"  {change.path}: {_short(change.before)} -> {_short(change.after)}")


def _short(value: object) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 100 else text[:97] + "..."


@audit_cli.command("verify")
def verify_command(
    stream: Annotated[UUID | None, typer.Option(help="verify this stream only")] = None,
    org: Annotated[str | None, typer.Option(help="verify this organisation's streams")] = None,
    json: Annotated[bool, typer.Option("--json", help="the outcome as JSON")] = False,
) -> None:
    """Walk the hash chains (one stream, an organisation, or the whole store with the global log
    and its seals) and report the first broken link. Exit status 1 if anything is broken."""
    audit = _audit(_settings())
    if stream is not None:
        outcome = _run(audit.verify_stream(stream))
    else:
        with _bar("verify") as moved:
            outcome = _run(audit.verify_organisation(org, moved) if org else audit.verify_log(moved))
    if json:
        _print_json(outcome)
    else:
        _report(outcome)
    raise typer.Exit(0 if outcome.intact else 1)


def _report(outcome: Verification) -> None:
    checked = f"{outcome.events} events, {outcome.streams} streams, {outcome.seals} seals"
    if outcome.intact:
        print(f"intact: {outcome.scope} ({checked})")
        return
    first = outcome.breaks[0]
    print(f"BROKEN: {outcome.scope} ({checked}); {len(outcome.breaks)} break(s), the first:")
    print(f"  {first.kind}: stream {first.stream_id} version {first.version} position {first.position}")
    print(f"  {first.detail}")
    for b in outcome.breaks[1:]:
        print(f"  then {b.kind} at position {b.position} (stream {b.stream_id}): {b.detail}")


@audit_cli.command("key")
def key_command() -> None:
    """Print the public key of this platform's seals (creating the key on first use)."""
    print(seal_key(_settings()).public_key)


@audit_cli.command("seal")
def seal_command() -> None:
    """Seal what the sealer has not sealed yet, now (the sealer component does it periodically)."""
    from gateway.bootstrap import Root

    settings = _settings()

    async def run() -> None:
        async with Root(settings) as root:
            sealer = Sealer(
                root.store.pool.connection, root.bus, seal_key(settings), max_events=settings.audit_seal_max_events
            )
            for seal in await sealer.seal_backlog():
                print(f"seal {seal.sequence}: positions {seal.first_position}..{seal.last_position} root {seal.root}")

    _run(run())


@audit_cli.command("export")
def export_command(
    stream: Annotated[UUID | None, typer.Argument(help="a stream (a course: with its linked streams)")] = None,
    org: Annotated[str | None, typer.Option(help="export this organisation's streams instead")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="the JSON Lines file to write")] = Path("audit.jsonl"),
) -> None:
    """Write a history as JSON Lines with a manifest (heads, seals, proofs, public keys)."""
    if (stream is None) == (org is None):
        raise typer.BadParameter("name a stream or pass --org")
    audit = _audit(_settings())
    found = _run(audit.export_stream(stream) if stream is not None else audit.export_organisation(org or ""))
    with output.open("wb") as out:
        out.writelines(export_lines(found))
    m = found.manifest
    console.print(
        f"{m.events} events of {len(m.heads)} streams, {len(m.proofs)} under {len(m.seals)} seals -> {output}"
    )


@audit_cli.command("verify-export")
def verify_export_command(
    file: Annotated[Path, typer.Argument(help="an export written by `coursewright audit export`")],
    key: Annotated[list[str] | None, typer.Option(help="trust only these public keys (hex)")] = None,
) -> None:
    """Check an export offline (no database): chains, heads, seals and inclusion proofs."""
    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist")
    with file.open("rb") as lines:
        found = check_export(lines, frozenset(k.lower() for k in key or ()))
    if found.intact:
        print(f"intact: {found.events} events of {found.streams} streams, {found.sealed} under a valid seal")
        return
    print(f"BROKEN: {len(found.problems)} problem(s)")
    for problem in found.problems:
        print(f"  {problem}")
    raise typer.Exit(1)


@audit_cli.command("proof")
def proof_command(
    position: Annotated[int, typer.Argument(help="the event's position in the log", min=1)],
) -> None:
    """Print the Merkle inclusion proof of one event under the seal that covers it (JSON): the
    event, the signed seal and the path to its root; `verify-proof` checks it offline."""
    proof = _run(_audit(_settings()).proof(position))
    # Compact, not pretty-printed: the event's payload must keep the very bytes its hash covers.
    sys.stdout.buffer.write(msgspec.json.encode(proof) + b"\n")


@audit_cli.command("verify-proof")
def verify_proof_command(
    file: Annotated[Path, typer.Argument(help="a proof printed by `coursewright audit proof`")],
    key: Annotated[list[str] | None, typer.Option(help="public keys (hex) to trust; default this platform's")] = None,
) -> None:
    """Check an inclusion proof offline: the seal's signature by a trusted key, the event's own
    hash, and its path to the seal's Merkle root."""
    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist")
    try:
        proof = msgspec.json.decode(file.read_bytes(), type=InclusionProof)
    except msgspec.DecodeError as e:
        print(f"BROKEN: not a proof: {e}")
        raise typer.Exit(1) from None
    keys = frozenset(k.lower() for k in key) if key else trusted_keys(_settings())
    problem = proof_problem(proof, keys)
    if problem is not None:
        print(f"BROKEN: {problem}")
        raise typer.Exit(1)
    print(f"intact: position {proof.event.position} is under seal {proof.seal.sequence} ({proof.seal.root})")


@audit_cli.command("xapi")
def xapi_command(
    course: Annotated[UUID | None, typer.Argument(help="a course: its enrolments and certificates")] = None,
    org: Annotated[str | None, typer.Option(help="an organisation's enrolments and certificates instead")] = None,
) -> None:
    """Print learning records as xAPI 1.0.3 statements (a JSON array)."""
    if (course is None) == (org is None):
        raise typer.BadParameter("name a course or pass --org")
    settings = _settings()
    audit, learning = _audit(settings), Learning(settings.public_url)
    if course is not None:
        _print_json(_run(audit.course_learning_records(course, learning)))
    else:
        _print_json(_run(audit.organisation_learning_records(org or "", learning)))
