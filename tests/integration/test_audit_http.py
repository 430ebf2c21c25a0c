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
