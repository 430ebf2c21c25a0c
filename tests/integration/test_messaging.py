"""The NATS messaging API against the real NATS server: commands and queries, errors as problem
replies (never a timeout), authentication and roles, idempotent replay, discovery and stats,
two services in one queue group, and the AsyncAPI document matching what the service announces."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import sys
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client

from commands.context import Context
from commands.documents import SopDocuments
from gateway.audit.export import InclusionProof, check_export, proof_problem
from gateway.audit.sealer import Sealer
from gateway.messaging.asyncapi import asyncapi, subjects
from gateway.messaging.endpoints import endpoints
from gateway.messaging.push import CONSUMER as PUSH_CONSUMER
from gateway.messaging.serve import serve_messaging
from gateway.messaging.service import STATUS_HEADER
from gateway.order_client import OrderClient
from infra.blobs.s3 import S3BlobStore
from infra.devprocess import free_port
from infra.eventlog.seals import SealKey
from infra.settings import Settings
from projections.registry import PROJECTIONS
from schemas.orders import INLINE_DOCUMENT_BYTES, CancelOrder
from tests.asyncapi_spec import spec_errors, value_errors
from tests.conftest import NATS_URL, S3Server, blob_store, delete_event_streams, make_settings, service_env
from tests.integration.gateway_harness import Api, running_gateway
from tests.integration.projections_support import projectors, relay, wait_until
from tests.integration.test_orders import MD, ORDER
from tests.ports import make_ports

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Machine:
    """A sales system on the NATS API with a bearer token."""

    nc: Client
    prefix: str
    headers: dict[str, str]

    async def ask(self, subject: str, body: Any = None, *, raw: bytes | None = None, **headers: str) -> Reply:
        data = raw if raw is not None else json.dumps(body or {}).encode()
        msg = await self.nc.request(f"{self.prefix}.api.v1.{subject}", data, timeout=30, headers=self.headers | headers)
        got = dict(msg.headers or {})
        return Reply(int(got[STATUS_HEADER]), json.loads(msg.data), got)


async def discover(nc: Client, verb: str, prefix: str) -> list[dict[str, Any]]:
    """The answers of every messaging service of this system (`prefix`) to $SRV.<verb>: each
    service answers once; services of other systems on the same server are left out."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        await nc.publish(f"$SRV.{verb}.coursewright", b"", reply=inbox)
        await nc.flush()
        answers = []
        with contextlib.suppress(nats.errors.TimeoutError):
            while True:
                msg = await sub.next_msg(timeout=0.5)
                if msg.data:  # an empty message is NATS's "no responders"
                    answers.append(json.loads(msg.data))
        return [a for a in answers if a.get("metadata", {}).get("prefix") == prefix]
    finally:
        await sub.unsubscribe()


async def push_consumer_exists(nc: Client, settings: Settings) -> bool:
    """Whether the order push's durable consumer exists (from then on, every order event is pushed)."""
    try:
        await nc.jetstream().consumer_info(settings.events_stream, PUSH_CONSUMER)
    except nats.js.errors.NotFoundError:
        return False
    return True


@contextlib.asynccontextmanager
async def messaging(api: Api, nc: Client, running: int = 0) -> AsyncIterator[None]:
    """One more messaging service on the gateway's services, like a `messaging` component;
    ready once `running + 1` services answer discovery and the order push's consumer exists."""
    task = asyncio.create_task(serve_messaging(api.services, api.root.nats))
    settings = api.services.settings
    try:
        while len(await discover(nc, "PING", settings.subject_prefix)) < running + 1 or not (
            await push_consumer_exists(nc, settings)
        ):
            if task.done():
                task.result()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def nc() -> AsyncIterator[Client]:
    client = await nats.connect(NATS_URL)
    yield client
    await client.close()


@contextlib.asynccontextmanager
async def serving(settings: Settings, blobs: S3BlobStore, nc: Client) -> AsyncIterator[Api]:
    """The gateway, the relay, the orders projector and one messaging service, on real S3."""
    documents = SopDocuments(blobs, max_bytes=2_000_000, order_max_bytes=3_000_000)
    gateway = running_gateway(settings, ports=make_ports(documents=documents), max_body_bytes=200_000)
    async with gateway as a, relay(settings), projectors(settings, "orders", cache=a.root.cache), messaging(a, nc):
        yield a


@pytest.fixture
async def api(settings: Settings, blobs: S3BlobStore, nats_cleanup: Settings, nc: Client) -> AsyncIterator[Api]:
    async with serving(settings, blobs, nc) as a:
        yield a


AUDIT_KEY = "33" * 32  # the seal key of the audit test's own services


@pytest.fixture
async def audit_api(fresh_database: str, s3_server: S3Server, nc: Client) -> AsyncIterator[Api]:
    """The services on a database of the test's own, sealing with the key they trust: the audit
    test seals the log, and leaves neither its seal nor its events in the run's database."""
    settings = make_settings(fresh_database, **s3_server.settings(), audit_seal_key=AUDIT_KEY)
    try:
        async with blob_store(settings) as blobs, serving(settings, blobs, nc) as a:
            yield a
    finally:
        await delete_event_streams(settings)


async def machine(api: Api, nc: Client, *roles: str) -> Machine:
    org, admin = await api.organisation()
    _, headers = await api.member(org, admin, *(roles or ("sales",)))
    return Machine(nc, api.services.settings.subject_prefix, headers)


async def test_an_order_over_nats(api: Api, nc: Client) -> None:
    sales = await machine(api, nc)
    placed = await sales.ask("orders.place", ORDER)
    assert placed.status == 202, placed.body
    order = placed.body["id"]
    added = await sales.ask(
        "orders.documents.add", {"order_id": order, "name": "forklift.md", "content": base64.b64encode(MD).decode()}
    )
    assert added.status == 202, added.body
    assert added.body["data"]["sha256"] == hashlib.sha256(MD).hexdigest()
    seen = await sales.ask("orders.get", {"order_id": order, "position": added.body["position"]})
    assert seen.status == 200, seen.body
    assert (seen.body["status"], seen.body["document_count"]) == ("placed", 1)
    listed = await sales.ask("orders.list", {"status": ["placed"]})
    assert [i["order_id"] for i in listed.body["items"]] == [order]
    placed_at = seen.body["placed_at"]
    for query, expected in [
        ({"client": "ACME logistics", "placed_from": placed_at}, [order]),
        ({"client": "Globex"}, []),
        ({"placed_to": placed_at}, []),
        ({"status": ["cancelled", "failed"]}, []),
    ]:
        got = await sales.ask("orders.list", query)
        assert [i["order_id"] for i in got.body["items"]] == expected, (query, got.body)
    url = await sales.ask("orders.documents.url", {"order_id": order, "sha256": added.body["data"]["sha256"]})
    assert url.status == 200 and url.body["url"].startswith("http")
    cancelled = await sales.ask("orders.cancel", {"order_id": order, "reason": "test"})
    assert cancelled.status == 202
    again = await sales.ask("orders.cancel", {"order_id": order})
    assert (again.status, again.body["code"]) == (409, "order_not_cancellable")
    assert again.headers["Nats-Service-Error-Code"] == "409"  # nats.micro clients read a number


async def test_every_order_command_over_nats_through_the_lifecycle(api: Api, nc: Client) -> None:
    sales = await machine(api, nc)
    _, address = await api.platform_admin()
    pipeline = Machine(nc, sales.prefix, api.bearer(await api.login(address)))
    order = (await sales.ask("orders.place", ORDER)).body["id"]
    doc = {"order_id": order, "name": "forklift.md", "content": base64.b64encode(MD).decode()}
    sha = (await sales.ask("orders.documents.add", doc)).body["data"]["sha256"]
    steps = [
        (sales, "orders.documents.remove", {"sha256": sha}),
        (sales, "orders.documents.add", {k: v for k, v in doc.items() if k != "order_id"}),
        (sales, "orders.accept", {}),
        (pipeline, "orders.generation.start", {"stages": ["extract", "draft"]}),
        (pipeline, "orders.generation.advance", {"stage": 2}),
        (pipeline, "orders.generation.fail", {"reason": "the model was away"}),
        (sales, "orders.retry", {}),
        (pipeline, "orders.generation.start", {"stages": ["extract", "draft"]}),
        (pipeline, "orders.generation.draft", {"course_id": str(uuid.uuid4())}),
    ]
    for who, subject, body in steps:
        reply = await who.ask(subject, {"order_id": order} | body)
        assert reply.status == 202, (subject, reply.body)
    seen = await sales.ask("orders.get", {"order_id": order, "position": reply.body["position"]})
    assert seen.body["status"] == "draft_ready" and seen.body["document_count"] == 1
    # Its course is not published: delivery is refused, as a problem.
    refused = await sales.ask("orders.deliver", {"order_id": order})
    assert refused.status in (409, 422) and refused.body["code"] != "internal_error", refused.body
    assert (await sales.ask("orders.generation.start", {"order_id": order, "stages": ["x"]})).status == 403


async def test_other_commands_are_served_through_the_same_bus(api: Api, nc: Client) -> None:
    author = await machine(api, nc, "instructor")
    r = await author.ask("courses.create_course", {"title": "Forklifts", "cefr_level": "B1", "category": "safety"})
    assert r.status == 202, r.body
    m = await author.ask("courses.add_module", {"course_id": r.body["id"], "title": "Basics"})
    assert m.status == 202 and "module_id" in m.body["data"]


async def test_errors_are_answered_at_once_as_problems(api: Api, nc: Client) -> None:
    sales = await machine(api, nc)
    student = await machine(api, nc, "student")
    anonymous = Machine(nc, sales.prefix, {})
    forged = Machine(nc, sales.prefix, {"Authorization": "Bearer not.a.token"})
    cases = [
        (await sales.ask("orders.place", raw=b"{not json"), 400, "invalid_request"),
        (await sales.ask("orders.place", ORDER | {"cefr_level": "Z9"}), 400, "invalid_request"),
        (await sales.ask("orders.place", ORDER | {"unknown": 1}), 400, "invalid_request"),
        (await sales.ask("orders.get", {"order_id": "not-a-uuid"}), 400, "invalid_request"),
        (await sales.ask("orders.get", {"order_id": str(uuid.uuid4())}), 404, "order_not_found"),
        (await sales.ask("orders.place", raw=b" " * 200_001), 413, "request_entity_too_large"),
        (await anonymous.ask("orders.place", ORDER), 401, "invalid_token"),
        (await forged.ask("orders.place", ORDER), 401, "invalid_token"),
        (await student.ask("orders.place", ORDER), 403, "permission_denied"),
        (await student.ask("orders.list"), 403, "forbidden"),
    ]
    for reply, status, code in cases:
        assert (reply.status, reply.body["code"]) == (status, code), reply.body
        assert reply.body["status"] == status and reply.body["type"] == f"urn:coursewright:problem:{code}"
    with pytest.raises(nats.errors.NoRespondersError):  # no subject: NATS answers at once
        await nc.request(f"{sales.prefix}.api.v1.orders.nothing", b"{}", timeout=30)
    with pytest.raises(nats.errors.MaxPayloadError):  # beyond what the server carries: refused at once
        await nc.request(f"{sales.prefix}.api.v1.orders.place", b" " * (nc.max_payload + 1), timeout=30)


async def test_header_names_are_matched_regardless_of_case(api: Api, nc: Client) -> None:
    """NATS keeps a header name as its sender spelled it, and clients differ: nats.js, the Go
    client and the `nats` CLI send what their caller typed (`authorization: ...`)."""
    sales = await machine(api, nc)
    token = sales.headers["Authorization"]
    for auth, key_name in [("authorization", "idempotency-key"), ("AUTHORIZATION", "IDEMPOTENCY-KEY")]:
        client = Machine(nc, sales.prefix, {auth: token, key_name: f"crm-{uuid.uuid4()}"})
        first = await client.ask("orders.place", ORDER)
        again = await client.ask("orders.place", ORDER)
        assert first.status == again.status == 202, (auth, first.body)
        assert again.body["id"] == first.body["id"] and again.body["replayed"] is True


async def test_malformed_requests_get_problems_as_nats_micro_clients_read_them(api: Api, nc: Client) -> None:
    """No headers, an empty or non-JSON body: an error reply at once whose nats.micro headers hold
    the status as a number (nats.js makes any other `Nats-Service-Error-Code` a 400), and a body
    that does not fit its schema gets every problem with its JSON pointer, as over HTTP."""
    sales = await machine(api, nc)
    bare = await nc.request(f"{sales.prefix}.api.v1.orders.place", b"", timeout=30)  # no headers at all
    assert bare.headers is not None and json.loads(bare.data)["code"] == "invalid_token"
    assert (bare.headers[STATUS_HEADER], bare.headers["Nats-Service-Error-Code"]) == ("401", "401")
    assert bare.headers["Nats-Service-Error"] and bare.headers["Content-Type"] == "application/problem+json"
    empty = await sales.ask("orders.place", raw=b"")
    assert (empty.status, empty.headers["Nats-Service-Error-Code"]) == (400, "400")
    assert {e["pointer"] for e in empty.body["errors"]} >= {"/client", "/title", "/cefr_level"}
    not_json = await sales.ask("orders.place", raw=b"<order/>")
    assert (not_json.status, [e["pointer"] for e in not_json.body["errors"]]) == (400, [""]), not_json.body
    assert not_json.body["detail"].startswith("the body is not JSON")
    wrong = {k: v for k, v in ORDER.items() if k != "client"} | {"cefr_level": "Z9", "unknown": 1}
    fields = await sales.ask("orders.place", wrong)
    assert (fields.status, fields.body["detail"]) == (400, "the body has invalid fields")
    assert sorted(e["pointer"] for e in fields.body["errors"]) == ["/cefr_level", "/client", "/unknown"]
    over_http = await api.client.post("/orders", json=wrong, headers=sales.headers)
    assert over_http.json()["errors"] == fields.body["errors"]


async def test_an_idempotency_key_replays_the_first_answer(api: Api, nc: Client) -> None:
    sales = await machine(api, nc)
    first = await sales.ask("orders.place", ORDER, **{"Idempotency-Key": "crm-4711"})
    again = await sales.ask("orders.place", ORDER, **{"Idempotency-Key": "crm-4711"})
    assert first.status == again.status == 202
    assert again.body["id"] == first.body["id"]
    listed = await sales.ask("orders.list", {"position": again.body["position"]})
    assert len(listed.body["items"]) == 1


async def test_an_idempotency_key_is_bound_to_its_request(api: Api, nc: Client) -> None:
    org, admin = await api.organisation()
    prefix = api.services.settings.subject_prefix
    sales, colleague = [Machine(nc, prefix, (await api.member(org, admin, "sales"))[1]) for _ in range(2)]
    key = {"Idempotency-Key": f"crm-{uuid.uuid4()}"}
    first = await sales.ask("orders.place", ORDER, **key)
    assert first.status == 202, first.body
    # The same request by HTTP is the same decision: the first answer again.
    over_http = await api.client.post("/orders", json=ORDER, headers=sales.headers | key)
    assert (over_http.status_code, over_http.json()["id"]) == (201, first.body["id"])
    refused = {
        "with another body": await sales.ask("orders.place", ORDER | {"learners": 13}, **key),
        "for another command": await sales.ask("orders.cancel", {"order_id": first.body["id"]}, **key),
        "by another caller": await colleague.ask("orders.place", ORDER, **key),
    }
    for why, reply in refused.items():
        assert (reply.status, reply.body["code"]) == (422, "idempotency_key_reused"), (why, reply.body)
        assert why in reply.body["detail"]
    # Another organisation's key of the same spelling is its own.
    elsewhere = await machine(api, nc)
    theirs = await elsewhere.ask("orders.place", ORDER, **key)
    assert theirs.status == 202 and theirs.body["id"] != first.body["id"]
    listed = await sales.ask("orders.list", {"position": theirs.body["position"]})
    assert [i["order_id"] for i in listed.body["items"]] == [first.body["id"]]


async def test_a_member_removed_over_nats_is_signed_out_as_over_http(api: Api, nc: Client) -> None:
    """One decision, two transports: `identity.remove_member` ends the removed member's sign-ins
    (access and refresh tokens), as `DELETE /organisations/{org}/members/{user}` does."""
    org, admin = await api.organisation()
    prefix = api.services.settings.subject_prefix
    ended = {}
    for transport in ("nats", "http"):
        user_id, address = await api.register()
        added = await api.client.post(
            f"/organisations/{org}/members", json={"email": address, "roles": ["sales"]}, headers=admin
        )
        assert added.status_code == 201, added.text
        tokens = await api.login(address, org)
        member = Machine(nc, prefix, api.bearer(tokens))
        assert (await member.ask("orders.list", {})).status == 200
        if transport == "nats":
            removed = await Machine(nc, prefix, admin).ask(
                "identity.remove_member", {"org_id": str(org), "user_id": str(user_id)}
            )
            assert removed.status == 202, removed.body
        else:
            r = await api.client.delete(f"/organisations/{org}/members/{user_id}", headers=admin)
            assert r.is_success, r.text
        refused = await member.ask("orders.list", {})  # the same access token, over NATS
        over_http = await api.client.get("/auth/me", headers=api.bearer(tokens))
        renewed = await api.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        ended[transport] = (refused.status, refused.body["code"], over_http.status_code, renewed.status_code)
    assert ended["nats"] == ended["http"] == (401, "invalid_token", 401, 401), ended


async def test_discovery_stats_and_the_asyncapi_document(api: Api, nc: Client) -> None:
    sales = await machine(api, nc)
    placed = await sales.ask("orders.place", ORDER)
    refused = await sales.ask("orders.place", raw=b"{")
    (info,) = await discover(nc, "INFO", sales.prefix)
    announced = {e["subject"] for e in info["endpoints"]}
    document = asyncapi(sales.prefix, endpoints())
    assert announced == subjects(document)
    served = await api.client.get("/asyncapi.json")
    assert served.status_code == 200 and subjects(served.json()) == announced
    # What the service answers fits what the served document says of it.
    document = served.json()
    assert spec_errors(document) == [] and document["servers"]["nats"]["protocol"] == "nats"
    answers = [(placed, "CommandResult"), (refused, "Problem")]
    for reply, message in answers:
        pointer = f"#/components/messages/{message}"
        assert value_errors(document, pointer + "/payload", reply.body) == [], message
        assert value_errors(document, pointer + "/headers", reply.headers) == [], message
    (stats,) = await discover(nc, "STATS", sales.prefix)
    place = next(e for e in stats["endpoints"] if e["subject"] == f"{sales.prefix}.api.v1.orders.place")
    assert place["num_requests"] == 2 and place["queue_group"] == "cw-api"


async def test_stats_data_counts_what_the_endpoint_answered(api: Api, nc: Client) -> None:
    """nats.micro's own counters see only the hand-over to a request's task; each endpoint's
    `data` in `$SRV.STATS` has the figures measured on that task, as the document describes."""
    sales = await machine(api, nc)
    replies = [
        await sales.ask("orders.place", ORDER),
        await sales.ask("orders.place", ORDER),
        await sales.ask("orders.place", raw=b"{"),
        await sales.ask("orders.place", ORDER, Authorization="Bearer not-a-token"),
    ]
    assert [r.status for r in replies] == [202, 202, 400, 401]
    (ping,) = await discover(nc, "PING", sales.prefix)
    subject = f"{sales.prefix}.api.v1.orders.place"

    async def figures() -> dict[str, Any]:
        msg = await nc.request(f"$SRV.STATS.coursewright.{ping['id']}", b"", timeout=10)
        stats = json.loads(msg.data)
        return next(e for e in stats["endpoints"] if e["subject"] == subject)

    async def settled() -> bool:  # the reply goes out just before its request is counted
        data = (await figures())["data"]
        return data["answered"] == 4 and data["in_flight"] == 0

    await wait_until(settled, what="the four requests counted")
    msg = await nc.request(f"$SRV.STATS.coursewright.{ping['id']}", b"", timeout=10)
    stats = json.loads(msg.data)
    data = next(e for e in stats["endpoints"] if e["subject"] == subject)["data"]
    assert {k: v for k, v in data.items() if "time" not in k} == {
        "answered": 4,
        "errors": 2,
        "errors_by_status": {"400": 1, "401": 1},
        "last_error": f"401 {replies[3].body['type']}: {replies[3].body['title']}",
        "in_flight": 0,
        "unanswered": 0,
    }
    assert data["processing_time"] > 0 and data["average_processing_time"] == data["processing_time"] // 4
    assert "not-a-token" not in msg.data.decode()
    untouched = next(e for e in stats["endpoints"] if e["subject"].endswith(".orders.deliver"))["data"]
    assert (untouched["answered"], untouched["errors_by_status"], untouched["last_error"]) == (0, {}, "")
    document = asyncapi(sales.prefix, endpoints())
    assert value_errors(document, "#/components/messages/ServiceStats/payload", stats) == []


async def test_two_services_in_one_queue_group_share_the_requests(api: Api, nc: Client) -> None:
    sales = await machine(api, nc)
    async with messaging(api, nc, running=1):
        replies = await asyncio.gather(*(sales.ask("orders.list") for _ in range(40)))
        assert {r.status for r in replies} == {200}
        per_service = [
            next(e["num_requests"] for e in stats["endpoints"] if e["subject"].endswith(".orders.list"))
            for stats in await discover(nc, "STATS", sales.prefix)
        ]
    assert sum(per_service) == 40 and all(n > 0 for n in per_service)


async def test_a_messaging_process_killed_mid_request_loses_and_doubles_nothing(api: Api, nc: Client) -> None:
    """A second messaging process (`coursewright run messaging`) in the queue group is SIGKILLed
    in the middle of a burst; every request it took and never answered is retried with its
    Idempotency-Key: each key ends with exactly one order, whichever process answered."""
    sales = await machine(api, nc)
    settings = api.services.settings
    env = {**os.environ, **service_env(settings), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "run", "messaging", env=env, stdout=PIPE, stderr=PIPE, cwd=ROOT
    )
    try:
        while len(await discover(nc, "PING", sales.prefix)) < 2:
            assert proc.returncode is None, "the messaging process exited"
        keys = [f"crm-{uuid.uuid4()}" for _ in range(120)]
        answered: dict[str, Reply] = {}
        lost: list[str] = []
        some_answered = asyncio.Event()

        async def place(key: str, wait: float) -> None:
            try:
                msg = await nc.request(
                    f"{sales.prefix}.api.v1.orders.place",
                    json.dumps(ORDER).encode(),
                    timeout=wait,
                    headers=sales.headers | {"Idempotency-Key": key},
                )
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                lost.append(key)
                return
            got = dict(msg.headers or {})
            answered[key] = Reply(int(got[STATUS_HEADER]), json.loads(msg.data), got)
            if len(answered) >= 10:
                some_answered.set()

        burst = [asyncio.create_task(place(key, 5)) for key in keys]
        await some_answered.wait()
        proc.kill()  # mid-burst: whatever it took and had not answered is never answered
        await asyncio.gather(*burst)
        for key in lost:  # the client retries with the same key
            await place(key, 30)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    assert sorted(answered) == sorted(keys) and {r.status for r in answered.values()} == {202}
    ids = {r.body["id"] for r in answered.values()}
    assert len(ids) == len(keys)  # one order per key
    last = max(r.body["position"] for r in answered.values())
    listed = await sales.ask("orders.list", {"position": last, "limit": 500})
    assert sorted(i["order_id"] for i in listed.body["items"]) == sorted(ids)  # and no other


async def org_of(api: Api, m: Machine) -> str:
    me = await api.client.get("/auth/me", headers=m.headers)
    return str(me.json()["org_id"])


async def test_order_events_are_pushed_to_their_organisation_only(api: Api, nc: Client) -> None:
    sales, elsewhere = await machine(api, nc), await machine(api, nc)
    mine, theirs = await org_of(api, sales), await org_of(api, elsewhere)
    prefix = sales.prefix
    ours = await nc.subscribe(f"{prefix}.push.v1.orgs.{mine}.orders.>")
    theirs_only = await nc.subscribe(f"{prefix}.push.v1.orgs.{theirs}.orders.>")
    placed = await sales.ask("orders.place", ORDER)
    other = await elsewhere.ask("orders.place", ORDER)
    # A platform admin acting from outside the organisation: pushed to the order's organisation.
    admin = Context(uuid.uuid4(), uuid.UUID(int=0), frozenset({"platform_admin"}))
    await api.services.bus.handle(CancelOrder(order_id=uuid.UUID(placed.body["id"]), reason="test"), admin)
    got = [await ours.next_msg(timeout=30) for _ in range(2)]
    assert [m.subject.rsplit(".", 1)[1] for m in got] == ["OrderPlaced", "OrderCancelled"]
    assert {json.loads(m.data)["stream_id"] for m in got} == {placed.body["id"]}
    assert got[0].headers is not None and got[0].headers["Cw-Order-Id"] == placed.body["id"]
    document = asyncapi(prefix, endpoints())
    for m in got:  # as the AsyncAPI document describes them
        event = f"#/components/messages/{m.subject.rsplit('.', 1)[1]}"
        assert value_errors(document, event + "/payload", json.loads(m.data)) == []
        assert value_errors(document, event + "/headers", m.headers) == []
    # Theirs went to them, up to a last order of theirs; none of it came to us.
    last = await elsewhere.ask("orders.place", ORDER)
    pushed = []
    while not pushed or json.loads(pushed[-1].data)["stream_id"] != last.body["id"]:
        pushed.append(await theirs_only.next_msg(timeout=30))
    assert [json.loads(m.data)["stream_id"] for m in pushed] == [other.body["id"], last.body["id"]]
    assert ours.pending_msgs == 0  # delivered in order on this connection: nothing of theirs came


async def test_the_order_push_starts_at_new_events_and_resumes_after_a_restart(
    settings: Settings, nats_cleanup: Settings, nc: Client
) -> None:
    """A new deployment pushes no history; a restart of the messaging processes replays nothing
    already pushed and loses nothing published while they were down."""
    async with running_gateway(settings) as a, relay(settings):
        sales = await machine(a, nc)
        pushed = await nc.subscribe(f"{sales.prefix}.push.v1.orgs.{await org_of(a, sales)}.orders.>")
        last_placed = settings.event_subject("order", "OrderPlaced")

        async def place_and_relay() -> str:
            """An order placed (over HTTP: no messaging process may be up), once the relay has put
            its OrderPlaced on JetStream."""
            r = await a.client.post("/orders", json=ORDER, headers=sales.headers)
            assert r.status_code == 201, r.text
            order_id = r.json()["id"]

            async def relayed() -> bool:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    last = await nc.jetstream().get_last_msg(settings.events_stream, last_placed)
                    return bool(json.loads(last.data or b"{}")["stream_id"] == order_id)
                return False

            await wait_until(relayed, what="the order on JetStream")
            return order_id

        history = await place_and_relay()  # before the first messaging process: not news
        async with messaging(a, nc):
            placed = await place_and_relay()
            first = await pushed.next_msg(timeout=30)

            async def acked() -> bool:  # stopped before its ack, an event is pushed again: at least once
                info = await nc.jetstream().consumer_info(settings.events_stream, PUSH_CONSUMER)
                return info.num_ack_pending == 0 and info.num_pending == 0

            await wait_until(acked, what="the push's ack")
        while_down = await place_and_relay()  # every messaging process stopped
        async with messaging(a, nc):
            after = await place_and_relay()
            got = [first] + [await pushed.next_msg(timeout=30) for _ in range(2)]
        # In log order on one consumer: a replay of `history` or `placed` would have come before.
        assert [json.loads(m.data)["stream_id"] for m in got] == [placed, while_down, after]
        assert history not in {json.loads(m.data)["stream_id"] for m in got} and pushed.pending_msgs == 0


async def _cli(settings: Settings, token: str, *args: str, ok: bool = True, **env: str) -> str:
    """`coursewright order ARGS` as a sales system runs it; its output (stdout and stderr), once
    it exited 0 (`ok`) or 1."""
    proc = await _cli_process(settings, token, *args, **env)
    out, err = await proc.communicate()
    assert proc.returncode == (0 if ok else 1), out.decode() + err.decode()
    return out.decode() + err.decode()


async def _cli_process(settings: Settings, token: str, *args: str, **env: str) -> asyncio.subprocess.Process:
    environ = {**os.environ, **service_env(settings), "CW_API_TOKEN": token, "PYTHONPATH": str(ROOT)} | env
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "order", *args, env=environ, stdout=PIPE, stderr=PIPE, cwd=ROOT
    )


async def _api_key(api: Api, nc: Client) -> tuple[str, Machine]:
    """An API key of a new organisation (sales), and a machine client using it."""
    org, admin = await api.organisation()
    made = await api.client.post(f"/organisations/{org}/api-keys", json={"name": "CRM", "role": "sales"}, headers=admin)
    token = made.json()["key"]  # the client authenticates with the organisation's API key
    return token, Machine(nc, api.services.settings.subject_prefix, {"Authorization": f"Bearer {token}"})


async def test_the_order_client_places_with_documents_and_follows(api: Api, nc: Client, tmp_path: Path) -> None:
    token, sales = await _api_key(api, nc)
    sop, scan = tmp_path / "forklift.md", tmp_path / "scan.pdf"
    sop.write_bytes(MD)
    scan.write_bytes(b"%PDF-1.7\n" + bytes(INLINE_DOCUMENT_BYTES))  # too large to travel inline
    settings = api.services.settings
    place = ["place", "--title", "Forklifts", "--client", "Acme", "--cefr", "b1"]
    out = await _cli(settings, token, *place, "--sop", str(sop), "--sop", str(scan))
    order_id = out.strip().splitlines()[-1]
    events = await api.services.store.read_stream(uuid.UUID(order_id))
    seen = await sales.ask("orders.get", {"order_id": order_id, "position": events[-1].position})
    assert (seen.body["status"], seen.body["document_count"]) == ("documents_accepted", 2)

    # Followed from the start: the bar moves with the stages; it ends, exit 0, once a draft is ready.
    follow = await _cli_process(settings, token, "status", order_id, "--follow")
    _, address = await api.platform_admin()
    pipeline = Machine(nc, sales.prefix, api.bearer(await api.login(address)))
    course = str(uuid.uuid4())
    for subject, body in [
        ("orders.generation.start", {"stages": ["extract", "draft"]}),
        ("orders.generation.advance", {"stage": 1}),
        ("orders.generation.advance", {"stage": 2}),
        ("orders.generation.draft", {"course_id": course}),
    ]:
        assert (await pipeline.ask(subject, {"order_id": order_id} | body)).status == 202
    out, err = await follow.communicate()
    assert follow.returncode == 0, out.decode() + err.decode()
    assert f"{order_id}: draft_ready, course {course}" in " ".join(out.decode().split())

    # A failed order: the follow ends at once with the stage and the reason, exit 1.
    failing = (await sales.ask("orders.place", ORDER)).body["id"]
    doc = {"order_id": failing, "name": "forklift.md", "content": base64.b64encode(MD).decode()}
    for who, subject, body in [
        (sales, "orders.documents.add", doc),
        (sales, "orders.accept", {"order_id": failing}),
        (pipeline, "orders.generation.start", {"order_id": failing, "stages": ["extract", "draft"]}),
        (pipeline, "orders.generation.advance", {"order_id": failing, "stage": 1}),
        (pipeline, "orders.generation.fail", {"order_id": failing, "reason": "the scan is unreadable"}),
    ]:
        reply = await who.ask(subject, body)
        assert reply.status == 202, (subject, reply.body)
    await sales.ask("orders.get", {"order_id": failing, "position": reply.body["position"]})
    out = " ".join((await _cli(settings, token, "status", failing, "--follow", ok=False)).split())
    assert f"{failing}: failed at stage 1 (extract): the scan is unreadable" in out

    cancelled = await sales.ask("orders.cancel", {"order_id": order_id, "reason": "test"})
    assert cancelled.status == 409  # a draft is ready: too late to cancel


async def test_the_order_client_sends_a_request_nobody_answered_again_under_its_key(nc: Client) -> None:
    """A gateway that took a request and died never answers: the client asks again with the same
    Idempotency-Key (the service then gives the first decision's answer: one effect)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    seen: list[dict[str, str]] = []

    async def first_lost(msg: Any) -> None:
        seen.append(dict(msg.headers or {}))
        if len(seen) > 1:  # the first is taken and never answered
            await nc.publish(msg.reply, json.dumps({"id": "x"}).encode(), headers={STATUS_HEADER: "202"})

    sub = await nc.subscribe(f"{prefix}.api.v1.orders.place", cb=first_lost)
    try:
        client = OrderClient(nc, prefix, "cwk_x", answer_seconds=0.5)
        assert await client.ask("orders.place", ORDER) == {"id": "x"}
        assert await client.ask("orders.place", ORDER) == {"id": "x"}
    finally:
        await sub.unsubscribe()
    keys = [h["Idempotency-Key"] for h in seen]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]  # a retry keeps its key; a new command has its own


async def test_the_order_client_leaves_no_half_order_and_says_what_is_wrong(
    api: Api, nc: Client, tmp_path: Path
) -> None:
    """A document of no accepted type is refused before anything is placed; one the service
    refuses (too large) cancels the order it was for, saying why; no service answering, or no
    NATS, is a one-line error, not a traceback or a two-minute wait. Exit status 1 each time."""
    token, sales = await _api_key(api, nc)
    settings = api.services.settings
    place = ["place", "--title", "Forklifts", "--client", "Acme", "--cefr", "B1"]
    exe, huge, sop = tmp_path / "sop.pdf", tmp_path / "huge.pdf", tmp_path / "forklift.md"
    exe.write_bytes(b"MZ\x90\x00\x03 not a pdf")
    huge.write_bytes(b"%PDF-1.7\n" + bytes(2_000_000))  # over this service's 2 MB per document
    sop.write_bytes(MD)
    out = await _cli(settings, token, *place, "--sop", str(sop), "--sop", str(exe), ok=False)
    assert "sop.pdf is not a PDF" in out and "no order was placed" in " ".join(out.split())
    assert (await sales.ask("orders.list")).body["items"] == []
    out = " ".join((await _cli(settings, token, *place, "--sop", str(sop), "--sop", str(huge), ok=False)).split())
    assert "was cancelled, its documents could not be attached: document_too_large" in out, out
    (listed,) = (await sales.ask("orders.list")).body["items"]
    seen = await sales.ask("orders.get", {"order_id": listed["order_id"]})
    assert seen.body["status"] == "cancelled" and "document_too_large" in seen.body["cancel_reason"]
    out = " ".join(
        (await _cli(settings, token, "status", listed["order_id"], ok=False, CW_SUBJECT_PREFIX="nobody")).split()
    )
    assert "no messaging service answered on nobody.api.v1.orders.get" in out and "Traceback" not in out, out
    out = " ".join(
        (
            await _cli(
                settings,
                token,
                "status",
                listed["order_id"],
                ok=False,
                CW_NATS_URL=f"nats://127.0.0.1:{free_port(14999)}",
            )
        ).split()
    )
    assert "cannot reach NATS at" in out and "Traceback" not in out, out


async def test_auditors_ask_the_log_over_nats(audit_api: Api, nc: Client) -> None:
    """history, at, diff, verify, proof and export on `audit.*`, scoped like HTTP: an
    organisation's auditor sees theirs, a platform auditor every one, nobody else any; a
    platform auditor revoked over NATS (no sign-in ended) is refused at once. The whole log, on
    the test's own database, verifies clean with the seal made by the platform's key."""
    api = audit_api
    org, admin = await api.organisation()
    _, author_headers = await api.member(org, admin, "instructor")
    _, auditor_headers = await api.member(org, admin, "auditor")
    prefix = api.services.settings.subject_prefix
    author, auditor = Machine(nc, prefix, author_headers), Machine(nc, prefix, auditor_headers)
    created = await author.ask(
        "courses.create_course", {"title": "Forklifts", "cefr_level": "B1", "category": "safety"}
    )
    course = created.body["id"]
    edit = {"course_id": course, "title": "Forklifts, safely", "cefr_level": "B1", "category": "safety"}
    assert (await author.ask("courses.edit_course", edit)).status == 202

    page = await auditor.ask("audit.history", {"stream_id": course, "limit": 1})
    assert page.status == 200, page.body
    assert [e["event_type"] for e in page.body["events"]] == ["CourseCreated"]
    rest = await auditor.ask("audit.history", {"stream_id": course, "after": page.body["next_after"]})
    assert [e["event_type"] for e in rest.body["events"]] == ["CourseDetailsEdited"] and rest.body["next_after"] is None
    at = await auditor.ask("audit.at", {"stream_id": course, "at": 1})
    assert at.status == 200 and at.body["state"]["details"]["title"] == "Forklifts"
    when = await auditor.ask("audit.at", {"stream_id": course, "at": at.body["occurred_at"]})
    assert when.body["version"] == 1
    diff = await auditor.ask("audit.diff", {"stream_id": course, "before": 1, "after": 2})
    assert diff.body["changes"] == [{"path": "details/title", "before": "Forklifts", "after": "Forklifts, safely"}]
    verified = await auditor.ask("audit.verify", {"stream_id": course})
    assert verified.status == 200 and verified.body["breaks"] == [] and verified.body["events"] == 2
    assert (await auditor.ask("audit.verify", {"org_id": str(org)})).body["breaks"] == []

    exported = await auditor.ask("audit.export", {"stream_id": course})
    assert exported.status == 200, exported.body
    async with httpx.AsyncClient() as http:
        file = (await http.get(exported.body["url"])).content
    assert hashlib.sha256(file).hexdigest() == exported.body["sha256"] and len(file) == exported.body["size"]
    assert check_export(file.splitlines(keepends=True)).intact and exported.body["events"] == 2

    # A proof needs a seal over the event; then it checks offline, and fails for another key.
    first = page.body["events"][0]["position"]
    unsealed = await auditor.ask("audit.proof", {"position": first})
    assert (unsealed.status, unsealed.body["code"]) == (404, "not_sealed")
    key = SealKey.from_hex(AUDIT_KEY)
    assert await Sealer(api.services.audit.connect, api.services.bus, key).seal_once() is not None
    asked = {"position": first}
    proved = await nc.request(f"{prefix}.api.v1.audit.proof", json.dumps(asked).encode(), headers=auditor.headers)
    assert proved.headers is not None and proved.headers[STATUS_HEADER] == "200", proved.data
    proof = msgspec.json.decode(proved.data, type=InclusionProof)  # the payload's bytes as stored
    assert proof_problem(proof, frozenset({key.public_key})) is None
    assert proof_problem(proof, frozenset({SealKey.from_hex("44" * 32).public_key})) is not None
    forged = msgspec.structs.replace(proof, event=msgspec.structs.replace(proof.event, actor_id="someone else"))
    assert proof_problem(forged, frozenset({key.public_key})) is not None

    # Scope: another organisation's auditor sees no such stream; others may not audit; the whole
    # log is for platform auditors; bad questions are problems.
    other, other_admin = await api.organisation("Other")
    _, outsider_headers = await api.member(other, other_admin, "auditor")
    outsider = Machine(nc, prefix, outsider_headers)
    cases = [
        (await outsider.ask("audit.history", {"stream_id": course}), 404, "stream_not_found"),
        (await outsider.ask("audit.proof", {"position": first}), 404, "stream_not_found"),
        (await outsider.ask("audit.verify", {"org_id": str(org)}), 403, "permission_denied"),
        (await author.ask("audit.history", {"stream_id": course}), 403, "permission_denied"),
        (await auditor.ask("audit.verify", {}), 403, "permission_denied"),
        (await auditor.ask("audit.at", {"stream_id": course, "at": 0}), 400, "invalid_request"),
        (await auditor.ask("audit.at", {"stream_id": course, "at": "soon"}), 400, "invalid_request"),
        (await auditor.ask("audit.at", {"stream_id": course, "at": 99}), 404, "stream_not_found"),
        (await auditor.ask("audit.history", {"stream_id": course, "limit": 5000}), 400, "invalid_request"),
        (await auditor.ask("audit.export", {}), 422, "invalid_audit_request"),
        (await auditor.ask("audit.verify", {"stream_id": course, "org_id": str(org)}), 422, "invalid_audit_request"),
    ]
    for reply, status, code in cases:
        assert (reply.status, reply.body["code"]) == (status, code), reply.body

    user_id, address = await api.register(name="Platform Auditor")
    _, root = await api.platform_admin()
    platform_admin = Machine(nc, prefix, api.bearer(await api.login(root)))
    granted = await platform_admin.ask("identity.grant_platform_auditor", {"user_id": str(user_id)})
    assert granted.status == 202, granted.body
    platform = Machine(nc, prefix, api.bearer(await api.login(address)))
    assert (await platform.ask("audit.history", {"stream_id": course})).status == 200
    assert (await platform.ask("audit.verify", {"org_id": str(other)})).status == 200
    whole = await platform.ask("audit.verify", {})
    assert whole.status == 200 and whole.body["seals"] == 1 and whole.body["events"] == whole.body["head"]
    assert whole.body["breaks"] == [], whole.body["breaks"]  # the seal's key is one the platform trusts
    assert (
        await platform.ask("courses.create_course", {"title": "X", "cefr_level": "B1", "category": "x"})
    ).status == 403
    assert (await platform_admin.ask("identity.revoke_platform_auditor", {"user_id": str(user_id)})).status == 202
    refused = await platform.ask("audit.history", {"stream_id": course})  # the role went, and the sign-in
    assert (refused.status, refused.body["code"]) == (401, "invalid_token")


async def test_another_organisation_reaches_no_order_of_ours_by_id(api: Api, nc: Client) -> None:
    """Sales of one organisation, knowing another's order id, a document's sha256 and an upload
    id, get 404 for every question and command on it, over NATS and HTTP; a student of the
    order's own organisation gets 403. The order stays as it was; the documents, list and
    timeline are the owner's to see."""
    org, admin = await api.organisation()
    prefix = api.services.settings.subject_prefix
    sales = Machine(nc, prefix, (await api.member(org, admin, "sales"))[1])
    student = Machine(nc, prefix, (await api.member(org, admin, "student"))[1])
    stranger = await machine(api, nc)
    order = (await sales.ask("orders.place", ORDER)).body["id"]
    doc = {"order_id": order, "name": "forklift.md", "content": base64.b64encode(MD).decode()}
    sha = (await sales.ask("orders.documents.add", doc)).body["data"]["sha256"]
    begun = (await sales.ask("orders.documents.begin", {"order_id": order})).body["data"]
    upload = {"order_id": order, "upload_id": begun["upload_id"], "name": "x.md", "size": len(MD), "sha256": sha}
    async with httpx.AsyncClient() as http:
        assert (await http.put(begun["url"], content=MD)).status_code == 200
    asked = {
        "orders.get": {"order_id": order},
        "orders.documents.url": {"order_id": order, "sha256": sha},
        "orders.documents.add": doc,
        "orders.documents.begin": {"order_id": order},
        "orders.documents.complete": upload,
        "orders.documents.remove": {"order_id": order, "sha256": sha},
        "orders.accept": {"order_id": order},
        "orders.cancel": {"order_id": order},
    }
    for subject, body in asked.items():
        reply = await stranger.ask(subject, body)
        assert reply.status == 404 and reply.body["code"].endswith("not_found"), (subject, reply.body)
    assert (await stranger.ask("orders.list")).body["items"] == []
    for path in (f"/orders/{order}", f"/orders/{order}/documents/{sha}"):
        assert (await api.client.get(path, headers=stranger.headers)).status_code == 404, path
    r = await api.client.post(f"/orders/{order}/documents", files={"file": ("a.md", MD)}, headers=stranger.headers)
    assert r.status_code == 404, r.text
    for subject in ("orders.get", "orders.documents.url"):
        reply = await student.ask(subject, asked[subject])
        assert (reply.status, reply.body["code"]) == (404, "order_not_found"), (subject, reply.body)
    assert (await api.client.get(f"/orders/{order}/documents/{sha}", headers=student.headers)).status_code == 404
    # The owner still sees its order as it was, with its document and timeline, and may download it.
    seen = await sales.ask("orders.get", {"order_id": order})
    assert seen.body["status"] == "placed" and [d["sha256"] for d in seen.body["documents"]] == [sha]
    assert [d["name"] for d in seen.body["documents"]] == ["forklift.md"]
    assert [t["event"] for t in seen.body["timeline"]] == ["OrderPlaced", "OrderDocumentAdded"]
    url = (await sales.ask("orders.documents.url", {"order_id": order, "sha256": sha})).body["url"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == MD


async def test_s3_down_fails_the_document_command_on_both_edges_and_says_retry(
    settings: Settings, nats_cleanup: Settings, nc: Client
) -> None:
    """With S3 down, a document sent over NATS or HTTP is refused with 503 `s3_unavailable` and
    Retry-After, as a problem; the order is unchanged."""
    down = S3BlobStore("http://127.0.0.1:9", "k", "s", "nowhere")
    async with serving(settings, down, nc) as a:
        sales = await machine(a, nc)
        order = (await sales.ask("orders.place", ORDER)).body["id"]
        doc = {"order_id": order, "name": "forklift.md", "content": base64.b64encode(MD).decode()}
        over_nats = await sales.ask("orders.documents.add", doc)
        assert (over_nats.status, over_nats.body["code"]) == (503, "s3_unavailable"), over_nats.body
        assert over_nats.headers["Retry-After"] == "5" and over_nats.body["status"] == 503
        over_http = await a.client.post(
            f"/orders/{order}/documents", files={"file": ("forklift.md", MD)}, headers=sales.headers
        )
        assert over_http.status_code == 503 and over_http.json()["code"] == "s3_unavailable", over_http.text
        assert over_http.headers["retry-after"] == "5"
        events = await a.services.store.read_stream(uuid.UUID(order))
        assert [e.event_type for e in events] == ["OrderPlaced"]


async def test_every_read_model_question_of_http_is_asked_over_nats_with_the_same_answer(api: Api, nc: Client) -> None:
    """Each GET of the HTTP API on a read model has its NATS subject, with the query's parameters
    as the body: the same status and the same answer (or problem) for the same caller."""
    others = [name for name in PROJECTIONS if name != "orders"]  # the fixture runs the orders'
    async with projectors(api.services.settings, *others, cache=api.root.cache):
        await _read_models_over_both(api, nc)


async def _read_models_over_both(api: Api, nc: Client) -> None:
    org, admin = await api.organisation()
    prefix = api.services.settings.subject_prefix
    author_id, author_headers = await api.member(org, admin, "instructor", "course_manager")
    author = Machine(nc, prefix, author_headers)
    created = await author.ask(
        "courses.create_course", {"title": "Forklifts", "cefr_level": "B1", "category": "safety"}
    )
    course = created.body["id"]
    module = (await author.ask("courses.add_module", {"course_id": course, "title": "Basics"})).body
    lesson = await author.ask(
        "courses.add_lesson", {"course_id": course, "module_id": module["data"]["module_id"], "title": "Forks"}
    )
    at = lesson.body["position"]
    nobody = str(uuid.uuid4())
    # (subject, body, HTTP path, HTTP query parameters)
    asked: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
        ("catalog.search", {"q": "forklift", "limit": 5}, "/catalog", {"q": "forklift", "limit": 5}),
        ("courses.get", {"course_id": course, "revision": "draft"}, f"/courses/{course}", {"revision": "draft"}),
        ("courses.get", {"course_id": course}, f"/courses/{course}", {}),
        (
            "courses.module",
            {"course_id": course, "module_id": module["data"]["module_id"], "revision": "draft"},
            f"/courses/{course}/modules/{module['data']['module_id']}",
            {"revision": "draft"},
        ),
        (
            "courses.lesson",
            {"course_id": course, "lesson_id": lesson.body["data"]["lesson_id"], "revision": "draft"},
            f"/courses/{course}/lessons/{lesson.body['data']['lesson_id']}",
            {"revision": "draft"},
        ),
        ("courses.reviews", {"course_id": course}, f"/courses/{course}/reviews", {}),
        (
            "courses.student_progress",
            {"course_id": course, "student_id": nobody},
            f"/courses/{course}/students/{nobody}/progress",
            {},
        ),
        (
            "courses.analytics",
            {"course_id": course, "period": "day"},
            f"/courses/{course}/analytics",
            {"period": "day"},
        ),
        ("reviews.get", {"review_id": nobody}, f"/reviews/{nobody}", {}),
        ("reviews.queue", {"limit": 10}, "/review-queue", {"limit": 10}),
        ("me.courses", {}, "/me/courses", {}),
        ("me.authored", {"status": ["draft"]}, "/me/courses", {"status": "draft"}),
        ("me.course", {"course_id": course}, f"/me/courses/{course}", {}),
        ("students.list", {"course_id": course}, "/students", {"course_id": course}),
        ("analytics.organisation", {"top": 3}, "/analytics/organisation", {"top": 3}),
        ("paths.get", {"path_id": nobody}, f"/paths/{nobody}", {}),
        ("certificates.get", {"certificate_id": nobody}, f"/me/certificates/{nobody}", {}),
        ("notifications.unread_count", {}, "/me/notifications/unread-count", {}),
        ("notifications.preferences", {}, "/me/notifications/preferences", {}),
        ("identity.me", {}, "/auth/me", {}),
        ("users.get", {"user_id": str(author_id)}, f"/users/{author_id}", {}),
        ("users.get", {"user_id": nobody}, f"/users/{nobody}", {}),
        ("organisations.get", {"org_id": str(org)}, f"/organisations/{org}", {}),
        ("organisations.get", {"org_id": nobody}, f"/organisations/{nobody}", {}),
        (
            "organisations.api_keys.get",
            {"org_id": str(org), "key_id": nobody},
            f"/organisations/{org}/api-keys/{nobody}",
            {},
        ),
    ]
    statuses = set()
    for subject, body, path, params in asked:
        if subject.split(".")[0] not in ("identity", "users", "organisations"):  # those read the store
            body = body | {"position": at}
        over_nats = await author.ask(subject, body)
        over_http = await api.client.get(path, params=params | {"position": at}, headers=author_headers)
        assert over_nats.status == over_http.status_code, (subject, over_nats.body, over_http.text)
        if over_http.status_code == 200:
            assert over_nats.body == over_http.json(), subject
        else:
            assert over_nats.body["code"] == over_http.json()["code"], subject
        statuses.add(over_nats.status)
    assert statuses >= {200, 404}
    student = Machine(nc, prefix, (await api.member(org, admin, "student"))[1])
    refused = await student.ask("analytics.organisation", {})
    assert refused.status == 403 and refused.body["status"] == 403
    key = await api.client.post(f"/organisations/{org}/api-keys", json={"name": "CRM", "role": "sales"}, headers=admin)
    key_id = key.json()["key_id"]
    shown = await Machine(nc, prefix, admin).ask("organisations.api_keys.get", {"org_id": str(org), "key_id": key_id})
    over_http = await api.client.get(f"/organisations/{org}/api-keys/{key_id}", headers=admin)
    assert shown.status == 200 and shown.body == over_http.json() and "key" not in shown.body
    bad = await author.ask("courses.get", {"course_id": course, "revision": "latest"})
    assert (bad.status, bad.body["code"]) == (400, "invalid_request")
