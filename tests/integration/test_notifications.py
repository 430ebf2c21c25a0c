"""Notifications on the real gateway, store, relay, JetStream, projectors and a real SMTP server
(aiosmtpd): the feed from events, read state and preferences, the live stream resuming from
Last-Event-ID, mail through the outbox across an SMTP outage, a projector killed mid-batch."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import re
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from infra.backoff import Backoff
from infra.eventlog.postgres import PostgresEventStore
from infra.mail import Mail, SmtpMailer
from infra.outbox import MailDelivery, OutboxMailer, enqueue
from infra.settings import Settings
from projections.notifications import NotificationsProjection
from projections.rebuild import rebuild
from tests.integration.gateway_harness import (
    PASSWORD,
    QUERIES_DEPRECATIONS,
    Api,
    People,
    draft,
    people,
    publish,
    running_gateway,
)
from tests.integration.projections_support import (
    World,
    bus_on,
    caught_up,
    dump,
    projectors,
    relay,
    scenario,
    wait_until,
)
from tests.integration.test_certificates import certifiers
from tests.integration.test_projections_resilience import (  # noqa: F401  (fixtures)
    kill_mid_batch,
    own_settings,
    own_store,
    spawn_projectors,
)
from tests.ports import make_ports

pytestmark = QUERIES_DEPRECATIONS
FAST = Backoff(initial=0.2, maximum=1.0)


# -- a real SMTP server ----------------------------------------------------------------------


@dataclass
class Inbox:
    """What the SMTP server received, parsed."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def all(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server(port: int, inbox: Inbox) -> Iterator[None]:
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def delivering(settings: Settings, port: int, **options: Any) -> AsyncIterator[MailDelivery]:
    options = {"retry": FAST, "poll_seconds": 0.1, **options}
    delivery = MailDelivery(
        settings.pg_dsn,
        SmtpMailer(f"smtp://127.0.0.1:{port}", settings.mail_from, timeout=5),
        public_url=settings.public_url,
        **options,
    )
    task = asyncio.create_task(delivery.run())
    try:
        yield delivery
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- the system ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def system(settings: Settings) -> AsyncIterator[Api]:
    ports = make_ports(mail=OutboxMailer(settings.pg_dsn, uuid.uuid4))
    async with (
        running_gateway(settings, ports=ports) as api,
        relay(settings),
        projectors(settings, "notifications", "certificates", "orders", cache=api.root.cache),
        certifiers(api, settings),
    ):
        yield api


@pytest.fixture
async def api(settings: Settings, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with system(settings) as a:
        yield a


async def feed(api: Api, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await api.client.get("/me/notifications", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def kinds(api: Api, headers: dict[str, str], *wanted: str) -> dict[str, dict[str, Any]]:
    """The newest notification of each kind in the feed, once every one of `wanted` is there."""
    found: dict[str, dict[str, Any]] = {}

    async def there() -> bool:
        nonlocal found
        found = {}
        for item in reversed((await feed(api, headers, limit=200))["items"]):
            found[item["kind"]] = item
        return all(k in found for k in wanted)

    await wait_until(there, what=f"notifications {wanted}")
    return found


async def _enrol_and_finish(api: Api, o: People, course: str, lesson: str, who: str = "student") -> None:
    r = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=o.headers[who])
    assert r.status_code == 201, r.text
    r = await api.client.post(
        f"/courses/{course}/enrollments/completed-lessons", json={"lesson_id": lesson}, headers=o.headers[who]
    )
    assert r.status_code == 202, r.text


# -- the feed --------------------------------------------------------------------------------


async def test_the_feed_tells_each_user_what_concerns_them(api: Api) -> None:
    o = await people(api)
    _, sales = await api.member(o.id, o.admin, "sales")
    course, _, lesson = await draft(api, o)
    await publish(api, o, course)
    manager = await kinds(api, o.headers["manager"], "review_requested")
    assert "Forklifts" in manager["review_requested"]["title"]
    author = await kinds(api, o.headers["author"], "course_approved")
    assert author["course_approved"]["data"]["course_id"] == course

    await _enrol_and_finish(api, o, course, lesson)
    student = await kinds(api, o.headers["student"], "enrolment_confirmed", "certificate_ready")
    ready = student["certificate_ready"]
    assert ready["link"].startswith("/me/certificates/") and ready["data"]["code"] in ready["body"]
    assert "review_requested" not in student and "enrolment_confirmed" not in manager

    # A rejection carries its feedback to the authors; a new revision and the archive reach the
    # enrolled students.
    other, _, _ = await draft(api, o, title="Ladders")
    r = await api.client.post(f"/courses/{other}/submit", headers=o.headers["author"])
    review = r.json()["data"]["review_id"]
    r = await api.client.post(
        f"/reviews/{review}/reject", json={"feedback": "add pictures"}, headers=o.headers["manager"]
    )
    assert r.status_code == 202, r.text
    rejected = (await kinds(api, o.headers["author"], "course_rejected"))["course_rejected"]
    assert "add pictures" in rejected["body"] and rejected["data"]["feedback"] == "add pictures"
    r = await api.client.post(f"/courses/{course}/revisions", json={"kind": "minor"}, headers=o.headers["author"])
    assert r.status_code in (201, 202), r.text
    await publish(api, o, course)
    r = await api.client.post(f"/courses/{course}/archive", headers=o.headers["manager"])
    assert r.status_code == 202, r.text
    student = await kinds(api, o.headers["student"], "course_revised", "course_archived")
    assert student["course_revised"]["data"]["revision"] != "0.1"
    assert "course_revised" not in await kinds(api, o.headers["other_student"])

    # Order status changes reach the organisation's sales people.
    r = await api.client.post(
        "/orders",
        json={
            "client": "Acme", "title": "Cranes", "cefr_level": "B1", "job_role": "operator", "industry": "logistics",
            "language": "en", "learners": 3, "wanted_by": str(date.today() + timedelta(days=30)),
        },
        headers=sales,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    order = r.json()["id"]
    r = await api.client.post(f"/orders/{order}/cancel", json={"reason": "budget"}, headers=sales)
    assert r.status_code == 202, r.text
    status = (await kinds(api, sales, "order_status"))["order_status"]
    assert status["data"] == {"order_id": order, "status": "cancelled"}


async def test_read_state_and_preferences(api: Api) -> None:
    o = await people(api)
    course, _, lesson = await draft(api, o)
    await publish(api, o, course)
    await _enrol_and_finish(api, o, course, lesson)
    await kinds(api, o.headers["student"], "enrolment_confirmed", "certificate_ready")
    student = o.headers["student"]
    body = await feed(api, student)
    assert body["unread"] == 2 and not any(i["read"] for i in body["items"])
    first = body["items"][-1]["notification_id"]

    # Another user cannot mark someone else's notification read.
    r = await api.client.post("/me/notifications/read", json={"notification_ids": [first]}, headers=o.admin)
    assert r.status_code == 202
    r = await api.client.post("/me/notifications/read", json={"notification_ids": [first]}, headers=student)
    assert r.status_code == 202, r.text
    after = await feed(api, student, position=r.json()["position"])
    assert after["unread"] == 1 and [i["read"] for i in after["items"]] == [False, True]
    count = await api.client.get("/me/notifications/unread-count", headers=student)
    assert count.json()["unread"] == 1
    assert (await feed(api, student, unread="true"))["items"][0]["kind"] == "certificate_ready"
    r = await api.client.post("/me/notifications/read", json={"notification_ids": []}, headers=student)
    assert r.status_code == 400

    r = await api.client.post("/me/notifications/read-all", json={}, headers=student)
    assert r.status_code == 202, r.text
    assert (await feed(api, student, position=r.json()["position"]))["unread"] == 0

    # Preferences: certificates no longer in the feed (and mailed), for this student only.
    r = await api.client.put(
        "/me/notifications/preferences/certificate_ready", json={"in_app": False, "email": True}, headers=student
    )
    assert r.status_code == 202, r.text
    chose = r.json()["position"]
    r = await api.client.put("/me/notifications/preferences/no_such_kind", json={}, headers=student)
    assert r.status_code == 400
    prefs = await api.client.get("/me/notifications/preferences", params={"position": chose}, headers=student)
    chosen = {p["kind"]: p for p in prefs.json()["items"]}
    assert chosen["certificate_ready"] == {"kind": "certificate_ready", "in_app": False, "email": True}
    assert chosen["enrolment_confirmed"]["in_app"] is True
    second, _, lesson2 = await draft(api, o, title="Second")
    await publish(api, o, second)
    await _enrol_and_finish(api, o, second, lesson2)
    await _enrol_and_finish(api, o, second, lesson2, who="other_student")
    await kinds(api, o.headers["other_student"], "certificate_ready")

    async def two_certificates() -> bool:
        r = await api.client.get("/me/certificates", headers=student)
        return len(r.json()["items"]) == 2

    await wait_until(two_certificates, what="the student's second certificate")
    head = await api.services.store.head()
    mine = [
        i for i in (await feed(api, student, limit=200, position=head))["items"] if i["kind"] == "certificate_ready"
    ]
    assert len(mine) == 1  # the first course's only


# -- the live stream -------------------------------------------------------------------------


async def _events(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    """The next `count` SSE events of a streaming response (comments skipped)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current.get("data"):  # as EventSource: an empty data buffer dispatches nothing
                events.append(current)
                if len(events) == count:
                    return events
            current = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            current[name] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {len(events)} events")


async def test_the_live_stream_resumes_from_last_event_id(api: Api) -> None:
    o = await people(api)
    course, _, lesson = await draft(api, o)
    await publish(api, o, course)
    student = o.headers["student"]
    async with api.client.stream("GET", "/me/notifications/stream", headers=student) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        r = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=student)
        assert r.status_code == 201
        (first,) = await asyncio.wait_for(_events(response, 1), 30)
    assert first["event"] == "notification" and json.loads(first["data"])["kind"] == "enrolment_confirmed"
    last_id = first["id"]

    # While disconnected: the course completed, its certificate issued.
    r = await api.client.post(
        f"/courses/{course}/enrollments/completed-lessons", json={"lesson_id": lesson}, headers=student
    )
    await kinds(api, student, "certificate_ready")
    headers = {**student, "Last-Event-ID": last_id}
    async with api.client.stream("GET", "/me/notifications/stream", headers=headers) as response:
        (missed,) = await asyncio.wait_for(_events(response, 1), 30)
    assert json.loads(missed["data"])["kind"] == "certificate_ready" and int(missed["id"]) > int(last_id)

    r = await api.client.get("/me/notifications/stream", headers={**student, "Last-Event-ID": "yesterday"})
    assert r.status_code == 400
    assert (await api.client.get("/me/notifications/stream")).status_code == 401


async def _until_ended(response: httpx.Response) -> None:
    """Read a stream until the server ends it."""
    async for _ in response.aiter_lines():
        pass


async def test_a_stream_ends_with_its_sign_in(api: Api) -> None:
    """An open stream ends once the sign-in it was opened with ends: at its sign-out (a bearer
    stream), at a password change (a ticket's stream); a stream of another sign-in goes on."""
    o = await people(api)
    course, _, _ = await draft(api, o)
    await publish(api, o, course)
    _, address = await api.register()
    r = await api.client.post(
        f"/organisations/{o.id}/members", json={"email": address, "roles": ["student"]}, headers=o.admin
    )
    assert r.status_code == 201, r.text
    first, second = [api.bearer(await api.login(address, o.id)) for _ in range(2)]  # two sign-ins
    stream = "/me/notifications/stream"
    async with (
        api.client.stream("GET", stream, headers=first) as signed_out,
        api.client.stream("GET", stream, headers=second) as going_on,
    ):
        assert signed_out.status_code == going_on.status_code == 200
        assert (await api.client.post("/auth/logout", json={}, headers=first)).status_code == 204
        await asyncio.wait_for(_until_ended(signed_out), 30)  # without the end: keepalives forever
        r = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=second)
        assert r.status_code == 201, r.text
        (event,) = await asyncio.wait_for(_events(going_on, 1), 30)
    assert json.loads(event["data"])["kind"] == "enrolment_confirmed"

    r = await api.client.post("/me/notifications/stream-ticket", headers=second)
    async with api.client.stream("GET", r.json()["url"]) as by_ticket:
        assert by_ticket.status_code == 200
        r = await api.client.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
            headers=second,
        )
        assert r.status_code == 202, r.text
        await asyncio.wait_for(_until_ended(by_ticket), 30)


async def test_a_stream_ticket_opens_the_stream_alone_and_briefly(settings: Settings, nats_cleanup: Settings) -> None:
    """A browser's EventSource sends no Authorization header: a ticket from
    POST /me/notifications/stream-ticket opens the stream in the URL, and nothing else (not the
    feed, not as a bearer token, not another ticket); the access token is no ticket; a ticket
    expires (4 s here, 60 by default) and ends with its sign-in."""
    async with system(settings.model_copy(update={"stream_ticket_seconds": 4})) as api:
        o = await people(api)
        course, _, _ = await draft(api, o)
        await publish(api, o, course)
        student = o.headers["student"]
        access_token = student["Authorization"].removeprefix("Bearer ")
        r = await api.client.post("/me/notifications/stream-ticket", headers=student)
        assert r.status_code == 200, r.text
        answer = r.json()
        ticket = answer["ticket"]
        assert answer["expires_in"] == 4 and answer["url"] == f"/me/notifications/stream?ticket={ticket}"
        async with api.client.stream("GET", answer["url"]) as response:  # no Authorization header
            assert response.status_code == 200, await response.aread()
            r = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=student)
            assert r.status_code == 201
            (first,) = await asyncio.wait_for(_events(response, 1), 30)
        assert json.loads(first["data"])["kind"] == "enrolment_confirmed"

        bearer = {"Authorization": f"Bearer {ticket}"}
        for refused in (
            api.client.get("/me/notifications", params={"ticket": ticket}),  # another route
            api.client.get("/me/notifications", headers=bearer),  # as an access token
            api.client.get("/me/notifications/stream", headers=bearer),
            api.client.post("/me/notifications/stream-ticket", headers=bearer),  # a ticket makes none
            api.client.get("/me/notifications/stream", params={"ticket": access_token}),  # no token in a URL
            api.client.get("/me/notifications/stream", params={"access_token": access_token}),
            api.client.get("/me/notifications/stream", params={"ticket": ticket[:-2] + "xx"}),
        ):
            assert (await refused).status_code == 401

        await asyncio.sleep(5.2)  # past the ticket's 4 s
        r = await api.client.get(answer["url"])
        assert r.status_code == 401 and "expired" in r.text

        r = await api.client.post("/me/notifications/stream-ticket", headers=student)
        fresh = r.json()["url"]
        assert (await api.client.post("/auth/logout", json={}, headers=student)).status_code == 204
        r = await api.client.get(fresh)
        assert r.status_code == 401 and "revoked" in r.text  # the sign-in ended


# -- mail ------------------------------------------------------------------------------------


async def _outbox(dsn: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT mail_id, recipient, attempts, sent_at, body FROM cw_mail_outbox")
        return list(await cur.fetchall())


# Production's mail backoff (CW_MAIL_RETRY_SECONDS 2 doubling up to CW_MAIL_RETRY_MAX_SECONDS
# 300, jitter 0.2) scaled for a 30 s outage: the first wait a quarter (0.5 s), the cap a sixtieth
# (5 s). Each mail then fails some seven times in the outage, the later tries at the cap as in a
# long production outage, and is tried again within 5 s of the server's return.
SCALED_BACKOFF = Backoff(initial=Settings.model_fields["mail_retry_seconds"].default / 4, maximum=5.0)
SMTP_OUTAGE_S = 30.0


async def test_mail_survives_an_smtp_outage_and_arrives_once(api: Api, settings: Settings) -> None:
    """The SMTP server answers, then is down for 30 s, during which several students' certificates
    and a password reset are mailed; each mail is tried again and again meanwhile, and once the
    server is back each arrives exactly once (Message-IDs unique), and nothing is left to send."""
    o = await people(api)
    course, _, lesson = await draft(api, o)
    await publish(api, o, course)
    students = [await api.member(o.id, o.admin, "student") for _ in range(4)]
    addresses = [await _address(api, headers) for _, headers in students]
    user_id, address = await api.register()
    early_id, early = await api.register()
    port = free_port()
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    async with delivering(settings, port, retry=SCALED_BACKOFF, poll_seconds=settings.mail_poll_seconds) as delivery:
        with smtp_server(port, inbox):  # up: a mail goes through
            r = await api.client.post("/auth/password-reset", json={"email": early})
            assert r.status_code == 202
            await wait_until(lambda: _arrived(inbox, early), what="the mail before the outage")
            # Earlier tests' mail, due too, is sent now: no send is under way when the server stops.
            await wait_until(lambda: _nothing_due(settings.pg_dsn), what="the outbox's due mail sent")
        down_since = loop.time()  # the outage: nothing listens on the port
        sent_before = delivery.sent
        for _, headers in students:
            await _enrol_and_finish_as(api, course, lesson, headers)
        r = await api.client.post("/auth/password-reset", json={"email": address})
        assert r.status_code == 202
        await wait_until(lambda: _queued(settings.pg_dsn, [*addresses, address]), what="the mail queued")
        await asyncio.sleep(SMTP_OUTAGE_S - (loop.time() - down_since))
        assert delivery.sent == sent_before and delivery.failures >= 3 * (len(students) + 1)
        with smtp_server(port, inbox):

            async def all_arrived() -> bool:
                return all(inbox.to(a) for a in [*addresses, address])

            await wait_until(all_arrived, within=60, what="every mail after the outage")
            await wait_until(lambda: _nothing_due(settings.pg_dsn), within=60, what="the outbox to empty")
            # A fresh worker (a restart) finds nothing left to send.
            again = MailDelivery(settings.pg_dsn, SmtpMailer(f"smtp://127.0.0.1:{port}", "x@y"))
            async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
                assert await again.deliver_once(conn) == 0
    for a in addresses:
        (mail,) = inbox.to(a)
        assert "certificate" in mail["Subject"].lower()
        assert f"{settings.public_url}/me/certificates/" in mail.get_content()
    (reset,) = inbox.to(address)
    token = re.search(r"^([0-9a-f]{32}\.[\w-]+)\r?$", reset.get_content(), re.M)
    assert token is not None
    r = await api.client.post(
        "/auth/password-reset/confirm", json={"token": token.group(1), "new_password": "a new passphrase 1"}
    )
    assert r.status_code == 202, r.text
    await api.login(address, password="a new passphrase 1")
    assert len(inbox.to(early)) == 1
    ids = [m["Message-ID"] for m in inbox.all()]
    assert len(ids) == len(set(ids))
    rows = {r[1]: r for r in await _outbox(settings.pg_dsn) if r[1] in [*addresses, address]}
    assert len(rows) == len(addresses) + 1
    # Each was tried again and again through the outage, then sent once and its body blanked.
    assert all(r[2] >= 3 and r[3] is not None and r[4] == "" for r in rows.values()), rows
    assert user_id and early_id


async def _arrived(inbox: Inbox, address: str) -> bool:
    return bool(inbox.to(address))


async def test_sent_mail_is_deleted_once_older_than_kept(settings: Settings) -> None:
    """The delivery's loop deletes sent mail older than `keep_sent` (and only that): a mail sent
    long ago goes, one just sent stays, one not yet sent (however old) stays."""
    port = free_port()
    inbox = Inbox()
    old, recent, waiting = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
        for mail_id in (old, recent):
            await enqueue(conn, mail_id, Mail(f"{mail_id}@example.com", "kept a while", "body"))
    with smtp_server(port, inbox):
        async with delivering(settings, port) as delivery:
            await wait_until(lambda: _sent(settings.pg_dsn, old, recent), what="both mails sent")
    async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
        # The first was sent eight days ago; the third waits for a try in an hour, since as long.
        await conn.execute("UPDATE cw_mail_outbox SET sent_at = now() - interval '8 days' WHERE mail_id = %s", [old])
        await enqueue(conn, waiting, Mail("waiting@example.com", "not yet", "body"))
        await conn.execute(
            "UPDATE cw_mail_outbox SET created_at = now() - interval '9 days',"
            " next_attempt_at = now() + interval '1 hour' WHERE mail_id = %s",
            [waiting],
        )
    with smtp_server(port, inbox):
        async with delivering(settings, port, keep_sent=timedelta(days=7), purge_every_s=0.2) as delivery:

            async def purged() -> bool:
                return old not in {r[0] for r in await _outbox(settings.pg_dsn)}

            await wait_until(purged, what="the old sent mail deleted")
    left = {r[0]: r for r in await _outbox(settings.pg_dsn)}
    assert recent in left and left[recent][3] is not None
    assert waiting in left and left[waiting][3] is None
    assert delivery.purged >= 1 and len(inbox.to(f"{old}@example.com")) == 1
    async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
        await conn.execute("DELETE FROM cw_mail_outbox WHERE mail_id = ANY(%s)", [[recent, waiting]])  # the run's


async def _sent(dsn: str, *mail_ids: uuid.UUID) -> bool:
    sent = {r[0] for r in await _outbox(dsn) if r[3] is not None}
    return all(m in sent for m in mail_ids)


async def _enrol_and_finish_as(api: Api, course: str, lesson: str, headers: dict[str, str]) -> None:
    r = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=headers)
    assert r.status_code == 201, r.text
    r = await api.client.post(
        f"/courses/{course}/enrollments/completed-lessons", json={"lesson_id": lesson}, headers=headers
    )
    assert r.status_code == 202, r.text


async def _address(api: Api, headers: dict[str, str]) -> str:
    r = await api.client.get("/auth/me", headers=headers)
    return str(r.json()["email"])


async def _nothing_due(dsn: str) -> bool:
    """No mail waits for a try that is due (mail put off for later, by a test, may wait)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM cw_mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL"
            " AND next_attempt_at <= now() + interval '5 seconds'"
        )
        row = await cur.fetchone()
        return row is not None and row[0] == 0


async def _queued(dsn: str, addresses: list[str]) -> bool:
    recipients = {r[1] for r in await _outbox(dsn)}
    return all(a in recipients for a in addresses)


# -- crashes ---------------------------------------------------------------------------------


async def test_notifications_projector_killed_mid_batch_equals_a_rebuild(
    own_settings: Settings,  # noqa: F811
    own_store: PostgresEventStore,  # noqa: F811
) -> None:
    settings, store, dsn = own_settings, own_store, own_settings.pg_dsn
    world = World(bus_on(store))
    async with relay(settings):
        # Its notification rows (and their mail) are written, its course rows wait: killed there.
        await kill_mid_batch(settings, store, world, "notifications")
        await scenario(world, courses=1, students=2)
        proc = spawn_projectors(settings)
        try:
            await wait_until(lambda: caught_up(store, dsn), within=60, what="catch-up after the kill")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    await rebuild(dsn, NotificationsProjection, target="cmp_notifications")
    live, fresh = await dump(dsn, "rm_notifications"), await dump(dsn, "cmp_notifications")
    assert live == fresh and live["notifications"], "the feed differs from a rebuild"
    kinds_seen = {row[2] for row in live["notifications"]}
    assert {"enrolment_confirmed", "certificate_ready"} <= kinds_seen
