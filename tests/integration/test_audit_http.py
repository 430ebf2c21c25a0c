"""The audit over HTTP: auditors read their organisation's history, never another's; only
platform admins verify the whole log; bad input is a problem, not a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from gateway.audit.export import check_export
from infra.settings import Settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, running_gateway

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


async def test_auditors_replay_their_organisation_and_nothing_else(api: Api) -> None:
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    _, auditor = await api.member(org, admin, "auditor")
    _, student = await api.member(org, admin, "student")
    created = await api.client.post(
        "/courses", json={"title": "Forklifts", "cefr_level": "B1", "category": "safety"}, headers=author
    )
    course = created.json()["id"]
    await api.client.put(
        f"/courses/{course}/details",
        json={"title": "Forklifts, safely", "cefr_level": "B1", "category": "safety"},
        headers=author,
    )

    history = await api.client.get(f"/audit/streams/{course}/history", headers=auditor)
    assert history.status_code == 200, history.text
    assert [e["event_type"] for e in history.json()["events"]] == ["CourseCreated", "CourseDetailsEdited"]
    first = await api.client.get(f"/audit/streams/{course}/state", params={"at": "1"}, headers=auditor)
    assert first.status_code == 200 and first.json()["state"]["details"]["title"] == "Forklifts"
    changed = await api.client.get(
        f"/audit/streams/{course}/diff", params={"before": "1", "after": "2"}, headers=auditor
    )
    assert changed.json()["changes"] == [{"path": "details/title", "before": "Forklifts", "after": "Forklifts, safely"}]
    verified = await api.client.get(f"/audit/streams/{course}/verify", headers=auditor)
    assert verified.status_code == 200 and verified.json()["breaks"] == []
    assert (await api.client.get(f"/audit/organisations/{org}/verify", headers=auditor)).status_code == 200
    exported = await api.client.get(f"/audit/streams/{course}/export", headers=auditor)
    assert exported.status_code == 200 and check_export(exported.content.splitlines(keepends=True)).intact
    records = await api.client.get(f"/audit/streams/{course}/xapi", headers=auditor)
    assert records.status_code == 200 and records.json() == []  # nobody enrolled yet
    assert (await api.client.get(f"/audit/organisations/{org}/xapi", headers=auditor)).status_code == 200

    # Read-only and scoped: students may not audit, the whole log is for platform admins, another
    # organisation's auditor sees no such stream, and bad input is a 400 or a 404.
    assert (await api.client.get(f"/audit/streams/{course}/history", headers=student)).status_code == 403
    assert (await api.client.get("/audit/log/verify", headers=auditor)).status_code == 403
    other, other_admin = await api.organisation("Other")
    _, outsider = await api.member(other, other_admin, "auditor")
    assert (await api.client.get(f"/audit/streams/{course}/history", headers=outsider)).status_code == 404
    assert (await api.client.get(f"/audit/organisations/{org}/verify", headers=outsider)).status_code == 403
    assert (await api.client.get(f"/audit/streams/{uuid4()}/state", headers=auditor)).status_code == 404
    assert (
        await api.client.get(f"/audit/streams/{course}/state", params={"at": "soon"}, headers=auditor)
    ).status_code == 400
    assert (await api.client.get("/audit/streams/not-an-id/history", headers=auditor)).status_code in (400, 404)
    assert (await api.client.post(f"/audit/streams/{course}/history", headers=auditor)).status_code == 405

    _, root = await api.platform_admin()
    platform = api.bearer(await api.login(root))
    whole = await api.client.get("/audit/log/verify", headers=platform)
    assert whole.status_code == 200 and whole.json()["breaks"] == [] and whole.json()["events"] > 2
    assert (await api.client.get(f"/audit/streams/{course}/history", headers=platform)).status_code == 200


async def test_a_platform_auditor_audits_every_organisation_and_changes_nothing(api: Api) -> None:
    """Granted by a platform admin (POST /platform-auditors): every organisation's history and the
    whole log; no command; an organisation's auditor sees only theirs; revoked, it stops at once."""
    courses = []
    auditors = []
    for name in ("Acme", "Globex"):
        org, admin = await api.organisation(name)
        _, author = await api.member(org, admin, "instructor")
        _, auditor = await api.member(org, admin, "auditor")
        created = await api.client.post(
            "/courses", json={"title": f"{name} forklifts", "cefr_level": "B1", "category": "safety"}, headers=author
        )
        assert created.status_code == 201, created.text
        courses.append(created.json()["id"])
        auditors.append((org, admin, auditor))

    user_id, address = await api.register(name="Platform Auditor")
    _, root = await api.platform_admin()
    platform_admin = api.bearer(await api.login(root))
    (acme, acme_admin, acme_auditor), (globex, _, _) = auditors
    # Only a platform admin grants it: not an organisation's admin, not an auditor.
    for refused in (acme_admin, acme_auditor):
        r = await api.client.post("/platform-auditors", json={"user_id": str(user_id)}, headers=refused)
        assert r.status_code == 403, r.text
    granted = await api.client.post("/platform-auditors", json={"user_id": str(user_id)}, headers=platform_admin)
    assert granted.status_code == 202, granted.text
    again = await api.client.post("/platform-auditors", json={"user_id": str(user_id)}, headers=platform_admin)
    assert (again.status_code, again.json()["code"]) == (409, "already_platform_auditor")

    tokens = await api.login(address)
    platform_auditor = api.bearer(tokens)
    me = await api.client.get("/auth/me", headers=platform_auditor)
    assert "platform_auditor" in me.json()["roles"]
    for course in courses:
        seen = await api.client.get(f"/audit/streams/{course}/history", headers=platform_auditor)
        assert seen.status_code == 200 and seen.json()["events"][0]["event_type"] == "CourseCreated"
    for org in (acme, globex):
        assert (await api.client.get(f"/audit/organisations/{org}/verify", headers=platform_auditor)).status_code == 200
    whole = await api.client.get("/audit/log/verify", headers=platform_auditor)
    assert whole.status_code == 200 and whole.json()["breaks"] == []

    # An organisation's auditor: their organisation only.
    assert (await api.client.get(f"/audit/streams/{courses[0]}/history", headers=acme_auditor)).status_code == 200
    assert (await api.client.get(f"/audit/streams/{courses[1]}/history", headers=acme_auditor)).status_code == 404
    assert (await api.client.get(f"/audit/organisations/{globex}/verify", headers=acme_auditor)).status_code == 403
    # Nobody else audits: an organisation's admin, an author.
    assert (await api.client.get(f"/audit/streams/{courses[0]}/history", headers=acme_admin)).status_code == 403

    # Read-only: a platform auditor sends no command and reads no other organisation's data.
    create = {"title": "Sneaky", "cefr_level": "B1", "category": "safety"}
    assert (await api.client.post("/courses", json=create, headers=platform_auditor)).status_code == 403
    assert (await api.client.post("/organisations", json={"name": "X"}, headers=platform_auditor)).status_code == 403
    assert (await api.client.get(f"/organisations/{acme}", headers=platform_auditor)).status_code == 404

    # Revoked: the sign-in ends, and a token still about no longer reaches past the organisation.
    revoked = await api.client.delete(f"/platform-auditors/{user_id}", headers=platform_admin)
    assert revoked.status_code == 202, revoked.text
    assert (await api.client.get("/audit/log/verify", headers=platform_auditor)).status_code == 401
    assert (await api.client.delete(f"/platform-auditors/{user_id}", headers=platform_admin)).status_code == 409
    fresh = api.bearer(await api.login(address))
    assert (await api.client.get(f"/audit/streams/{courses[0]}/history", headers=fresh)).status_code == 403
