"""Certificates on the real gateway, store, relay, JetStream and projectors: issued once per
completion by the certifier, listed, downloaded as a PDF, verified in public (valid, revoked,
unknown, limited per address), revoked by an organisation admin."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pypdf
import pytest

from commands.bus import CommandBus
from commands.certificates import issue_certificate
from commands.context import Context
from commands.routes import ROUTES
from domain.certificate import Certificate
from domain.enrollment import enrollment_id
from gateway.certifier import COMPLETED, Certifier
from infra.eventlog import wire_name
from infra.eventlog.postgres import PostgresEventStore
from infra.nats import NatsConnector
from infra.settings import Settings
from schemas import commands as c
from schemas.certificates import IssueCertificate
from tests.integration.gateway_harness import (
    QUERIES_DEPRECATIONS,
    Api,
    People,
    draft,
    people,
    publish,
    running_gateway,
)
from tests.integration.projections_support import World, bus_on, projectors, relay, wait_until
from tests.integration.projections_support import _stop as stop
from tests.ports import make_ports

pytestmark = QUERIES_DEPRECATIONS
ISSUED = wire_name(Certificate.Issued)


@contextlib.asynccontextmanager
async def certifiers(api: Api, settings: Settings, count: int = 1) -> AsyncIterator[list[Certifier]]:
    """`count` certifiers sharing the durable consumer while the block runs."""
    members = [Certifier(api.services.bus, settings, NatsConnector(settings)) for _ in range(count)]
    tasks = [asyncio.create_task(m.run()) for m in members]
    try:
        yield members
    finally:
        for task in tasks:
            await stop(task, "certifier")


@contextlib.asynccontextmanager
async def system(settings: Settings, **overrides: Any) -> AsyncIterator[Api]:
    async with (
        running_gateway(settings, **overrides) as api,
        relay(settings),
        projectors(settings, "certificates", cache=api.root.cache),
    ):
        yield api


@pytest.fixture
async def api(settings: Settings, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with system(settings) as a:
        yield a


async def _completed(api: Api, o: People, by: str = "student") -> str:
    """A published course the student enrolled in and completed: the course id."""
    course, _, lesson = await draft(api, o)
    await publish(api, o, course)
    r = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=o.headers[by])
    assert r.status_code == 201, r.text
    r = await api.client.post(
        f"/courses/{course}/enrollments/completed-lessons", json={"lesson_id": lesson}, headers=o.headers[by]
    )
    assert r.status_code == 202, r.text
    return course


async def _certificates(api: Api, headers: dict[str, str], count: int = 1) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        nonlocal found
        r = await api.client.get("/me/certificates", headers=headers)
        assert r.status_code == 200, r.text
        found = r.json()["items"]
        return len(found) >= count

    await wait_until(listed, what=f"{count} certificate(s)")
    return found


async def test_a_completion_is_certified_listed_downloaded_verified_and_revoked(api: Api, settings: Settings) -> None:
    o = await people(api)
    async with certifiers(api, settings):
        course = await _completed(api, o)
        (cert,) = await _certificates(api, o.headers["student"])
    assert cert["course_id"] == course and cert["student_id"] == str(o.ids["student"])
    assert cert["course_title"] == "Forklifts" and cert["revision"] == "0.1" and cert["org_name"] == "Acme"
    assert cert["student_name"] == "Test User" and cert["status"] == "valid"
    code = cert["code"]
    assert len(code) == 14 and code.count("-") == 2

    # The public verification: no account, what it certifies and nothing else of the student.
    anonymous = httpx.AsyncClient(base_url=api.url)
    async with anonymous:
        r = await anonymous.get(f"/certificates/verify/{code}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "valid" and body["code"] == code
        assert body["certifies"]["holder"] == "Test User" and body["certifies"]["course_title"] == "Forklifts"
        assert str(o.ids["student"]) not in r.text and "@" not in r.text
        # Typed loosely (lower case, no dashes, O for 0) it is the same code.
        loose = code.lower().replace("-", "").replace("0", "o")
        assert (await anonymous.get(f"/certificates/verify/{loose}")).json()["status"] == "valid"
        unknown = await anonymous.get("/certificates/verify/ZZZZ-ZZZZ-ZZZZ")
        assert unknown.status_code == 200 and unknown.json() == {"code": "ZZZZ-ZZZZ-ZZZZ", "status": "unknown"}
        assert (await anonymous.get("/certificates/verify/not-a-code")).json()["status"] == "unknown"

        # The PDF: the holder's, with the code and the link its QR code carries.
        r = await api.client.get(f"/me/certificates/{cert['certificate_id']}/pdf", headers=o.headers["student"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        page = pypdf.PdfReader(io.BytesIO(r.content)).pages[0]
        text = page.extract_text()
        assert code in text and "Forklifts" in text and "Test User" in text
        links = [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", [])]
        assert f"{settings.public_url}/certificates/verify/{code}" in links
        # Nobody else's: another student, an instructor.
        for who in ("other_student", "author"):
            r = await api.client.get(f"/me/certificates/{cert['certificate_id']}/pdf", headers=o.headers[who])
            assert r.status_code == 404, (who, r.text)
        assert (await api.client.get("/me/certificates", headers=o.headers["other_student"])).json()["items"] == []

        # Revocation: organisation admins only, with a reason.
        path = f"/certificates/{cert['certificate_id']}/revoke"
        r = await api.client.post(path, json={"reason": "cheated"}, headers=o.headers["student"])
        assert r.status_code == 403, r.text
        r = await api.client.post(path, json={"reason": ""}, headers=o.admin)
        assert r.status_code == 400, r.text
        r = await api.client.post(path, json={"reason": "exam fraud"}, headers=o.admin)
        assert r.status_code == 202, r.text
        position = r.json()["position"]
        r = await api.client.post(path, json={"reason": "again"}, headers=o.admin)
        assert r.status_code == 409, r.text
        mine = await api.client.get("/me/certificates", params={"position": position}, headers=o.headers["student"])
        assert mine.json()["items"][0]["status"] == "revoked"
        body = (await anonymous.get(f"/certificates/verify/{code}")).json()
        assert body["status"] == "revoked" and body["revoked_reason"] == "exam fraud"


async def test_another_organisations_admin_cannot_revoke(api: Api, settings: Settings) -> None:
    o = await people(api)
    _, stranger = await api.organisation("Other")
    async with certifiers(api, settings):
        await _completed(api, o)
        (cert,) = await _certificates(api, o.headers["student"])
    r = await api.client.post(
        f"/certificates/{cert['certificate_id']}/revoke", json={"reason": "mine now"}, headers=stranger
    )
    assert r.status_code == 404, r.text


async def test_verification_is_limited_per_address(settings: Settings, nats_cleanup: Settings) -> None:
    async with system(settings, login_rate_limit_per_minute=3) as api, httpx.AsyncClient(base_url=api.url) as anon:
        answers = [(await anon.get(f"/certificates/verify/AAAA-BBBB-{i:04d}")).status_code for i in range(5)]
    assert answers[:3] == [200, 200, 200] and answers[3:] == [429, 429]


async def _issued(store: PostgresEventStore, course_id: uuid.UUID) -> list[uuid.UUID]:
    """The certificate streams issued for `course_id`, from the log itself."""
    found, after = [], 0
    while events := await store.read_log(after, 1000):
        for e in events:
            if e.event_type == ISSUED:
                certified = msgspec.json.decode(e.payload)["certified"]
                if certified["course_id"] == str(course_id):
                    found.append(e.stream_id)
        after = events[-1].position
    return found


async def test_fifty_concurrent_completions_give_fifty_certificates_once(api: Api, settings: Settings) -> None:
    bus = api.services.bus
    world = World(bus)
    course = await world.published("Fifty", lessons=1)
    cid, lesson = course["course"], course["lessons"][0]
    students = [world.ctx("student") for _ in range(50)]
    for s in students:
        await bus.handle(c.Enrol(course_id=cid), s)
    # Two certifiers share the work; every completion lands at once.
    store = api.services.store
    async with certifiers(api, settings, count=2):
        await asyncio.gather(*(bus.handle(c.CompleteLesson(course_id=cid, lesson_id=lesson), s) for s in students))

        async def fifty() -> bool:
            return len(await _issued(store, cid)) >= 50

        await wait_until(fifty, what="fifty certificates")
        await asyncio.sleep(0.5)  # not a timing: room for a double to show, were there one
    issued = await _issued(store, cid)
    assert len(issued) == 50 and len(set(issued)) == 50

    # Every completion delivered again (a restart from scratch, a redelivery): nothing new.
    again = Certifier(bus, settings, NatsConnector(settings))
    completions = [e for e in await _all(store) if e.event_type == COMPLETED]
    ours = [e for e in completions if e.stream_id in {_enrollment(cid, s) for s in students}]
    assert len(ours) == 50
    await asyncio.gather(*(again.handle(e) for e in ours))
    # The same without the idempotency key: the certificate's own stream refuses a second issue.
    platform = Context(uuid.uuid4(), uuid.uuid4(), frozenset({"platform_admin"}))
    reply = await bus.handle(IssueCertificate(enrollment_id=ours[0].stream_id, completion=ours[0].version), platform)
    assert reply.data["issued"] is False
    assert sorted(await _issued(store, cid)) == sorted(issued)

    # The read model holds the same fifty, each with its own code.
    async def projected() -> bool:
        async with api.services.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*), count(DISTINCT code) FROM rm_certificates.certificates WHERE course_id = %s", [cid]
            )
            return await cur.fetchone() == (50, 50)

    await wait_until(projected, what="fifty certificates in the read model")


async def _all(store: PostgresEventStore) -> list[Any]:
    out, after = [], 0
    while events := await store.read_log(after, 1000):
        out += events
        after = events[-1].position
    return out


def _enrollment(course: uuid.UUID, student: Context) -> uuid.UUID:
    return enrollment_id(course, student.actor_id)


class CountedStore(PostgresEventStore):
    """The store of a process of its own (nothing held yet), counting its round trips for streams."""

    reads = 0
    lookups = 0  # of idempotency keys

    async def read_streams(self, stream_ids: Any) -> Any:
        self.reads += 1
        return await super().read_streams(stream_ids)

    async def idempotent_reply(self, scope: str, key: str) -> Any:
        self.lookups += 1
        return await super().idempotent_reply(scope, key)


async def test_the_certifier_decides_once_on_one_fresh_read(settings: Settings, store: PostgresEventStore) -> None:
    """In its own process the certifier holds none of the streams a certificate needs (the
    gateways wrote them): it decides IssueCertificate once, on a fresh read (the enrolment and
    organisation, then the certificate, student and course together), with one idempotency
    lookup; a redelivery is answered from that key alone."""
    world = World(bus_on(store))  # a gateway's
    course = await world.published("Counted", lessons=1)
    student = world.ctx("student")
    await world.bus.handle(c.Enrol(course_id=course["course"]), student)
    done = await world.bus.handle(c.CompleteLesson(course_id=course["course"], lesson_id=course["lessons"][0]), student)
    (completed,) = [e for e in await store.read_stream(uuid.UUID(done.id)) if e.event_type == COMPLETED]

    decisions = 0

    async def counted(cmd: IssueCertificate, s: Any) -> Any:
        nonlocal decisions
        decisions += 1
        return await issue_certificate(cmd, s)

    own = CountedStore(settings.pg_dsn)
    await own.start()
    try:
        bus = CommandBus(own, {**ROUTES, IssueCertificate: counted}, make_ports())
        certifier = Certifier(bus, settings, NatsConnector(settings))
        await certifier.handle(completed)
        assert certifier.issued == 1
        assert (decisions, own.reads, own.lookups) == (1, 2, 1)
        await certifier.handle(completed)  # redelivered
        assert (decisions, own.reads, own.lookups) == (1, 2, 2)
        assert certifier.issued == 1  # the replayed answer issued nothing
    finally:
        await own.close()
    (issued,) = await _issued(store, course["course"])
    assert issued
