"""Labs under `coursewright up`: the gateway processes run no sandboxes; they reach the `labs`
process over NATS (request/reply, a run's output relayed to server-sent events). The real
thing: `up` as a subprocess on the real servers and the test's own Docker engine."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import nats

from gateway.messaging.asyncapi import asyncapi
from gateway.messaging.endpoints import endpoints
from tests.asyncapi_spec import value_errors
from tests.conftest import NATS_URL
from tests.integration.docker_support import CACHE_DIR, docker_url
from tests.integration.test_cli_up import up_env
from tests.integration.test_labs_http import LAB, SOLUTION, events
from tests.integration.up_support import START_TIMEOUT, STOP_TIMEOUT, start_up

__all__ = ["docker_url", "up_env"]
PASSWORD = "correct horse battery"


class Client:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=120)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(path, json=body if body is not None else {}, headers=headers)

    def user(self, email: str, org: str | None = None) -> dict[str, str]:
        r = self.post("/auth/register", {"email": email, "password": PASSWORD, "name": "Someone"})
        assert r.status_code in (201, 409), r.text
        login: dict[str, Any] = {"email": email, "password": PASSWORD} | ({"org_id": org} if org else {})
        r = self.post("/auth/login", login)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def published_lab(api: Client, admin_email: str) -> tuple[str, str, dict[str, str]]:
    """An organisation with a published course whose lesson has LAB and an enrolled student."""
    root = api.user(admin_email)
    r = api.post("/organisations", {"name": "Acme", "admin_email": admin_email}, root)
    assert r.status_code == 201, r.text
    org = r.json()["id"]
    admin = api.user(admin_email, org)
    people = {}
    for role in ("instructor", "course_manager", "student"):
        email = f"{role}-{secrets.token_hex(4)}@example.com"
        api.user(email)
        assert api.post(f"/organisations/{org}/members", {"email": email, "roles": [role]}, admin).status_code == 201
        people[role] = api.user(email, org)
    author, manager, student = people["instructor"], people["course_manager"], people["student"]
    cid = api.post("/courses", {"title": "Python", "cefr_level": "B1", "category": "code"}, author).json()["id"]
    module = api.post(f"/courses/{cid}/modules", {"title": "Basics"}, author).json()["data"]["module_id"]
    lesson = api.post(f"/courses/{cid}/modules/{module}/lessons", {"title": "Add"}, author).json()["data"]["lesson_id"]
    assert api.post(f"/courses/{cid}/lessons/{lesson}/lab", {"lab": LAB}, author).status_code == 201
    review = api.post(f"/courses/{cid}/submit", None, author).json()["data"]["review_id"]
    assert api.post(f"/reviews/{review}/approve", {}, manager).status_code == 202
    assert api.post(f"/courses/{cid}/publish", None, manager).status_code == 202
    assert api.post(f"/courses/{cid}/enrollments", {}, student).status_code == 201
    return cid, lesson, student


async def run_over_nats(prefix: str, session_id: str, headers: dict[str, str]) -> tuple[list[bytes], Any]:
    """labs.run_lab on the messaging API with Cw-Output-Subject: the chunks, then the reply."""
    nc = await nats.connect(NATS_URL)
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        body = {"session_id": session_id, "command": ["python3", "-c", "print(3); print(4)"]}
        asked = headers | {"Cw-Output-Subject": inbox}
        msg = await nc.request(f"{prefix}.api.v1.labs.run_lab", json.dumps(body).encode(), timeout=120, headers=asked)
        chunks = []
        document = asyncapi(prefix, endpoints())  # the stream is as its channel documents it
        while True:
            got = await sub.next_msg(timeout=30)
            if (got.headers or {}).get("Cw-Lab-End"):
                end = "#/components/messages/LabOutputEnd"
                assert value_errors(document, f"{end}/headers", got.headers) == [] and got.data == b""
                break
            assert value_errors(document, "#/components/messages/LabOutputChunk/payload", got.data.decode()) == []
            chunks.append(got.data)
        return chunks, json.loads(msg.data)
    finally:
        await nc.close()


def test_labs_over_http_under_up_reach_the_runner_process(
    up_env: tuple[dict[str, str], str], docker_url: str, tmp_path: Path
) -> None:
    env, _ = up_env
    admin_email = f"admin-{secrets.token_hex(4)}@example.com"
    env |= {
        "CW_DOCKER_URL": docker_url,
        "CW_LAB_CACHE_DIR": str(CACHE_DIR),
        "CW_LAB_RUNNER_NAME": f"up-{secrets.token_hex(4)}",
        "CW_HTTP_WORKERS": "1",
        "CW_BOOTSTRAP_ADMIN_EMAIL": admin_email,
    }
    proc, out = start_up(env, tmp_path)
    try:
        assert out.wait_for('"labs.serving"', START_TIMEOUT * 3), f"labs never served:\n{out.rest()}"
        assert out.wait_for('"http.serving"', START_TIMEOUT), f"gateway never served:\n{out.rest()}"
        api = Client(f"http://127.0.0.1:{env['CW_HTTP_PORT']}")
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # the socket is bound before uvicorn's start-up finishes
            try:
                api.http.get("/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"gateway never answered:\n{out.rest()}"
                time.sleep(0.2)
        cid, lesson, student = published_lab(api, admin_email)

        r = api.post("/labs/sessions", {"course_id": cid, "lesson_id": lesson}, student)
        assert r.status_code == 201, r.text
        session = r.headers["location"]
        r = api.post(f"{session}/files", {"files": [{"path": "main.py", "content": SOLUTION}]}, student)
        assert r.status_code == 202, r.text
        r = api.post(f"{session}/runs", {}, student)
        assert r.status_code == 200 and r.json()["output"] == "ééé 5\n", r.text
        r = api.post(f"{session}/runs/stream", {"command": ["python3", "-c", "print(1); print(2)"]}, student)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        streamed = events(r.text)
        assert "".join(d for e, d in streamed if e == "output").replace("\n", "") == "12"
        assert streamed[-1][0] == "result" and json.loads(streamed[-1][1])["exit_code"] == 0
        r = api.post(f"{session}/grade", None, student)
        assert r.status_code == 200 and r.json() | {"passed": True, "lesson_completed": True} == r.json(), r.text
        r = api.http.get(session, headers=student)
        assert r.status_code == 200 and r.json()["passed"] is True and "assert add" not in r.text
        # The messaging API's labs.* take the same way; a run streams to the client's inbox.
        chunks, reply = asyncio.run(run_over_nats(env["CW_SUBJECT_PREFIX"], session.rsplit("/", 1)[1], student))
        assert b"".join(chunks).replace(b"\n", b"") == b"34" and reply["exit_code"] == 0, (chunks, reply)
        # A refusal from the runner process is the same problem as in process.
        r = api.post(f"{session}/pause", None, student)
        assert r.status_code == 202
        r = api.post(f"{session}/runs", {}, student)
        assert (r.status_code, r.json()["code"]) == (409, "lab_session_state"), r.text
        r = api.post("/labs/sessions", {"course_id": cid, "lesson_id": lesson}, student)
        assert r.status_code == 409, r.text  # a session of this lesson runs already
        assert api.post(f"{session}/stop", None, student).status_code == 202

        proc.send_signal(signal.SIGINT)
        code = proc.wait(STOP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = out.rest()
    assert code == 0, log
    assert "Traceback" not in log
