"""The page edge on the running gateway: repeated catalog requests answered from memory, never
differently from the full path (same page, same headers, invalidated with the cache, tokens and
limits still checked)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest

from commands.context import Context
from gateway.edge import PageEdge
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from schemas import commands as c
from tests.integration.gateway_harness import Api, running_gateway
from tests.integration.projections_support import CONTENT, projectors, relay


@pytest.fixture
async def api(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with relay(settings), running_gateway(settings) as api, projectors(settings, cache=api.root.cache):
        yield api


async def publish(api: Api, org: UUID, author: UUID, manager: UUID, title: str) -> int:
    bus = api.services.bus
    as_author = Context(author, org, frozenset({"instructor"}))
    as_manager = Context(manager, org, frozenset({"course_manager"}))
    course = UUID((await bus.handle(c.CreateCourse(title=title, cefr_level="B1", category="safety"), as_author)).id)
    m = await bus.handle(c.AddModule(course_id=course, title="Basics"), as_author)
    lesson = await bus.handle(c.AddLesson(course_id=course, module_id=UUID(m.data["module_id"]), title="L"), as_author)
    await bus.handle(
        c.SetLessonContent(course_id=course, lesson_id=UUID(lesson.data["lesson_id"]), content=CONTENT), as_author
    )
    sub = await bus.handle(c.SubmitCourse(course_id=course), as_author)
    await bus.handle(c.ApproveCourse(review_id=UUID(sub.data["review_id"])), as_manager)
    return (await bus.handle(c.PublishCourse(course_id=course), as_manager)).position


def edge_of(api: Api) -> PageEdge:
    edge = api.app.state["edge"]
    assert isinstance(edge, PageEdge)
    return edge


PER_ANSWER = {"x-request-id", "date"}  # differ between any two answers


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.content) == (b.status_code, b.content)
    assert {k: v for k, v in a.headers.items() if k not in PER_ANSWER} == {
        k: v for k, v in b.headers.items() if k not in PER_ANSWER
    }


async def test_the_edge_answers_as_the_full_path_and_follows_invalidations(api: Api) -> None:
    org, admin = await api.organisation("Edge Inc")
    author, _ = await api.member(org, admin, "instructor")
    manager, _ = await api.member(org, admin, "course_manager")
    _, student = await api.member(org, admin, "student")
    _, other = await api.member(org, admin, "student")
    edge = edge_of(api)

    word = f"edge{secrets.token_hex(4)}"  # other tests' public courses stay out of these pages
    page = f"/catalog?limit=5&q={word}"
    position = await publish(api, org, author, manager, f"Forklift safety {word}")
    full = await api.client.get(f"{page}&position={position}", headers=student)  # waits: full path
    assert full.status_code == 200, full.text
    learnt = await api.client.get(page, headers=student)  # the full path, remembered
    served_before = edge.served
    # (Rate-limit permits are leased a few at a time, doubling: the first requests of a user
    # wait for theirs on the full path, the later ones find one in hand.)
    answers = [await api.client.get(page, headers=who) for who in [student, other] * 4]
    assert edge.served - served_before >= 4
    for answer in (learnt, *answers):
        same_answer(full, answer)
    assert [i["title"] for i in answers[-1].json()["items"]] == [f"Forklift safety {word}"]
    assert len({a.headers["x-request-id"] for a in answers}) == len(answers)

    # A new course invalidates the organisation's catalog: the edge never serves the old page.
    position = await publish(api, org, author, manager, f"Pallet jacks {word}")
    fresh = await api.client.get(f"{page}&position={position}", headers=student)
    assert len(fresh.json()["items"]) == 2
    for _ in range(3):
        same_answer(fresh, await api.client.get(page, headers=student))

    # Bad and unusual requests take the full path and get its answers.
    assert (await api.client.get("/catalog?limit=5")).status_code == 401
    assert (await api.client.get("/catalog?limit=5", headers={"Authorization": "Bearer x.y.z"})).status_code == 401
    assert (await api.client.get("/catalog?limit=500", headers=student)).status_code == 400


async def test_a_revoked_token_is_refused_even_for_a_remembered_page(api: Api) -> None:
    org, admin = await api.organisation("Edge Revoked")
    _, address = await api.register()
    member = {"email": address, "roles": ["student"]}
    r = await api.client.post(f"/organisations/{org}/members", json=member, headers=admin)
    assert r.status_code == 201, r.text
    tokens = await api.login(address, org)
    student = api.bearer(tokens)
    for _ in range(3):
        assert (await api.client.get("/catalog", headers=student)).status_code == 200
    out = await api.client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=student)
    assert out.status_code in (200, 204), out.text
    assert (await api.client.get("/catalog", headers=student)).status_code == 401


async def test_a_platform_admin_never_gets_an_organisations_remembered_page(api: Api) -> None:
    org, admin = await api.organisation("Edge Admin")
    author, _ = await api.member(org, admin, "instructor")
    manager, _ = await api.member(org, admin, "course_manager")
    _, student = await api.member(org, admin, "student")
    other_org, other_admin = await api.organisation("Elsewhere Ltd")
    other_author, _ = await api.member(other_org, other_admin, "instructor")
    other_manager, _ = await api.member(other_org, other_admin, "course_manager")
    word = f"edge{secrets.token_hex(4)}"
    page = f"/catalog?q={word}"
    await publish(api, other_org, other_author, other_manager, f"Cranes {word}")
    position = await publish(api, org, author, manager, f"Ladders {word}")
    await api.client.get(f"{page}&position={position}", headers=student)
    for _ in range(4):
        titles = [i["title"] for i in (await api.client.get(page, headers=student)).json()["items"]]
        assert titles == [f"Ladders {word}"]

    _, root = await api.platform_admin()
    root_headers = api.bearer(await api.login(root, org))
    served = edge_of(api).served
    titles = {i["title"] for i in (await api.client.get(page, headers=root_headers)).json()["items"]}
    assert titles == {f"Ladders {word}", f"Cranes {word}"}  # every organisation's, not the remembered page
    assert edge_of(api).served == served


async def test_the_edge_spends_only_permits_the_limit_allows(
    settings: Settings, store: PostgresEventStore, nats_cleanup: Settings
) -> None:
    async with running_gateway(settings, rate_limit_per_minute=4) as api:
        org, admin = await api.organisation("Edge Limited")
        _, student = await api.member(org, admin, "student")
        statuses = [(await api.client.get("/catalog", headers=student)).status_code for _ in range(6)]
        assert statuses == [200, 200, 200, 200, 429, 429]
