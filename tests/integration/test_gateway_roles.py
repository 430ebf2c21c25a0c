"""Who may do what: the role x endpoint matrix, organisations that cannot see each other, and
within one organisation, who may change a draft (its authors) and see a student (their teachers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from tests.integration.gateway_harness import (
    CONTENT,
    DETAILS,
    QUERIES_DEPRECATIONS,
    Api,
    draft,
    email,
    people,
    publish,
    running_gateway,
)
from tests.integration.projections_support import projectors, relay

pytestmark = QUERIES_DEPRECATIONS

ROLES = ("platform_admin", "org_admin", "course_manager", "instructor", "trainer", "student", "sales", "auditor")
AUTHORS = {"platform_admin", "org_admin", "course_manager", "instructor"}
MANAGERS = {"platform_admin", "org_admin", "course_manager"}
REVIEWERS = {"platform_admin", "course_manager"}
DISCUSSANTS = {"platform_admin", "org_admin", "course_manager", "instructor"}
LEARNERS = {"platform_admin", "org_admin", "trainer", "student"}
ORG_ADMINS = {"platform_admin", "org_admin"}
PLATFORM = {"platform_admin"}
MEMBER_READERS = {"platform_admin", "org_admin", "course_manager", "trainer", "auditor"}
COACHES = {"platform_admin", "org_admin", "course_manager", "trainer"}  # feedback; cohorts they see

C, M, L, R, U, K, P = (str(uuid4()) for _ in range(7))
PATH = {"title": "Forklift driver", "steps": [{"course_id": C}]}
# (method, path, body, roles allowed): the specification, written out rather than derived.
MATRIX: list[tuple[str, str, object, set[str]]] = [
    ("POST", "/courses", DETAILS, AUTHORS),
    ("PUT", f"/courses/{C}/details", DETAILS, AUTHORS),
    ("DELETE", f"/courses/{C}/draft", None, AUTHORS),
    ("PUT", f"/courses/{C}/co-authors/{U}", None, AUTHORS),
    ("DELETE", f"/courses/{C}/co-authors/{U}", None, AUTHORS),
    ("POST", f"/courses/{C}/modules", {"title": "Basics"}, AUTHORS),
    ("PUT", f"/courses/{C}/modules/{M}", {"title": "Basics"}, AUTHORS),
    ("PUT", f"/courses/{C}/module-order", {"module_ids": [M]}, AUTHORS),
    ("DELETE", f"/courses/{C}/modules/{M}", None, AUTHORS),
    ("POST", f"/courses/{C}/modules/{M}/lessons", {"title": "Checks"}, AUTHORS),
    ("PUT", f"/courses/{C}/lessons/{L}", {"title": "Checks", "duration_minutes": 5}, AUTHORS),
    ("PUT", f"/courses/{C}/modules/{M}/lesson-order", {"lesson_ids": [L]}, AUTHORS),
    ("DELETE", f"/courses/{C}/lessons/{L}", None, AUTHORS),
    ("POST", f"/courses/{C}/lessons/{L}/content", {"content": {}}, AUTHORS),
    ("POST", f"/courses/{C}/lessons/{L}/content/1/restore", None, AUTHORS),
    ("POST", f"/courses/{C}/submit", None, AUTHORS),
    ("POST", f"/courses/{C}/revisions", {"kind": "minor"}, AUTHORS),
    ("POST", f"/courses/{C}/publish", None, MANAGERS),
    ("POST", f"/courses/{C}/unpublish", None, MANAGERS),
    ("POST", f"/courses/{C}/archive", None, MANAGERS),
    ("PUT", f"/reviews/{R}/reviewer", {"reviewer_id": U}, MANAGERS),
    ("POST", f"/reviews/{R}/comments", {"text": "Looks good"}, DISCUSSANTS),
    ("POST", f"/reviews/{R}/approve", {}, REVIEWERS),
    ("POST", f"/reviews/{R}/reject", {"feedback": "More examples"}, REVIEWERS),
    ("POST", f"/courses/{C}/enrollments", {}, LEARNERS),
    ("POST", f"/courses/{C}/enrollments/completed-lessons", {"lesson_id": L}, LEARNERS),
    (
        "POST",
        f"/courses/{C}/enrollments/quiz-submissions",
        {"lesson_id": L, "assessment_id": "q1", "answers": {"a": [0]}},
        LEARNERS,
    ),
    ("POST", f"/courses/{C}/enrollments/drop", {}, LEARNERS),
    ("POST", f"/courses/{C}/enrollments/archive", {}, LEARNERS),
    ("POST", f"/courses/{C}/enrollments/unarchive", {}, LEARNERS),
    ("POST", "/cohorts", {"course_id": C, "name": "March", "starts_on": "2026-03-02"}, MANAGERS),
    ("PUT", f"/cohorts/{K}/students/{U}", None, MANAGERS),
    ("DELETE", f"/cohorts/{K}/students/{U}", None, MANAGERS),
    ("PUT", f"/cohorts/{K}/trainers/{U}", None, MANAGERS),
    ("DELETE", f"/cohorts/{K}/trainers/{U}", None, MANAGERS),
    ("POST", f"/courses/{C}/students/{U}/feedback", {"lesson_id": L, "text": "Check the forks first"}, COACHES),
    ("POST", "/paths", PATH, MANAGERS),
    ("PUT", f"/paths/{P}", PATH, MANAGERS),
    ("POST", "/organisations", {"name": "Other"}, PLATFORM),
    ("POST", "/platform-admins", {"user_id": U}, PLATFORM),
]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


@pytest.fixture
async def live(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    """The gateway with the relay and projectors, for the queries."""
    async with relay(settings), projectors(settings), running_gateway(settings) as a:
        yield a


async def _callers(api: Api) -> tuple[UUID, dict[str, dict[str, str]]]:
    org, admin = await api.organisation()
    callers = {"org_admin": admin}
    for role in ROLES:
        if role not in ("org_admin", "platform_admin"):
            callers[role] = (await api.member(org, admin, role))[1]
    _, root = await api.platform_admin()
    callers["platform_admin"] = api.bearer(await api.login(root, org))
    return org, callers


async def test_role_endpoint_matrix(api: Api) -> None:
    org, callers = await _callers(api)
    # The organisation's own endpoints join the matrix now that its id is known.
    matrix = [
        *MATRIX,
        ("PATCH", f"/organisations/{org}", {"name": "Renamed"}, ORG_ADMINS),
        ("POST", f"/organisations/{org}/members", {"email": email(), "roles": ["student"]}, ORG_ADMINS),
        ("DELETE", f"/organisations/{org}/members/{U}", None, ORG_ADMINS),
        ("GET", f"/organisations/{org}", None, MEMBER_READERS),
    ]
    wrong: list[str] = []
    for method, path, body, allowed in matrix:
        for role in ROLES:
            r = await api.client.request(method, path, json=body, headers=callers[role])
            denied = r.status_code == 403
            assert r.status_code < 500, (method, path, role, r.text)
            if denied == (role in allowed):
                wrong.append(f"{role} {method} {path} -> {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)


async def test_no_role_no_commands(api: Api) -> None:
    _, address = await api.register()
    headers = api.bearer(await api.login(address))
    for method, path, body, _ in MATRIX:
        r = await api.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 403, (method, path, r.status_code)
    for method, path, body, _ in MATRIX:
        r = await api.client.request(method, path, json=body)
        assert r.status_code == 401, (method, path, r.status_code)


async def test_another_organisation_is_invisible(api: Api) -> None:
    org_a, admin_a = await api.organisation("A")
    org_b, admin_b = await api.organisation("B")
    _, author_b = await api.member(org_b, admin_b, "instructor")
    _, author_a = await api.member(org_a, admin_a, "instructor", "course_manager")
    _, student_a = await api.member(org_a, admin_a, "student")

    r = await api.client.post("/courses", json=DETAILS, headers=author_b)
    assert r.status_code == 201
    course_b = r.json()["id"]
    r = await api.client.post(f"/courses/{course_b}/modules", json={"title": "B1"}, headers=author_b)
    module_b = r.json()["data"]["module_id"]

    for method, path, body, headers in [
        ("PUT", f"/courses/{course_b}/details", DETAILS, author_a),
        ("POST", f"/courses/{course_b}/modules", {"title": "x"}, author_a),
        ("PUT", f"/courses/{course_b}/modules/{module_b}", {"title": "x"}, author_a),
        ("DELETE", f"/courses/{course_b}/draft", None, admin_a),
        ("POST", f"/courses/{course_b}/submit", None, author_a),
        ("POST", f"/courses/{course_b}/publish", None, admin_a),
        ("POST", f"/courses/{course_b}/enrollments", {}, student_a),
        ("GET", f"/organisations/{org_b}", None, admin_a),
        ("PATCH", f"/organisations/{org_b}", {"name": "mine now"}, admin_a),
        ("POST", f"/organisations/{org_b}/members", {"email": email(), "roles": ["student"]}, admin_a),
    ]:
        r = await api.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # The course is untouched, and its own organisation still works on it.
    r = await api.client.post(f"/courses/{course_b}/modules", json={"title": "B2"}, headers=author_b)
    assert r.status_code == 201 and r.json()["version"] == 3


async def test_signing_in_to_an_organisation_one_is_not_in_is_404(api: Api) -> None:
    org_a, _ = await api.organisation("A")
    _, address = await api.register()
    r = await api.client.post(
        "/auth/login", json={"email": address, "password": "correct horse battery staple", "org_id": str(org_a)}
    )
    assert r.status_code == 404


# -- within one organisation: authors, a colleague and a co-author -------------------------


def _authoring(course: str, module: str, lesson: str, someone: UUID) -> list[tuple[str, str, object, int]]:
    """Every authoring command on a draft, in an order in which each one succeeds:
    (method, path, body, status on success)."""
    m2, l2 = str(uuid4()), str(uuid4())
    return [
        ("PUT", f"/courses/{course}/details", {**DETAILS, "title": "Forklifts II"}, 202),
        ("POST", f"/courses/{course}/modules", {"title": "More", "module_id": m2}, 201),
        ("PUT", f"/courses/{course}/modules/{m2}", {"title": "More still"}, 202),
        ("PUT", f"/courses/{course}/module-order", {"module_ids": [m2, module]}, 202),
        ("POST", f"/courses/{course}/modules/{m2}/lessons", {"title": "Chains", "lesson_id": l2}, 201),
        ("PUT", f"/courses/{course}/lessons/{l2}", {"title": "Chains", "duration_minutes": 7}, 202),
        ("PUT", f"/courses/{course}/modules/{m2}/lesson-order", {"lesson_ids": [l2]}, 202),
        ("POST", f"/courses/{course}/lessons/{l2}/content", {"content": CONTENT}, 201),
        ("POST", f"/courses/{course}/lessons/{l2}/content/1/restore", None, 201),
        ("DELETE", f"/courses/{course}/lessons/{l2}", None, 202),
        ("DELETE", f"/courses/{course}/modules/{m2}", None, 202),
        ("PUT", f"/courses/{course}/co-authors/{someone}", None, 202),
        ("DELETE", f"/courses/{course}/co-authors/{someone}", None, 202),
        ("POST", f"/courses/{course}/submit", None, 201),
    ]


NAMING_CO_AUTHORS = "/co-authors/"


async def test_a_draft_is_changed_by_its_authors_and_managers_only(live: Api) -> None:
    api = live
    o = await people(api)
    store = api.services.store
    for who in ("author", "co_author", "manager", "org_admin"):
        course, module, lesson = await draft(api, o)
        r = await api.client.put(f"/courses/{course}/co-authors/{o.ids['co_author']}", headers=o.headers["author"])
        assert r.status_code == 202, r.text
        for method, path, body, ok in _authoring(course, module, lesson, o.ids["colleague"]):
            # The colleague first: refused, and nothing is appended anywhere.
            head = await store.head()
            r = await api.client.request(method, path, json=body, headers=o.headers["colleague"])
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["code"] == "not_an_author"
            assert await store.head() == head, (method, path)
            # Co-authors change the draft but do not name other co-authors.
            expected = 403 if who == "co_author" and NAMING_CO_AUTHORS in path else ok
            r = await api.client.request(method, path, json=body, headers=o.headers[who])
            assert r.status_code == expected, (who, method, path, r.text)
            if expected == 403:
                assert await store.head() == head, (who, method, path)
    # A new revision of a published course, and deleting a draft: the same rule.
    course, _, _ = await draft(api, o)
    await publish(api, o, course)
    head = await store.head()
    r = await api.client.post(f"/courses/{course}/revisions", json={"kind": "minor"}, headers=o.headers["colleague"])
    assert (r.status_code, await store.head()) == (403, head)
    r = await api.client.post(f"/courses/{course}/revisions", json={"kind": "minor"}, headers=o.headers["author"])
    assert r.status_code == 201, r.text
    doomed, _, _ = await draft(api, o)
    head = await store.head()
    r = await api.client.delete(f"/courses/{doomed}/draft", headers=o.headers["colleague"])
    assert (r.status_code, await store.head()) == (403, head)
    r = await api.client.delete(f"/courses/{doomed}/draft", headers=o.headers["author"])
    assert r.status_code == 202, r.text


async def test_students_are_seen_only_by_those_who_teach_them(live: Api) -> None:
    api = live
    o = await people(api)
    ours, _, _ = await draft(api, o, title="Ours")
    r = await api.client.put(f"/courses/{ours}/co-authors/{o.ids['co_author']}", headers=o.headers["author"])
    assert r.status_code == 202, r.text
    await publish(api, o, ours)
    theirs, _, _ = await draft(api, o, by="colleague", title="Theirs")
    await publish(api, o, theirs, by="colleague")
    r = await api.client.post(f"/courses/{ours}/enrollments", json={}, headers=o.headers["student"])
    assert r.status_code == 201, r.text
    r = await api.client.post(f"/courses/{theirs}/enrollments", json={}, headers=o.headers["other_student"])
    assert r.status_code == 201, r.text
    at = r.json()["position"]
    student, other = str(o.ids["student"]), str(o.ids["other_student"])

    async def students(who: str, query: str = "") -> set[str] | int:
        r = await api.client.get(f"/students?position={at}{query}", headers=o.headers[who])
        return {i["student_id"] for i in r.json()["items"]} if r.status_code == 200 else r.status_code

    assert await students("author") == {student}
    assert await students("co_author") == {student}
    assert await students("colleague") == {other}
    assert await students("colleague", f"&course_id={ours}") == set()
    assert await students("manager") == {student, other}
    assert await students("org_admin") == {student, other}
    assert await students("trainer") == set()  # until they train a cohort of the student's
    assert await students("student") == 403
    r = await api.client.post(
        "/cohorts", json={"course_id": ours, "name": "March", "starts_on": "2026-03-02"}, headers=o.headers["manager"]
    )
    assert r.status_code == 201, r.text
    cohort = r.json()["id"]
    r = await api.client.put(f"/cohorts/{cohort}/trainers/{o.ids['trainer']}", headers=o.headers["manager"])
    assert r.status_code == 202, r.text
    r = await api.client.put(f"/cohorts/{cohort}/students/{student}", headers=o.headers["manager"])
    assert r.status_code == 202, r.text
    at = r.json()["position"]
    assert await students("trainer") == {student}

    progress = f"/courses/{ours}/students/{student}/progress?position={at}"
    analytics = f"/courses/{ours}/analytics?position={at}"
    for who, seen in [
        ("author", 200),
        ("co_author", 200),
        ("colleague", 404),
        ("manager", 200),
        ("org_admin", 200),
        ("trainer", 200),
        ("student", 200),
        ("other_student", 404),
    ]:
        r = await api.client.get(progress, headers=o.headers[who])
        assert r.status_code == seen, (who, r.text)
        # A course's measures are for those who write it and the organisation's managers.
        r = await api.client.get(analytics, headers=o.headers[who])
        assert r.status_code == (seen if who not in ("student", "trainer") else 404), (who, r.text)
    # The trainer sees no student outside their cohorts: not their progress, not who they are.
    for path in (f"/courses/{theirs}/students/{other}/progress?position={at}", f"/users/{other}"):
        r = await api.client.get(path, headers=o.headers["trainer"])
        assert r.status_code == 404, (path, r.text)
        r = await api.client.get(f"/users/{student}", headers=o.headers[who])  # the student's identity
        assert r.status_code == seen, (who, r.text)
        # The organisation's measures (its learners at risk among them): managers and admins only.
        r = await api.client.get(f"/analytics/organisation?position={at}", headers=o.headers[who])
        assert r.status_code == (200 if who in ("manager", "org_admin") else 403), (who, r.text)
    # Removing the co-author takes their view of the course's students away.
    r = await api.client.delete(f"/courses/{ours}/co-authors/{o.ids['co_author']}", headers=o.headers["manager"])
    assert r.status_code == 202, r.text
    at = r.json()["position"]
    assert await students("co_author") == set()
    r = await api.client.get(
        f"/courses/{ours}/students/{student}/progress?position={at}", headers=o.headers["co_author"]
    )
    assert r.status_code == 404
