"""Orders over HTTP on the real gateway, store, projectors and S3: place, multipart and presigned
documents, download by URL, the list and detail; problems for bad input; tenancy."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from commands.documents import SopDocuments
from infra.blobs.s3 import S3BlobStore
from infra.settings import Settings
from tests.integration.gateway_harness import Api, running_gateway
from tests.integration.presigned import http
from tests.integration.projections_support import projectors, relay
from tests.integration.test_orders import MD, ORDER, PDF
from tests.ports import make_ports


@pytest.fixture
async def api(settings: Settings, blobs: S3BlobStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    documents = SopDocuments(blobs, max_bytes=100_000, order_max_bytes=200_000)
    gateway = running_gateway(settings, ports=make_ports(documents=documents))
    async with gateway as a, relay(settings), projectors(settings, "orders", cache=a.root.cache):
        yield a


async def _chunked(data: bytes) -> AsyncIterator[bytes]:
    """A body sent chunked: no Content-Length."""
    yield data


async def _sales(api: Api) -> tuple[str, dict[str, str]]:
    org, admin = await api.organisation()
    _, sales = await api.member(org, admin, "sales")
    return str(org), sales


async def _place(api: Api, sales: dict[str, str], **changes: Any) -> str:
    r = await api.client.post("/orders", json=ORDER | changes, headers=sales)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/orders/{r.json()['id']}"
    return str(r.json()["id"])


async def test_an_order_with_documents_over_http(api: Api) -> None:
    _, sales = await _sales(api)
    order = await _place(api, sales)
    r = await api.client.post(f"/orders/{order}/documents", files={"file": ("forklift.md", MD)}, headers=sales)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["media_type"] == "text/markdown"
    begun = await api.client.post(f"/orders/{order}/uploads", headers=sales)
    assert begun.status_code == 201, begun.text
    upload = begun.json()["data"]
    assert await http("PUT", upload["url"], PDF) == (200, b"")
    done = await api.client.post(
        f"/orders/{order}/uploads/{upload['upload_id']}",
        json={"name": "scan.pdf", "size": len(PDF), "sha256": hashlib.sha256(PDF).hexdigest()},
        headers=sales,
    )
    assert done.status_code == 201, done.text
    detail = await api.client.get(f"/orders/{order}", params={"position": done.json()["position"]}, headers=sales)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [d["name"] for d in body["documents"]] == ["forklift.md", "scan.pdf"]
    assert body["status"] == "placed" and body["document_count"] == 2
    sha = hashlib.sha256(PDF).hexdigest()
    link = await api.client.get(f"/orders/{order}/documents/{sha}", headers=sales)
    assert link.status_code == 200, link.text
    assert await http("GET", link.json()["url"]) == (200, PDF)
    listed = await api.client.get("/orders", params={"status": "placed"}, headers=sales)
    assert [i["order_id"] for i in listed.json()["items"]] == [order]
    # The filters as query parameters: any of several statuses, the client (any case), placed between.
    placed = await api.client.post("/orders", json=ORDER | {"client": "Globex"}, headers=sales)
    other, position = placed.json()["id"], placed.json()["position"]
    placed_at = detail.json()["placed_at"]
    day = timedelta(days=1)
    at = datetime.fromisoformat(placed_at)
    cases = [
        ({"status": ["placed", "cancelled"]}, [other, order]),
        ({"status": "cancelled"}, []),
        ({"client": "acme LOGISTICS"}, [order]),
        ({"client": "globex"}, [other]),
        ({"placed_from": placed_at}, [other, order]),
        ({"placed_to": placed_at}, []),
        ({"placed_from": (at - day).isoformat(), "placed_to": (at + day).isoformat(), "client": "Globex"}, [other]),
        ({"placed_from": (at + day).isoformat()}, []),
    ]
    for params, expected in cases:
        got = await api.client.get("/orders", params=params | {"position": position}, headers=sales)
        assert got.status_code == 200 and [i["order_id"] for i in got.json()["items"]] == expected, (params, got.text)
    bad = await api.client.get("/orders", params={"status": "lost"}, headers=sales)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"


async def test_bad_requests_get_problems_and_change_nothing(api: Api) -> None:
    _, sales = await _sales(api)
    order = await _place(api, sales)
    cases = [
        (await api.client.post("/orders", json=ORDER | {"cefr_level": "Z9"}, headers=sales), 400, "invalid_request"),
        (
            await api.client.post(
                f"/orders/{order}/documents", files={"file": ("a.pdf", b"MZ\x90 exe")}, headers=sales
            ),
            422,
            "unsupported_document",
        ),
        (
            await api.client.post(
                f"/orders/{order}/documents", files={"file": ("b.pdf", b"%PDF-1.4" + bytes(100_000))}, headers=sales
            ),
            422,
            "document_too_large",
        ),
        (await api.client.post(f"/orders/{order}/documents", files={"other": ("a.md", MD)}, headers=sales), 400, None),
        (await api.client.post(f"/orders/{order}/accept", headers=sales), 422, "invalid_order"),
        # Beyond a document's limit and its form's overhead: refused before the body is read,
        # even without credentials (the route takes no app-wide body limit).
        (
            await api.client.post(
                f"/orders/{order}/documents", files={"file": ("c.pdf", b"%PDF-1.4" + bytes(200_000))}, headers=sales
            ),
            413,
            "request_entity_too_large",
        ),
        (
            await api.client.post(f"/orders/{order}/documents", files={"file": ("c.pdf", bytes(200_000))}),
            413,
            "request_entity_too_large",
        ),
        (
            await api.client.post(
                f"/orders/{order}/documents",
                content=_chunked(b"--x\r\n"),
                headers=sales | {"content-type": "multipart/form-data; boundary=x"},
            ),
            411,
            "length_required",
        ),
        (await api.client.get("/orders/not-a-uuid", headers=sales), 404, None),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        if code:
            assert response.json()["code"] == code
    r = await api.client.post(f"/orders/{order}/cancel", json={"reason": "test"}, headers=sales)
    detail = await api.client.get(f"/orders/{order}", params={"position": r.json()["position"]}, headers=sales)
    assert detail.json()["document_count"] == 0
    assert [t["event"] for t in detail.json()["timeline"]] == ["OrderPlaced", "OrderCancelled"]


async def test_other_organisations_and_other_roles_see_nothing(api: Api) -> None:
    _, sales = await _sales(api)
    order = await _place(api, sales)
    _, stranger = await _sales(api)
    assert (await api.client.get(f"/orders/{order}", headers=stranger)).status_code == 404
    assert (await api.client.post(f"/orders/{order}/cancel", json={}, headers=stranger)).status_code == 404
    assert (await api.client.get("/orders", headers=stranger)).json()["items"] == []
    org, admin = await api.organisation()
    assert (await api.client.post("/orders", json=ORDER, headers=admin)).status_code == 201  # org admins order too
    _, student = await api.member(org, admin, "student")
    assert (await api.client.post("/orders", json=ORDER, headers=student)).status_code == 403
    assert (await api.client.get("/orders", headers=student)).status_code == 403
