"""Trainers and cohorts, learning paths and the authoring gaps over HTTP (and NATS), against the real
services (store, relay, JetStream, projectors, gateway): cohorts and their trainers, feedback the
student sees, an unpublished course its students keep, archived enrolments, and paths whose
prerequisites refuse an enrolment by the missing courses' titles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from tests.conftest import NATS_URL
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, People, draft, people, publish, running_gateway
from tests.integration.projections_support import projectors, relay
from tests.integration.test_messaging import Machine, messaging

pytestmark = QUERIES_DEPRECATIONS

QUIZ = {
    "objectives": ["Inspect the forks"],
    "assessments": [
        {
            "id": "q1",
            "title": "Forks",
            "questions": [{"id": "a", "prompt": "Cracked forks?", "options": ["Use", "Tag out"], "correct": [1]}],
        }
    ],
}


@pytest.fixture
async def api(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with relay(settings), projectors(settings), running_gateway(settings) as api:
        yield api


async def _ok(r: Any, status: int = 202) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


async def _course(api: Api, o: People, title: str = "Forklifts", **details: Any) -> tuple[str, str]:
    """A published course whose one lesson has a quiz: (course, lesson)."""
    course, _, lesson = await draft(api, o, title=title, **details)
    r = await api.client.post(
        f"/courses/{course}/lessons/{lesson}/content", json={"content": QUIZ}, headers=o.headers["author"]
    )
    await _ok(r, 201)
    await publish(api, o, course)
    return course, lesson


async def test_trainers_follow_the_cohorts_they_train_and_students_see_their_feedback(api: Api) -> None:
    o = await people(api)
    c = api.client
    _, other_trainer_headers = await api.member(o.id, o.admin, "trainer")
    course, lesson = await _course(api, o)
    for who in ("student", "other_student"):
        await _ok(await c.post(f"/courses/{course}/enrollments", json={}, headers=o.headers[who]), 201)
    manager = o.headers["manager"]
    made = await _ok(
        await c.post(
            "/cohorts", json={"course_id": course, "name": "March", "starts_on": "2026-03-02"}, headers=manager
        ),
        201,
    )
    cohort = made["id"]
    assert (await c.get(f"/cohorts/{cohort}?position={made['position']}", headers=manager)).status_code == 200
    student, other = str(o.ids["student"]), str(o.ids["other_student"])
    await _ok(await c.put(f"/cohorts/{cohort}/students/{student}", headers=manager))
    r = await c.put(f"/cohorts/{cohort}/trainers/{o.ids['author']}", headers=manager)  # an instructor
    assert (r.status_code, r.json()["code"]) == (422, "invalid_trainer"), r.text
    at = (await _ok(await c.put(f"/cohorts/{cohort}/trainers/{o.ids['trainer']}", headers=manager)))["position"]

    # The trainer sees their cohort and its one student; another trainer sees neither.
    listed = await _ok(await c.get(f"/cohorts?position={at}", headers=o.headers["trainer"]), 200)
    assert [k["cohort_id"] for k in listed["items"]] == [cohort]
    assert listed["items"][0]["students"] == 1 and listed["items"][0]["trainer_ids"] == [str(o.ids["trainer"])]
    detail = await _ok(await c.get(f"/cohorts/{cohort}?position={at}", headers=o.headers["trainer"]), 200)
    assert [s["student_id"] for s in detail["students"]] == [student]
    assert (await _ok(await c.get(f"/cohorts?position={at}", headers=other_trainer_headers), 200))["items"] == []
    assert (await c.get(f"/cohorts/{cohort}?position={at}", headers=other_trainer_headers)).status_code == 404
    assert (await c.get(f"/cohorts?position={at}", headers=o.headers["student"])).status_code == 403
    assert (await _ok(await c.get(f"/cohorts?course_id={course}", headers=manager), 200))["items"][0]["name"] == "March"

    # Feedback on the lesson and its quiz, seen by the student; not for a student outside the cohort.
    feedback = f"/courses/{course}/students/{student}/feedback"
    await _ok(
        await c.post(feedback, json={"lesson_id": lesson, "text": "Good checks"}, headers=o.headers["trainer"]), 201
    )
    r = await c.post(
        feedback, json={"lesson_id": lesson, "assessment_id": "q1", "text": "Tag it out"}, headers=o.headers["trainer"]
    )
    at = (await _ok(r, 201))["position"]
    assert r.headers["location"].startswith(f"/courses/{course}/students/{student}/progress?")
    r = await c.post(
        feedback, json={"lesson_id": lesson, "assessment_id": "nope", "text": "?"}, headers=o.headers["trainer"]
    )
    assert r.status_code == 404
    r = await c.post(feedback, json={"lesson_id": lesson, "text": "Hi"}, headers=other_trainer_headers)
    assert r.status_code == 404  # not a student of theirs: the same answer as no such enrolment
    r = await c.post(
        f"/courses/{course}/students/{other}/feedback",
        json={"lesson_id": lesson, "text": "Hi"},
        headers=o.headers["trainer"],
    )
    assert r.status_code == 404
    mine = await _ok(await c.get(f"/me/courses/{course}?position={at}", headers=o.headers["student"]), 200)
    assert [(f["text"], f["assessment_id"], f["trainer_id"]) for f in mine["feedback"]] == [
        ("Good checks", None, str(o.ids["trainer"])),
        ("Tag it out", "q1", str(o.ids["trainer"])),
    ]
    assert mine["cohort_id"] == cohort
    theirs = await _ok(await c.get(f"/me/courses/{course}?position={at}", headers=o.headers["other_student"]), 200)
    assert theirs["feedback"] == []

    # Acting for a student once enrolled: a trainer for the students of their cohorts only.
    done = f"/courses/{course}/enrollments/completed-lessons"
    r = await c.post(done, json={"lesson_id": lesson, "student_id": other}, headers=o.headers["trainer"])
    assert r.status_code == 404, r.text
    r = await c.post(done, json={"lesson_id": lesson, "student_id": student}, headers=o.headers["trainer"])
    assert (await _ok(r))["data"]["progress"] == 100.0
    r = await c.post(done, json={"lesson_id": lesson, "student_id": other}, headers=o.headers["org_admin"])
    assert (await _ok(r))["data"]["progress"] == 100.0

    # An enrolment is in one cohort at most; taken out, its trainer no longer sees it.
    second = (
        await _ok(
            await c.post(
                "/cohorts", json={"course_id": course, "name": "April", "starts_on": "2026-04-06"}, headers=manager
            ),
            201,
        )
    )["id"]
    r = await c.put(f"/cohorts/{second}/students/{student}", headers=manager)
    assert (r.status_code, r.json()["code"]) == (409, "already_in_cohort")
    at = (await _ok(await c.delete(f"/cohorts/{cohort}/students/{student}", headers=manager)))["position"]
    r = await c.get(f"/courses/{course}/students/{student}/progress?position={at}", headers=o.headers["trainer"])
    assert r.status_code == 404
    assert (await _ok(await c.get(f"/cohorts/{cohort}?position={at}", headers=o.headers["trainer"]), 200))[
        "students"
    ] == []
    await _ok(await c.put(f"/cohorts/{second}/students/{student}", headers=manager))
    await _ok(await c.delete(f"/cohorts/{cohort}/trainers/{o.ids['trainer']}", headers=manager))
    r = await c.delete(f"/cohorts/{cohort}/trainers/{o.ids['trainer']}", headers=manager)
    assert r.status_code == 404


async def test_an_unpublished_course_leaves_the_catalog_and_its_students_keep_it(api: Api) -> None:
    o = await people(api)
    c = api.client
    course, lesson = await _course(api, o)
    await _ok(await c.post(f"/courses/{course}/enrollments", json={}, headers=o.headers["student"]), 201)
    at = (await _ok(await c.post(f"/courses/{course}/unpublish", headers=o.headers["manager"])))["position"]
    assert (await c.post(f"/courses/{course}/unpublish", headers=o.headers["author"])).status_code == 403
    catalog = await _ok(await c.get(f"/catalog?position={at}", headers=o.headers["other_student"]), 200)
    assert course not in [i["course_id"] for i in catalog["items"]]
    mine = await _ok(await c.get(f"/courses/{course}?position={at}", headers=o.headers["student"]), 200)
    assert mine["bodies"] is True and mine["listed"] is False
    assert (await c.get(f"/courses/{course}?position={at}", headers=o.headers["other_student"])).status_code == 404
    r = await c.post(f"/courses/{course}/enrollments", json={}, headers=o.headers["other_student"])
    assert (r.status_code, r.json()["code"]) == (409, "course_not_published")
    r = await c.post(
        f"/courses/{course}/enrollments/quiz-submissions",
        json={"lesson_id": lesson, "assessment_id": "q1", "answers": {"a": [1]}},
        headers=o.headers["student"],
    )
    assert (await _ok(r, 201))["data"]["progress"] == 100.0
    # Publishing again puts it back in the catalog with the revision it had.
    at = (await _ok(await c.post(f"/courses/{course}/publish", headers=o.headers["manager"])))["position"]
    catalog = await _ok(await c.get(f"/catalog?position={at}", headers=o.headers["other_student"]), 200)
    assert course in [i["course_id"] for i in catalog["items"]]
    await _ok(await c.post(f"/courses/{course}/archive", headers=o.headers["manager"]))
    r = await c.post(f"/courses/{course}/unpublish", headers=o.headers["manager"])
    assert r.status_code == 409


async def test_a_student_archives_a_completed_enrolment_and_brings_it_back(api: Api) -> None:
    o = await people(api)
    c = api.client
    course, lesson = await _course(api, o)
    student = o.headers["student"]
    await _ok(await c.post(f"/courses/{course}/enrollments", json={}, headers=student), 201)
    r = await c.post(f"/courses/{course}/enrollments/archive", json={}, headers=student)
    assert (r.status_code, r.json()["code"]) == (409, "enrollment_not_archivable")
    body = {"lesson_id": lesson, "assessment_id": "q1", "answers": {"a": [1]}}
    await _ok(await c.post(f"/courses/{course}/enrollments/quiz-submissions", json=body, headers=student), 201)
    at = (await _ok(await c.post(f"/courses/{course}/enrollments/archive", json={}, headers=student)))["position"]

    async def listed(archived: bool) -> list[str]:
        page = await _ok(
            await c.get(f"/me/courses?archived={str(archived).lower()}&position={at}", headers=student), 200
        )
        return [i["course_id"] for i in page["items"]]

    assert await listed(False) == []
    assert await listed(True) == [course]
    at = (await _ok(await c.post(f"/courses/{course}/enrollments/unarchive", json={}, headers=student)))["position"]
    assert await listed(False) == [course]
    assert await listed(True) == []


async def test_a_learning_path_refuses_an_enrolment_by_the_missing_titles_and_shows_progress(api: Api) -> None:
    o = await people(api)
    c = api.client
    basics, basics_lesson = await _course(api, o, title="Forklift basics")
    loading, _ = await _course(api, o, title="Loading docks")
    night, _ = await _course(api, o, title="Night shifts")
    steps = [{"course_id": basics}, {"course_id": loading}, {"course_id": night, "requires": [basics]}]
    r = await c.post("/paths", json={"title": "Forklift driver", "steps": steps}, headers=o.headers["author"])
    assert r.status_code == 403
    r = await c.post(
        "/paths",
        json={"title": "Bad", "steps": [{"course_id": basics, "requires": [loading]}]},
        headers=o.headers["manager"],
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_learning_path")
    made = await _ok(
        await c.post("/paths", json={"title": "Forklift driver", "steps": steps}, headers=o.headers["manager"]), 201
    )
    path, at = made["id"], made["position"]

    student = o.headers["student"]
    r = await c.post(f"/courses/{loading}/enrollments", json={}, headers=student)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "prerequisites_missing"
    assert r.json()["errors"] == [{"course_id": basics, "title": "Forklift basics"}]
    progress = await _ok(await c.get(f"/paths/{path}/progress?position={at}", headers=student), 200)
    assert (progress["courses"], progress["completed"], progress["next_course_id"]) == (3, 0, basics)
    assert [s["missing"] for s in progress["steps"]] == [[], [basics], [basics]]

    await _ok(await c.post(f"/courses/{basics}/enrollments", json={}, headers=student), 201)
    body = {"lesson_id": basics_lesson, "assessment_id": "q1", "answers": {"a": [1]}}
    await _ok(await c.post(f"/courses/{basics}/enrollments/quiz-submissions", json=body, headers=student), 201)
    at = (await _ok(await c.post(f"/courses/{loading}/enrollments", json={}, headers=student), 201))["position"]
    progress = await _ok(await c.get(f"/paths/{path}/progress?position={at}", headers=student), 200)
    assert [(s["status"], s["completed"]) for s in progress["steps"]] == [
        ("completed", True),
        ("active", False),
        ("not_enrolled", False),
    ]
    assert (progress["completed"], progress["progress"], progress["next_course_id"]) == (1, 33.33, loading)

    # Those who teach the student read it too; a colleague who does not, no.
    r = await c.get(f"/paths/{path}/progress?student_id={o.ids['student']}&position={at}", headers=o.headers["author"])
    assert (await _ok(r, 200))["completed"] == 1
    r = await c.get(f"/paths/{path}/progress?student_id={o.ids['student']}&position={at}", headers=o.headers["trainer"])
    assert r.status_code == 404
    paths = await _ok(await c.get(f"/paths?position={at}", headers=o.headers["other_student"]), 200)
    assert [(p["title"], [s["title"] for s in p["steps"]]) for p in paths["items"]] == [
        ("Forklift driver", ["Forklift basics", "Loading docks", "Night shifts"])
    ]

    # Revised without the loading course: nothing is required before it any more.
    revised = {"title": "Forklift driver", "steps": [{"course_id": basics}, {"course_id": night}]}
    at = (await _ok(await c.put(f"/paths/{path}", json=revised, headers=o.headers["manager"])))["position"]
    r = await c.post(f"/courses/{loading}/enrollments", json={}, headers=o.headers["other_student"])
    assert r.status_code == 201, r.text
    one = await _ok(await c.get(f"/paths/{path}?position={at}", headers=o.headers["student"]), 200)
    assert [s["course_id"] for s in one["steps"]] == [basics, night]


async def test_cohorts_and_path_progress_over_nats_follow_the_same_rules(
    settings: Settings, store: PostgresEventStore, nats_cleanup: Settings
) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        async with relay(settings), projectors(settings), running_gateway(settings) as api, messaging(api, nc):
            o = await people(api)
            prefix = api.services.settings.subject_prefix
            manager, trainer = Machine(nc, prefix, o.headers["manager"]), Machine(nc, prefix, o.headers["trainer"])
            student = Machine(nc, prefix, o.headers["student"])
            course, _ = await _course(api, o)
            await _ok(
                await api.client.post(f"/courses/{course}/enrollments", json={}, headers=o.headers["student"]), 201
            )
            made = await manager.ask(
                "courses.create_cohort", {"course_id": course, "name": "May", "starts_on": "2026-05-04"}
            )
            assert made.status == 202, made.body
            cohort = made.body["id"]
            r = await manager.ask("courses.add_to_cohort", {"cohort_id": cohort, "student_id": str(o.ids["student"])})
            assert r.status == 202, r.body
            assert (
                await trainer.ask("cohorts.get", {"cohort_id": cohort, "position": r.body["position"]})
            ).status == 404
            r = await manager.ask("courses.assign_trainer", {"cohort_id": cohort, "trainer_id": str(o.ids["trainer"])})
            seen = await trainer.ask("cohorts.get", {"cohort_id": cohort, "position": r.body["position"]})
            assert seen.status == 200, seen.body
            assert [s["student_id"] for s in seen.body["students"]] == [str(o.ids["student"])]
            assert (await student.ask("cohorts.list", {})).status == 403
            path = await manager.ask("courses.create_learning_path", {"title": "P", "steps": [{"course_id": course}]})
            assert path.status == 202, path.body
            progress = await student.ask(
                "paths.progress", {"path_id": path.body["id"], "position": path.body["position"]}
            )
            assert progress.status == 200, progress.body
            assert [s["status"] for s in progress.body["steps"]] == ["active"]
            listed = await student.ask("paths.list", {})
            assert [p["path_id"] for p in listed.body["items"]] == [path.body["id"]]
    finally:
        await nc.close()
