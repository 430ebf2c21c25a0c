"""Organisation API keys for machine clients: created, listed and revoked by org admins (HTTP and
NATS), stored hashed, used as `Authorization: Bearer <key>` on the real NATS server (and HTTP);
revoked, expired, unknown and malformed keys refused with a clear error reply; a revocation is
durable and followed live by every process; no key in any log line."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from psycopg_pool import AsyncConnectionPool
from structlog.testing import capture_logs

from infra.apikeys import ApiKeyRevoked, ApiKeys
from infra.availability import Availability
from infra.blobs.s3 import S3BlobStore
from infra.logging import shared_processors
from infra.settings import Settings
from tests.conftest import NATS_URL
from tests.integration.gateway_harness import Api
from tests.integration.test_messaging import Machine, serving
from tests.integration.test_orders import ORDER
from tests.integration.test_revocations import following


@pytest.fixture
async def nc() -> AsyncIterator[Client]:
    async with await nats.connect(NATS_URL) as client:
        yield client


@pytest.fixture
async def api(settings: Settings, blobs: S3BlobStore, nats_cleanup: Settings, nc: Client) -> AsyncIterator[Api]:
    async with serving(settings, blobs, nc) as a:
        yield a


async def new_key(api: Api, org: uuid.UUID, admin: dict[str, str], role: str = "sales", **extra: Any) -> dict[str, Any]:
    r = await api.client.post(
        f"/organisations/{org}/api-keys", json={"name": "Acme CRM", "role": role} | extra, headers=admin
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def machine(api: Api, nc: Client, key: str) -> Machine:
    return Machine(nc, api.services.settings.subject_prefix, {"Authorization": f"Bearer {key}"})


async def test_a_key_is_shown_once_stored_hashed_and_places_orders_over_nats(api: Api, nc: Client) -> None:
    org, admin = await api.organisation()
    created = await new_key(api, org, admin, expires_in_days=30)
    key, key_id = created["key"], created["key_id"]
    assert key.startswith("cwk_") and created["status"] == "active" and created["role"] == "sales"
    assert created["hint"] == key[-4:]
    shown = await api.client.get(f"/organisations/{org}/api-keys", headers=admin)
    assert shown.status_code == 200 and [i["key_id"] for i in shown.json()["items"]] == [key_id]
    assert "key" not in shown.json()["items"][0] and key.split("_")[-1] not in shown.text
    one = await api.client.get(f"/organisations/{org}/api-keys/{key_id}", headers=admin)  # the Location
    assert one.status_code == 200 and one.json()["name"] == "Acme CRM"
    async with api.services.pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM cw_api_keys WHERE id = %s", [uuid.UUID(key_id)])
        (row,) = await cur.fetchall()
    secret = key.split("_", 2)[2]
    assert all(secret not in str(value) for value in row)
    assert hashlib.sha256(secret.encode()).digest() in [bytes(v) for v in row if isinstance(v, bytes | memoryview)]

    crm = machine(api, nc, key)
    placed = await crm.ask("orders.place", ORDER)
    assert placed.status == 202, placed.body
    events = await api.services.store.read_stream(uuid.UUID(placed.body["id"]))
    assert (events[0].actor_id, events[0].org_id) == (key_id, str(org))  # the key is the actor
    listed = await crm.ask("orders.list", {"position": placed.body["position"]})
    assert [i["order_id"] for i in listed.body["items"]] == [placed.body["id"]]
    # HTTP takes the key too.
    over_http = await api.client.get(f"/orders/{placed.body['id']}", headers=crm.headers)
    assert over_http.status_code == 200, over_http.text


async def test_a_key_acts_with_its_role_in_its_organisation_only(api: Api, nc: Client) -> None:
    org, admin = await api.organisation()
    other_org, other_admin = await api.organisation("Other")
    theirs = machine(api, nc, (await new_key(api, other_org, other_admin))["key"])
    their_order = await theirs.ask("orders.place", ORDER)
    student = machine(api, nc, (await new_key(api, org, admin, role="student"))["key"])
    sales = machine(api, nc, (await new_key(api, org, admin))["key"])
    assert (await student.ask("orders.place", ORDER)).body["code"] == "permission_denied"
    peek = await sales.ask("orders.get", {"order_id": their_order.body["id"], "position": their_order.body["position"]})
    assert (peek.status, peek.body["code"]) == (404, "order_not_found")
    # A key is no admin: it manages no keys, here or elsewhere; nor does a sales member.
    assert (await sales.ask("organisations.api_keys.list", {"org_id": str(org)})).status == 403
    assert (await sales.ask("organisations.api_keys.list", {"org_id": str(other_org)})).status == 404
    _, member = await api.member(org, admin, "sales")
    r = await api.client.post(f"/organisations/{org}/api-keys", json={"name": "x", "role": "sales"}, headers=member)
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    r = await api.client.post(f"/organisations/{org}/api-keys", json={"name": "x", "role": "org_admin"}, headers=admin)
    assert r.status_code == 400  # a machine acts in the organisation, it does not run it


async def test_keys_are_managed_over_nats_and_a_revoked_one_is_refused(api: Api, nc: Client) -> None:
    org, admin = await api.organisation()
    prefix = api.services.settings.subject_prefix
    org_admin = Machine(nc, prefix, admin)
    made = await org_admin.ask("organisations.api_keys.create", {"org_id": str(org), "name": "CRM", "role": "sales"})
    assert made.status == 201, made.body
    crm = machine(api, nc, made.body["key"])
    assert (await crm.ask("orders.list")).status == 200
    revoked = await org_admin.ask("organisations.api_keys.revoke", {"org_id": str(org), "key_id": made.body["key_id"]})
    assert revoked.status == 200, revoked.body
    refused = await crm.ask("orders.place", ORDER)
    assert (refused.status, refused.body["code"]) == (401, "api_key_revoked")
    assert refused.body["detail"] == "the API key was revoked"
    listed = await org_admin.ask("organisations.api_keys.list", {"org_id": str(org), "include_revoked": True})
    assert [(i["key_id"], i["status"]) for i in listed.body["items"]] == [(made.body["key_id"], "revoked")]
    assert (await org_admin.ask("organisations.api_keys.list", {"org_id": str(org)})).body["items"] == []
    gone = await org_admin.ask("organisations.api_keys.revoke", {"org_id": str(org), "key_id": str(uuid.uuid4())})
    assert (gone.status, gone.body["code"]) == (404, "api_key_not_found")


async def test_expired_unknown_malformed_and_wrong_keys_are_refused_at_once(api: Api, nc: Client) -> None:
    org, admin = await api.organisation()
    expired = await api.services.api_keys.create(
        org, "Old CRM", "sales", datetime.now(UTC) - timedelta(minutes=1), uuid.uuid4()
    )
    good = (await new_key(api, org, admin))["key"]
    cases = {
        expired.key: ("api_key_expired", "the API key expired at"),
        "cwk_" + uuid.uuid4().hex + "_" + "x" * 43: ("invalid_api_key", "the API key is not valid"),
        "cwk_nothex_" + "x" * 43: ("invalid_api_key", "the API key is malformed"),
        good[:-4] + "abcd": ("invalid_api_key", "the API key is not valid"),
    }
    for key, (code, detail) in cases.items():
        reply = await machine(api, nc, key).ask("orders.place", ORDER)
        assert (reply.status, reply.body["code"]) == (401, code), reply.body
        assert reply.body["detail"].startswith(detail)
        r = await api.client.get("/orders", headers={"Authorization": f"Bearer {key}"})
        assert (r.status_code, r.json()["code"]) == (401, code)


async def refused(keys: ApiKeys, key: str) -> None:
    async with asyncio.timeout(10):
        while True:
            try:
                await keys.verify(key)
            except ApiKeyRevoked:
                return
            await asyncio.sleep(0.01)


async def test_a_revocation_reaches_every_process_and_survives_a_restart(database: str) -> None:
    async with AsyncConnectionPool(database, min_size=1, max_size=4, kwargs={"autocommit": True}) as pool:

        def process() -> ApiKeys:
            return ApiKeys(pool, database, Availability("postgres"))

        here, there = process(), process()
        made = await here.create(uuid.uuid4(), "CRM", "sales", datetime.now(UTC) + timedelta(days=1), uuid.uuid4())
        # A poll far longer than the test: only the notification can bring the revocation in time.
        async with following(there, poll_seconds=3600):
            assert (await there.verify(made.key)).key_id == made.key_id
            with there.watching(made.key_id) as ended:  # a notification stream the key opened there
                assert not ended.is_set()
                assert await here.revoke(made.org_id, made.key_id, uuid.uuid4()) is not None
                await refused(there, made.key)
                assert ended.is_set()
        # A process started afterwards reads it from PostgreSQL.
        with pytest.raises(ApiKeyRevoked):
            await process().verify(made.key)


async def test_no_key_reaches_a_log_line(api: Api, nc: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    org, admin = await api.organisation()
    with capture_logs(processors=shared_processors()) as lines:
        made = await new_key(api, org, admin)
        crm = machine(api, nc, made["key"])
        assert (await crm.ask("orders.place", ORDER)).status == 202
        await api.client.delete(f"/organisations/{org}/api-keys/{made['key_id']}", headers=admin)
        assert (await crm.ask("orders.place", ORDER)).status == 401
        assert (await crm.ask("orders.place", raw=b"{")).status == 401
    secret = made["key"].split("_", 2)[2]
    text = "\n".join(str(line) for line in lines) + caplog.text
    assert lines and secret not in text
