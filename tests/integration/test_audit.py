"""Audit on the real store: histories, past states, and tampering with rows directly in
PostgreSQL, which verification must find and name (stream, version, position)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import psycopg
import pydantic
import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement

from commands.bus import CommandBus
from commands.context import Context
from commands.routes import ROUTES
from domain.enrollment import enrollment_id
from gateway.audit.export import check_export, export_lines, proof_problem
from gateway.audit.replay import UnknownStream
from gateway.audit.sealer import Sealer
from gateway.audit.service import AuditLog, NotSealed, connect_to
from gateway.audit.xapi import Learning
from infra.blobs.s3 import S3BlobStore
from infra.eventlog.hashing import GENESIS, event_hash
from infra.eventlog.postgres import PostgresEventStore
from infra.eventlog.reader import LogReader, Match
from infra.eventlog.seals import SealKey
from infra.eventlog.verify import BreakKind
from schemas import commands as c
from schemas import orders as o
from schemas.certificates import IssueCertificate, RevokeCertificate
from schemas.roles import Role
from tests.bench._common import append_many
from tests.conftest import make_settings, service_env
from tests.integration.test_commands import CONTENT
from tests.integration.test_orders import Sales, documents_on
from tests.ports import make_ports

KEY = SealKey.from_hex("11" * 32)


@dataclass
class Story:
    """A course told through the bus: created, outlined, reviewed, published, studied, revised."""

    dsn: str
    bus: CommandBus
    audit: AuditLog
    org: uuid.UUID
    author: Context
    manager: Context
    course: uuid.UUID
    lesson: uuid.UUID
    enrolment: uuid.UUID
    student: Context


def ctx(org: uuid.UUID, *roles: Role) -> Context:
    return Context(uuid.uuid4(), org, frozenset(roles))


@pytest.fixture
async def story(fresh_database: str) -> AsyncIterator[Story]:
    store = PostgresEventStore(fresh_database)
    await store.start()
    bus = CommandBus(store, ROUTES, make_ports())
    org = uuid.uuid4()
    author, manager, student = ctx(org, "instructor"), ctx(org, "course_manager"), ctx(org, "student")
    course = uuid.UUID(
        (await bus.handle(c.CreateCourse(title="Forklifts", cefr_level="B1", category="safety"), author)).id
    )
    module = (await bus.handle(c.AddModule(course_id=course, title="Basics"), author)).data["module_id"]
    added = await bus.handle(c.AddLesson(course_id=course, module_id=uuid.UUID(module), title="Checks"), author)
    lesson = uuid.UUID(added.data["lesson_id"])
    await bus.handle(c.SetLessonContent(course_id=course, lesson_id=lesson, content=CONTENT), author)
    review = (await bus.handle(c.SubmitCourse(course_id=course), author)).data["review_id"]
    await bus.handle(c.ApproveCourse(review_id=uuid.UUID(review)), manager)
    await bus.handle(c.PublishCourse(course_id=course), manager)
    await bus.handle(c.Enrol(course_id=course), student)
    await bus.handle(c.StartRevision(course_id=course, kind="minor"), author)
    await bus.handle(c.RenameModule(course_id=course, module_id=uuid.UUID(module), title="Basics, revised"), author)
    try:
        yield Story(
            fresh_database,
            bus,
            AuditLog(connect_to(fresh_database), frozenset({KEY.public_key})),
            org,
            author,
            manager,
            course,
            lesson,
            enrollment_id(course, student.actor_id),
            student,
        )
    finally:
        await store.close()


async def sql(dsn: str, statement: str, *params: object) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(statement, params)


async def certify(s: Story) -> uuid.UUID:
    """Issue the certificate of the story's completed enrolment, as the certifier does."""
    match = Match(event_types=("EnrollmentCompleted",))
    (completed,) = (await s.audit.history(s.enrolment, match, linked=False)).events
    certifier = Context(uuid.uuid4(), s.org, frozenset({"platform_admin"}))
    issued = await s.bus.handle(IssueCertificate(enrollment_id=s.enrolment, completion=completed.version), certifier)
    return uuid.UUID(issued.id)


async def seal(s: Story) -> None:
    assert await Sealer(s.audit.connect, s.bus, KEY).seal_once() is not None


# -- history and replay -------------------------------------------------------------------------


async def test_a_course_history_tells_its_whole_story_in_log_order(story: Story) -> None:
    page = await story.audit.history(story.course, Match(), limit=1000)
    types = [e.event_type for e in page.events]
    assert types[0] == "CourseCreated"
    assert {"ReviewRequested", "ReviewApproved", "CourseApproved", "CoursePublished", "EnrollmentEnrolled"} <= set(
        types
    )
    assert [e.position for e in page.events] == sorted(e.position for e in page.events)
    assert page.next_after is None
    assert story.enrolment in page.streams
    approved = next(e for e in page.events if e.event_type == "ReviewApproved")
    assert approved.actor_id == str(story.manager.actor_id)


async def test_an_order_and_a_certificate_are_part_of_their_course_story(story: Story, blobs: S3BlobStore) -> None:
    """The order the course was drafted for and the certificate of its completion are linked to
    it; their states at a version are replayed by their own aggregates, like the enrolment's."""
    store = PostgresEventStore(story.dsn)
    await store.start()
    try:
        sales = Sales(CommandBus(store, ROUTES, make_ports(documents=documents_on(blobs))), story.org)
        order = await sales.generating()
        await sales.bus.handle(o.RecordDraft(order_id=order, course_id=story.course), sales.pipeline)
    finally:
        await store.close()
    await story.bus.handle(c.CompleteLesson(course_id=story.course, lesson_id=story.lesson), story.student)
    certificate = await certify(story)

    page = await story.audit.history(story.course, Match(), limit=1000)
    assert order in page.streams and certificate in page.streams and story.enrolment in page.streams
    types = [e.event_type for e in page.events]
    assert {"OrderPlaced", "OrderDraftReady", "EnrollmentCompleted", "CertificateIssued"} <= set(types)
    placed = await story.audit.state(order, 1)
    assert (placed.stream_type, placed.state["status"]) == ("order", "placed")
    drafted = await story.audit.state(order)
    assert (drafted.state["status"], drafted.state["course_id"]) == ("draft_ready", str(story.course))
    enrolled = await story.audit.state(story.enrolment, 1)
    assert (enrolled.stream_type, enrolled.state["course_id"]) == ("enrollment", str(story.course))
    held = await story.audit.state(certificate)
    assert held.stream_type == "certificate" and held.state["certified"]["course_title"] == "Forklifts"


async def test_finding_a_course_s_linked_streams_does_not_scan_the_log_once_it_has_grown(story: Story) -> None:
    """The streams linked to a course are found by the course id in their payloads (an index),
    not by reading the whole log, also on a connection whose plans were made on a tiny log."""
    await story.bus.handle(c.CompleteLesson(course_id=story.course, lesson_id=story.lesson), story.student)
    certificate = await certify(story)
    async with await psycopg.AsyncConnection.connect(story.dsn, autocommit=True) as conn:
        reader = LogReader(conn)
        for _ in range(12):  # prepared, and planned, while the log is tiny
            linked = await reader.linked_streams(story.course)
        assert story.enrolment in linked and certificate in linked
        await conn.execute(
            "INSERT INTO cw_events (position, event_id, stream_id, stream_type, version, event_type,"
            " schema_version, occurred_at, correlation_id, payload, prev_hash, hash)"
            " SELECT p, gen_random_uuid(), gen_random_uuid(), 'filler', 1, 'FillerAdded', 1, now(), 'c',"
            " json_build_object('n', p), '\\x00', '\\x00' FROM generate_series(10000000, 10050000) p"
        )
        scans = "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'cw_events'"
        await asyncio.sleep(1.5)  # backends report their statistics within a second
        before = await (await conn.execute(scans)).fetchone()
        for _ in range(3):
            assert await reader.linked_streams(story.course) == linked
        assert await story.audit.history(story.course, Match(), limit=5)  # on a connection of its own
        await asyncio.sleep(1.5)
        after = await (await conn.execute(scans)).fetchone()
    assert before is not None and after is not None
    assert after[0] == before[0]


async def test_history_filters_and_cursor_pages_add_up_to_the_whole(story: Story) -> None:
    whole = (await story.audit.history(story.course, Match(), limit=1000)).events
    pages, after = [], 0
    while True:
        page = await story.audit.history(story.course, Match(), after=after, limit=3)
        pages += page.events
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == whole
    by_manager = await story.audit.history(story.course, Match(actor_id=str(story.manager.actor_id)))
    assert {e.event_type for e in by_manager.events} == {"ReviewApproved", "CourseApproved", "CoursePublished"}
    only = await story.audit.history(story.course, Match(event_types=("CoursePublished",)))
    assert [e.event_type for e in only.events] == ["CoursePublished"]
    future = datetime.now(UTC) + timedelta(days=1)
    assert (await story.audit.history(story.course, Match(since=future))).events == []


async def test_state_at_a_version_and_a_time_and_the_diff_between(story: Story) -> None:
    first = await story.audit.state(story.course, 1)
    assert first.version == 1 and first.state["status"] == "draft" and first.state["modules"] == []
    published = await story.audit.state(story.course, 7)
    assert published.state["status"] == "published"
    assert published.state["modules"][0]["title"] == "Basics"
    now = await story.audit.state(story.course)
    assert now.state["modules"][0]["title"] == "Basics, revised"
    at_publication = await story.audit.state(story.course, published.occurred_at)
    assert at_publication.version >= 7
    with pytest.raises(UnknownStream):
        await story.audit.state(story.course, datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(UnknownStream):
        await story.audit.state(story.course, 999)
    changes = {ch.path: ch for ch in (await story.audit.diff(story.course, 7, now.version)).changes}
    module_id = now.state["modules"][0]["id"]
    assert changes[f"modules/{module_id}/title"].before == "Basics"
    assert changes[f"modules/{module_id}/title"].after == "Basics, revised"
    by_time = await story.audit.diff(story.course, published.occurred_at, now.occurred_at)
    assert [(ch.path, ch.after) for ch in by_time.changes if ch.path.endswith("/title")] == [
        (f"modules/{module_id}/title", "Basics, revised")
    ]
    lesson_content = (await story.audit.diff(story.course, 3, 4)).changes
    assert any(ch.path.endswith("/versions/0") and ch.before is None for ch in lesson_content)


# -- tamper evidence --------------------------------------------------------------------------


async def test_an_untouched_store_verifies_clean_with_its_seal(story: Story) -> None:
    await seal(story)
    await story.bus.handle(
        c.EditLesson(course_id=story.course, lesson_id=story.lesson, title="After", duration_minutes=20), story.author
    )
    await seal(story)
    outcome = await story.audit.verify_log()
    assert outcome.intact, outcome.breaks
    assert outcome.seals == 2 and outcome.events == outcome.head
    assert (await story.audit.verify_stream(story.course)).intact
    assert (await story.audit.verify_organisation(str(story.org))).intact


async def position_of(s: Story, stream: uuid.UUID, version: int) -> int:
    (e,) = [
        e for e in (await s.audit.history(stream, Match(), linked=False, limit=1000)).events if e.version == version
    ]
    return e.position


async def test_an_edited_payload_is_named_with_its_stream_and_position(story: Story) -> None:
    pos = await position_of(story, story.course, 2)
    forged = '{"module_id":"00000000-0000-4000-8000-000000000000","title":"Forged","index":0}'
    await sql(story.dsn, "UPDATE cw_events SET payload = %s WHERE position = %s", forged, pos)
    for outcome in (await story.audit.verify_log(), await story.audit.verify_stream(story.course)):
        first = outcome.first
        assert first is not None
        assert (first.kind, first.stream_id, first.version, first.position) == (BreakKind.EDITED, story.course, 2, pos)


async def test_edited_metadata_is_found(story: Story) -> None:
    pos = await position_of(story, story.course, 3)
    await sql(story.dsn, "UPDATE cw_events SET actor_id = %s WHERE position = %s", str(uuid.uuid4()), pos)
    first = (await story.audit.verify_organisation(str(story.org))).first
    assert first is not None and (first.kind, first.position) == (BreakKind.EDITED, pos)


async def test_a_deleted_event_is_named_with_the_hole_it_left(story: Story) -> None:
    pos = await position_of(story, story.course, 3)
    await sql(story.dsn, "DELETE FROM cw_events WHERE position = %s", pos)
    first = (await story.audit.verify_log()).first
    assert first is not None
    assert (first.kind, first.stream_id, first.version, first.position) == (BreakKind.DELETED, story.course, 4, pos)


async def test_the_last_event_deleted_leaves_a_gap_below_the_head(story: Story) -> None:
    head = (await story.audit.verify_log()).head
    await sql(story.dsn, "DELETE FROM cw_events WHERE position = %s", head)
    first = (await story.audit.verify_log()).first
    assert first is not None and (first.kind, first.position) == (BreakKind.GAP, head)


async def test_two_swapped_versions_are_reported_as_reordered(story: Story) -> None:
    a, b = await position_of(story, story.course, 2), await position_of(story, story.course, 3)
    await sql(
        story.dsn,
        "UPDATE cw_events SET version = CASE position WHEN %s THEN 3 ELSE 2 END + 1000 WHERE position IN (%s, %s)",
        a,
        a,
        b,
    )
    await sql(story.dsn, "UPDATE cw_events SET version = version - 1000 WHERE version > 1000")
    for outcome in (await story.audit.verify_log(), await story.audit.verify_stream(story.course)):
        first = outcome.first
        assert first is not None
        assert (first.kind, first.stream_id, first.version, first.position) == (BreakKind.REORDERED, story.course, 2, b)


async def test_an_event_inserted_into_a_stream_is_found(story: Story) -> None:
    """A forger renumbers versions 3.. up by one and slips a well-hashed event in at version 3."""
    async with await psycopg.AsyncConnection.connect(story.dsn, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT hash, position FROM cw_events WHERE stream_id = %s AND version = 2", (story.course,)
            )
        ).fetchone()
        assert row is not None
        written_as_3 = await position_of(story, story.course, 3)
        await conn.execute(
            "UPDATE cw_events SET version = version + 1001 WHERE stream_id = %s AND version >= 3", (story.course,)
        )
        await conn.execute(
            "UPDATE cw_events SET version = version - 1000 WHERE stream_id = %s AND version > 1000", (story.course,)
        )
        at = datetime.now(UTC)
        payload = b'{"module_id":"00000000-0000-4000-8000-000000000000","title":"Forged"}'
        event_id = uuid.uuid4()
        digest = event_hash(
            row[0], event_id=event_id, stream_id=story.course, version=3, event_type="CourseModuleRenamed",
            schema_version=1, occurred_at=at, actor_id=None, org_id=str(story.org), correlation_id="forged",
            causation_id=None, payload=payload,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO cw_events (position, event_id, stream_id, stream_type, version, event_type, schema_version,"
            " occurred_at, org_id, correlation_id, payload, prev_hash, hash) VALUES ((SELECT max(position) + 1 FROM"
            " cw_events), %s, %s, 'course', 3, 'CourseModuleRenamed', 1, %s, %s, 'forged', %s, %s, %s)",
            (event_id, story.course, at, str(story.org), payload.decode(), row[0], digest),
        )
    outcome = await story.audit.verify_log()
    kinds = {(b.kind, b.stream_id, b.version) for b in outcome.breaks}
    assert (BreakKind.INSERTED, story.course, 4) in kinds
    assert any(b.kind is BreakKind.INSERTED and "past the log's head" in b.detail for b in outcome.breaks)
    stream_first = (await story.audit.verify_stream(story.course)).first
    assert stream_first is not None and (stream_first.kind, stream_first.version) == (BreakKind.INSERTED, 4)
    assert stream_first.position == written_as_3  # the event the forgery pushed up, where it stands


async def test_a_stream_rehashed_consistently_is_caught_by_its_seal(story: Story) -> None:
    """Edit an event and recompute the stream's chain from there: every link holds, the seal
    does not, and names the stream and where its sealed chain ended."""
    await seal(story)
    async with await psycopg.AsyncConnection.connect(story.dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT position, event_id, version, event_type, schema_version, occurred_at, actor_id, org_id,"
            " correlation_id, causation_id, payload::text FROM cw_events WHERE stream_id = %s ORDER BY version",
            (story.course,),
        )
        prev = GENESIS
        for row in await cur.fetchall():
            payload = row[10].replace("Basics", "Forged") if row[2] == 2 else row[10]
            digest = event_hash(
                prev, event_id=row[1], stream_id=story.course, version=row[2], event_type=row[3],
                schema_version=row[4], occurred_at=row[5], actor_id=row[6], org_id=row[7], correlation_id=row[8],
                causation_id=row[9], payload=payload.encode(),
            )  # fmt: skip
            await conn.execute(
                "UPDATE cw_events SET payload = %s, prev_hash = %s, hash = %s WHERE position = %s",
                (payload, prev, digest, row[0]),
            )
            prev = digest
    assert (await story.audit.verify_stream(story.course)).intact  # the chain alone cannot tell
    outcome = await story.audit.verify_log()
    first = outcome.first
    assert first is not None and first.kind is BreakKind.SEAL and first.stream_id == story.course
    last = (await story.audit.state(story.course)).position
    assert first.position == last


async def test_a_seal_signed_by_another_key_is_refused(story: Story) -> None:
    await Sealer(story.audit.connect, story.bus, SealKey.from_hex("22" * 32)).seal_once()
    first = (await story.audit.verify_log()).first
    assert first is not None and first.kind is BreakKind.SEAL and "untrusted key" in first.detail


# -- the command line --------------------------------------------------------------------------


def cli(s: Story, *args: str, tmp: str, **more_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **service_env(make_settings(s.dsn)), "CW_DATA_DIR": tmp, "CW_AUDIT_SEAL_KEY": "11" * 32}
    env.update(more_env)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "audit", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_the_command_line_prints_history_state_diff_and_verifies(story: Story, tmp_path: Path) -> None:
    await seal(story)
    history = cli(story, "history", str(story.course), "--json", tmp=str(tmp_path))
    assert history.returncode == 0, history.stderr
    assert "ReviewApproved" in history.stdout and "EnrollmentEnrolled" in history.stdout
    at = cli(story, "at", str(story.course), "1", tmp=str(tmp_path))
    assert at.returncode == 0 and '"status": "draft"' in at.stdout
    changed = cli(story, "diff", str(story.course), "7", "9", tmp=str(tmp_path))
    assert changed.returncode == 0 and '"Basics" -> "Basics, revised"' in changed.stdout
    clean = cli(story, "verify", tmp=str(tmp_path))
    assert clean.returncode == 0 and "intact: log" in clean.stdout and "1 seals" in clean.stdout
    pos = await position_of(story, story.course, 2)
    await sql(story.dsn, "UPDATE cw_events SET payload = '{}' WHERE position = %s", pos)
    broken = cli(story, "verify", tmp=str(tmp_path))
    assert broken.returncode == 1
    assert f"edited: stream {story.course} version 2 position {pos}" in broken.stdout
    unknown = cli(story, "at", str(uuid.uuid4()), tmp=str(tmp_path))
    assert unknown.returncode == 2 and "no events" in unknown.stderr


async def test_an_untouched_store_of_100k_events_verifies_clean(fresh_database: str) -> None:
    store = PostgresEventStore(fresh_database, pool_max=40)
    await store.start()
    try:
        await append_many(store, 100_000, per_commit=1000)
        audit = AuditLog(connect_to(fresh_database), frozenset({KEY.public_key}))
        sealer = Sealer(audit.connect, CommandBus(store, ROUTES, make_ports()), KEY, max_events=40_000)
        await sealer.seal_backlog()
        seen: list[tuple[int, int]] = []
        outcome = await audit.verify_log(lambda done, total: seen.append((done, total)))
        assert outcome.intact, outcome.breaks[:3]
        assert outcome.events == outcome.head == 100_000 + 3 and outcome.seals == 3
        assert seen[-1][0] == seen[-1][1] == outcome.head  # the progress bar ends full
        # One edit among them is still named.
        await sql(fresh_database, "UPDATE cw_events SET payload = '{\"i\": -1}' WHERE position = 54321")
        first = (await audit.verify_log()).first
        assert first is not None and (first.kind, first.position) == (BreakKind.EDITED, 54321)
    finally:
        await store.close()


async def test_an_inclusion_proof_shows_one_event_under_its_seal(story: Story, tmp_path: Path) -> None:
    pos = await position_of(story, story.course, 2)
    with pytest.raises(NotSealed):
        await story.audit.proof(pos)
    sealed = cli(story, "seal", tmp=str(tmp_path))  # seals what is unsealed, then stops
    assert sealed.returncode == 0 and sealed.stdout.startswith("seal 1: positions 1.."), sealed.stderr
    proof = await story.audit.proof(pos)
    assert proof.seal.first_position <= pos <= proof.seal.last_position and proof.event.position == pos
    assert proof_problem(proof, frozenset({KEY.public_key})) is None
    assert "untrusted key" in (proof_problem(proof, frozenset({SealKey.from_hex("44" * 32).public_key})) or "")
    edited = msgspec.structs.replace(proof.event, payload=msgspec.Raw(b'{"title":"Forged"}'))
    assert "no longer matches its hash" in (
        proof_problem(msgspec.structs.replace(proof, event=edited), {KEY.public_key}) or ""
    )
    moved = msgspec.structs.replace(proof, index=proof.index + 1)
    assert proof_problem(moved, frozenset({KEY.public_key})) is not None
    with pytest.raises(UnknownStream):
        await story.audit.proof(10_000)

    printed = cli(story, "proof", str(pos), tmp=str(tmp_path))
    assert printed.returncode == 0, printed.stderr
    path = tmp_path / "proof.json"
    path.write_text(printed.stdout)
    checked = cli(story, "verify-proof", str(path), "--key", KEY.public_key, tmp=str(tmp_path))
    assert checked.returncode == 0 and f"position {pos} is under seal 1" in checked.stdout, checked.stdout
    path.write_text(printed.stdout.replace('"Basics"', '"Basix"', 1))
    tampered = cli(story, "verify-proof", str(path), "--key", KEY.public_key, tmp=str(tmp_path))
    assert tampered.returncode == 1 and "BROKEN" in tampered.stdout


# -- exports -------------------------------------------------------------------------------------


async def test_an_export_checks_offline_and_fails_on_any_edited_line(story: Story, tmp_path: Path) -> None:
    await seal(story)
    await story.bus.handle(
        c.EditLesson(course_id=story.course, lesson_id=story.lesson, title="Late", duration_minutes=9), story.author
    )
    lines = list(export_lines(await story.audit.export_stream(story.course)))
    found = check_export(lines, frozenset({KEY.public_key}))
    assert found.intact, found.problems
    assert found.streams == 3 and found.sealed == found.events - 1  # the late edit is not sealed yet
    assert not check_export(lines, frozenset({SealKey.from_hex("44" * 32).public_key})).intact
    for index in range(len(lines) - 1):
        edited = list(lines)
        edited[index] = edited[index].replace(b'"correlation_id":"', b'"correlation_id":"x', 1)
        assert not check_export(edited).intact, index
    dropped = lines[:2] + lines[3:]
    assert not check_export(dropped).intact
    path = tmp_path / "course.jsonl"
    written = cli(story, "export", str(story.course), "-o", str(path), tmp=str(tmp_path))
    assert written.returncode == 0, written.stderr
    checked = cli(story, "verify-export", str(path), "--key", KEY.public_key, tmp=str(tmp_path))
    assert checked.returncode == 0 and "intact" in checked.stdout
    path.write_bytes(path.read_bytes().replace(b"Basics", b"Basix", 1))
    tampered = cli(story, "verify-export", str(path), tmp=str(tmp_path))
    assert tampered.returncode == 1 and "edited" in tampered.stdout


# -- learning records ------------------------------------------------------------------------------

# The validator: Ralph's xAPI 1.0.3 statement model (`ralph-malph`, the learning record store
# that FUN-MOOC and Open edX's Aspects run): RFC 3987 IRIs, RFC 5646 language maps, UUIDs, scores
# (scaled in [-1, 1], min <= raw <= max), no empty values and no property the spec does not name.


def lrs_refusal(statement: object) -> str | None:
    """Why Ralph's model of an xAPI 1.0.3 statement refuses `statement` (None: it takes it)."""
    try:
        BaseXapiStatement.model_validate(statement)
    except pydantic.ValidationError as e:
        return str(e)
    return None


async def test_learning_records_are_valid_xapi_statements(story: Story, tmp_path: Path) -> None:
    for answer in (1, 0):  # wrong, then right
        quiz = c.SubmitQuiz(course_id=story.course, lesson_id=story.lesson, assessment_id="q1", answers={"a": [answer]})
        await story.bus.handle(quiz, story.student)
    await story.bus.handle(c.CompleteLesson(course_id=story.course, lesson_id=story.lesson), story.student)
    certificate = await certify(story)
    admin = ctx(story.org, "org_admin")
    await story.bus.handle(RevokeCertificate(certificate_id=certificate, reason="issued in error"), admin)

    learning = Learning("https://learn.example")
    statements = await story.audit.course_learning_records(story.course, learning)
    built = msgspec.to_builtins(statements)
    said = [(s["verb"]["display"]["en-US"], s["object"].get("definition", {}).get("type", "")) for s in built]
    assert said == [
        ("registered", "http://adlnet.gov/expapi/activities/course"),
        ("failed", "http://adlnet.gov/expapi/activities/assessment"),
        ("passed", "http://adlnet.gov/expapi/activities/assessment"),
        ("completed", "http://adlnet.gov/expapi/activities/lesson"),
        ("completed", "http://adlnet.gov/expapi/activities/course"),  # its only lesson done, the course is
        ("earned", "http://id.tincanapi.com/activitytype/certificate"),
        ("voided", ""),  # the certificate revoked: the earned statement voided
    ]
    for statement in built:
        assert lrs_refusal(statement) is None, (statement, lrs_refusal(statement))
        assert statement["version"] == "1.0.3"
        assert uuid.UUID(statement["id"]).version == 5
        assert statement["actor"] == {"objectType": "Agent", "account": statement["actor"]["account"]}
        assert statement["actor"]["account"]["homePage"] == "https://learn.example"
        assert statement["context"]["registration"] == str(story.enrolment)
        assert statement["context"]["contextActivities"]["grouping"]
        assert datetime.fromisoformat(statement["timestamp"]).utcoffset() == timedelta(0)
    registered, failed, passed, lesson, course, earned, voided = built
    student = {"homePage": "https://learn.example", "name": str(story.student.actor_id)}
    assert {s["actor"]["account"]["name"] for s in built[:-1]} == {student["name"]}
    assert registered["object"]["id"] == f"https://learn.example/courses/{story.course}"
    assert lesson["object"]["id"] == f"https://learn.example/courses/{story.course}/lessons/{story.lesson}"
    assert failed["result"] == {
        "success": False,
        "completion": True,
        "score": {"scaled": 0.0, "raw": 0, "min": 0, "max": 1},
    }
    assert passed["result"]["score"] == {"scaled": 1.0, "raw": 1, "min": 0, "max": 1} and passed["result"]["success"]
    assert passed["context"]["contextActivities"]["parent"] == [lesson["object"]]
    assert course["result"] == {"completion": True} and course["context"]["platform"] == "Coursewright"
    assert earned["object"]["id"] == f"https://learn.example/certificates/{certificate}"
    assert earned["object"]["definition"]["name"] == {"en-US": "Certificate: Forklifts"}
    assert earned["context"]["contextActivities"]["parent"][0]["id"] == registered["object"]["id"]
    assert voided["object"] == {"objectType": "StatementRef", "id": earned["id"]}
    assert voided["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided"
    assert voided["actor"]["account"]["name"] == str(admin.actor_id) and "platform" not in voided["context"]

    # The validator is no rubber stamp: what an LRS would refuse, it refuses.
    for broken in (
        {**passed, "result": {**passed["result"], "score": {"scaled": 1.5, "raw": 3, "min": 0, "max": 1}}},
        {**registered, "object": {**registered["object"], "id": "not an IRI"}},
        {**registered, "context": {**registered["context"], "registration": "enrolment 7"}},
        {**voided, "context": {**voided["context"], "platform": "Coursewright"}},
        {**registered, "verb": {"id": registered["verb"]["id"], "display": {"en-US": ""}}},
    ):
        assert lrs_refusal(broken) is not None, broken

    # The same statements, the same ids, in every export; the organisation's are the course's here.
    again = await story.audit.course_learning_records(story.course, learning)
    assert [s.id for s in again] == [s.id for s in statements]
    assert await story.audit.organisation_learning_records(str(story.org), learning) == statements
    printed = cli(story, "xapi", str(story.course), tmp=str(tmp_path), CW_PUBLIC_URL="https://learn.example")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == built
