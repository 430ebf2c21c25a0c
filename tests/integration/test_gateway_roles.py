"""Who may do what: the role x endpoint matrix, and organisations that cannot see each other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from infra.settings import Settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, email, running_gateway

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

C, M, L, R, U = (str(uuid4()) for _ in range(5))
DETAILS = {"title": "Forklifts", "cefr_level": "B1", "category": "safety"}
# (method, path, body, roles allowed): the specification, written out rather than derived.
MATRIX: list[tuple[str, str, object, set[str]]] = [
    ("POST", "/courses", DETAILS, AUTHORS),
    ("PUT", f"/courses/{C}/details", DETAILS, AUTHORS),
    ("DELETE", f"/courses/{C}/draft", None, AUTHORS),
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
    ("POST", "/organisations", {"name": "Other"}, PLATFORM),
    ("POST", "/platform-admins", {"user_id": U}, PLATFORM),
]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
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
