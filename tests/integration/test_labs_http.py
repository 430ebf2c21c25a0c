"""Labs over HTTP on the composition root and a real Docker engine: author a lab, a student runs
it (JSON and server-sent events), grades it, and the lesson counts as completed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from infra.settings import Settings
from labrunner.runner import LabRunner
from tests.integration.docker_support import CACHE_DIR, docker_url
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, running_gateway
from tests.integration.projections_support import projectors, relay, wait_until

__all__ = ["docker_url"]
pytestmark = QUERIES_DEPRECATIONS

LAB = {
    "environment": "python",
    "run_command": ["python3", "main.py"],
    "grading_command": ["python3", "grade.py"],
    "starter_files": [{"path": "main.py", "content": "def add(a, b):\n    return 0\n"}],
    "grading_files": [{"path": "grade.py", "content": "from main import add\nassert add(2, 3) == 5\n"}],
    "limits": {"run_seconds": 20, "memory_mb": 128},
}
SOLUTION = "def add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n    print('é' * 3, add(2, 3))\n"


@pytest.fixture
async def api(settings: Settings, docker_url: str) -> AsyncIterator[Api]:
    name = f"http-{secrets.token_hex(4)}"
    async with running_gateway(settings, docker_url=docker_url, lab_cache_dir=CACHE_DIR, lab_runner_name=name) as a:
        yield a
        assert a.services.labs is not None
        await a.services.labs.shutdown()


async def published_lab(api: Api, lab: dict[str, Any] = LAB) -> tuple[str, str, dict[str, Any], dict[str, str]]:
    """A published course whose lesson has LAB: (course id, lesson id, org admin headers, student headers)."""
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    _, manager = await api.member(org, admin, "course_manager")
    _, student = await api.member(org, admin, "student")
    post = api.client.post
    details = {"title": "Python", "cefr_level": "B1", "category": "code"}
    cid = (await post("/courses", json=details, headers=author)).json()["id"]
    module = (await post(f"/courses/{cid}/modules", json={"title": "Basics"}, headers=author)).json()["data"][
        "module_id"
    ]
    r = await post(f"/courses/{cid}/modules/{module}/lessons", json={"title": "Add"}, headers=author)
    lesson = r.json()["data"]["lesson_id"]
    r = await post(f"/courses/{cid}/lessons/{lesson}/lab", json={"lab": lab}, headers=author)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/courses/{cid}/lessons/{lesson}/content/1"
    review = (await post(f"/courses/{cid}/submit", headers=author)).json()["data"]["review_id"]
    assert (await post(f"/reviews/{review}/approve", json={}, headers=manager)).status_code == 202
    assert (await post(f"/courses/{cid}/publish", headers=manager)).status_code == 202
    assert (await post(f"/courses/{cid}/enrollments", json={}, headers=student)).status_code == 201
    return cid, lesson, admin, student


def events(stream: str) -> list[tuple[str, str]]:
    """(event, data) of a server-sent event stream."""
    out = []
    for block in stream.replace("\r\n", "\n").split("\n\n"):
        fields = [line.split(": ", 1) for line in block.splitlines() if ": " in line]
        kinds = [v for k, v in fields if k == "event"]
        if kinds:
            out.append((kinds[0], "\n".join(v for k, v in fields if k == "data")))
    return out


async def test_a_student_passes_a_lab_over_http(api: Api) -> None:
    cid, lesson, admin, student = await published_lab(api)
    post = api.client.post
    r = await post("/labs/sessions", json={"course_id": cid, "lesson_id": lesson}, headers=student)
    assert r.status_code == 503 and r.json()["code"] == "lab runner_unavailable"  # not opened yet
    assert api.services.labs is not None
    await api.services.labs.open()

    r = await post("/labs/sessions", json={"course_id": cid, "lesson_id": lesson}, headers=student)
    assert r.status_code == 201, r.text
    session = r.headers["location"]
    r = await post(f"{session}/grade", headers=student)
    assert r.status_code == 200 and r.json()["passed"] is False and r.json()["run"]["output"] is None

    r = await post(f"{session}/files", json={"files": [{"path": "main.py", "content": SOLUTION}]}, headers=student)
    assert r.status_code == 202
    r = await post(f"{session}/runs", json={}, headers=student)
    assert r.status_code == 200 and r.json()["output"] == "ééé 5\n" and r.json()["exit_code"] == 0

    r = await post(f"{session}/runs/stream", json={"command": ["python3", "-c", "print(1); print(2)"]}, headers=student)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    streamed = events(r.text)
    assert "".join(d for e, d in streamed if e == "output").replace("\n", "") == "12"
    assert streamed[-1][0] == "result" and json.loads(streamed[-1][1])["exit_code"] == 0

    r = await post(f"{session}/grade", headers=student)
    assert r.status_code == 200 and r.json() == r.json() | {"passed": True, "lesson_completed": True}

    r = await api.client.get(session, headers=student)
    assert r.status_code == 200
    view = r.json()
    assert [f["path"] for f in view["files"]] == ["main.py"]  # the hidden tests are not shown
    assert "grade.py" not in r.text and "assert add" not in r.text and view["passed"] is True
    assert [(x["grading"], x["exit_code"]) for x in view["runs"]] == [(True, 1), (False, 0), (False, 0), (True, 0)]

    # The organisation admin sees it too; a trainer once they train the student's cohort.
    r = await api.client.get(session, headers=admin)
    assert r.status_code == 200
    me = (await api.client.get("/auth/me", headers=student)).json()
    org, student_id = me["org_id"], me["user_id"]
    trainer_id, trainer = await api.member(org, admin, "trainer")
    assert (await api.client.get(session, headers=trainer)).status_code == 404
    cohort = {"course_id": cid, "name": "May", "starts_on": "2026-05-04"}
    cohort_id = (await post("/cohorts", json=cohort, headers=admin)).json()["id"]
    assert (await api.client.put(f"/cohorts/{cohort_id}/trainers/{trainer_id}", headers=admin)).status_code == 202
    assert (await api.client.put(f"/cohorts/{cohort_id}/students/{student_id}", headers=admin)).status_code == 202
    assert (await api.client.get(session, headers=trainer)).status_code == 200

    r = await post(f"{session}/pause", headers=student)
    assert r.status_code == 202
    r = await post(f"{session}/runs", json={}, headers=student)
    assert r.status_code == 409 and r.json()["code"] == "lab_session_state"
    assert (await post(f"{session}/resume", headers=student)).status_code == 202
    assert (await post(f"{session}/stop", headers=student)).status_code == 202
    r = await api.client.get(session, headers=student)
    assert r.json()["status"] == "stopped"


async def test_bad_lab_requests_are_problems(api: Api) -> None:
    cid, lesson, _, student = await published_lab(api)
    assert api.services.labs is not None
    await api.services.labs.open()
    post = api.client.post
    r = await post(f"/courses/{cid}/lessons/{lesson}/lab", json={"lab": LAB | {"network": "yes"}}, headers=student)
    assert r.status_code in (400, 403)
    r = await api.client.get("/labs/sessions/not-a-uuid", headers=student)
    assert r.status_code in (400, 404)
    r = await api.client.get("/labs/sessions/00000000-0000-4000-8000-000000000000", headers=student)
    assert r.status_code == 404
    r = await post("/labs/sessions", json={"course_id": cid, "lesson_id": lesson}, headers=student)
    session = r.headers["location"]
    r = await post(f"{session}/files", json={"files": [{"path": "../escape.py", "content": "x"}]}, headers=student)
    assert r.status_code == 400
    other_org, other_admin = await api.organisation("Other")
    _, stranger = await api.member(other_org, other_admin, "student")
    r = await api.client.get(session, headers=stranger)
    assert r.status_code == 404


async def test_an_idle_lab_tells_its_student_before_it_expires(
    settings: Settings, docker_url: str, nats_cleanup: Settings
) -> None:
    """In real time, with the runner's reaper loop running: a lab idle for half its one minute
    (the warning's lead capped there) records LabSessionExpiring, and the student finds
    `lab_expiring` in their feed and, having asked for it by mail, in the mail outbox."""
    name = f"expiring-{secrets.token_hex(4)}"
    one_minute = LAB | {"limits": {**LAB["limits"], "idle_minutes": 1}}
    async with (
        running_gateway(
            settings,
            docker_url=docker_url,
            lab_cache_dir=CACHE_DIR,
            lab_runner_name=name,
            lab_expiry_warning_seconds=45,
        ) as api,
        relay(settings),
        projectors(settings, "notifications", cache=api.root.cache),
    ):
        labs = api.services.labs
        assert labs is not None
        reaper = asyncio.create_task(labs.run_forever())
        try:
            cid, lesson, _, student = await published_lab(api, lab=one_minute)
            me = (await api.client.get("/auth/me", headers=student)).json()
            r = await api.client.put(
                "/me/notifications/preferences/lab_expiring", json={"in_app": True, "email": True}, headers=student
            )
            assert r.status_code == 202, r.text
            await wait_until(lambda: _opened(labs), what="the runner open")
            r = await api.client.post("/labs/sessions", json={"course_id": cid, "lesson_id": lesson}, headers=student)
            assert r.status_code == 201, r.text
            session = r.json()["id"]

            async def expiring() -> dict[str, Any] | None:
                r = await api.client.get("/me/notifications", headers=student)
                return next((i for i in r.json()["items"] if i["kind"] == "lab_expiring"), None)

            async def told() -> bool:
                return await expiring() is not None

            await wait_until(told, within=90, what="the lab_expiring notification")
            item = await expiring()
            assert item is not None and item["link"] == f"/labs/sessions/{session}"
            assert item["data"]["session_id"] == session and item["data"]["course_id"] == cid
            assert "will be stopped at" in item["body"] and item["data"]["stops_at"]
            async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
                cur = await conn.execute("SELECT subject FROM cw_mail_outbox WHERE recipient = %s", [me["email"]])
                assert [row[0] for row in await cur.fetchall()] == ["Your lab session is about to expire"]
            stored = await api.services.store.read_stream(UUID(session))
            assert [e.event_type for e in stored].count("LabSessionExpiring") == 1
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper


async def _opened(labs: LabRunner) -> bool:
    return labs.available
