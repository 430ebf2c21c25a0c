"""SOP documents on the real S3 server: stored whole or through a presigned upload, content-
addressed and stored once, refused with nothing left behind, stale uploads swept."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands import documents
from domain.documents import MARKDOWN, PDF, DocumentTooLarge, UnsupportedDocument, UploadMismatch, UploadNotFound
from domain.order import Document
from infra.blobs.s3 import S3BlobStore
from tests.integration.presigned import http

ORG, ORDER, SALES = uuid4(), uuid4(), uuid4()
LIMIT = 1_000_000
PDF_BYTES = b"%PDF-1.7\n" + b"stream of a scanned SOP " * 40_000  # 960 kB
MD_BYTES = b"# Forklift inspection\n\n1. Check the forks for cracks.\n"


async def complete(
    blobs: S3BlobStore, upload_id: UUID, content: bytes, *, org: UUID = ORG, order: UUID = ORDER, **declared: Any
) -> Document:
    """Complete an upload declaring `content`'s size and sha256 unless `declared` says otherwise."""
    values: dict[str, Any] = {
        "name": "big.pdf",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "uploaded_by": SALES,
        "max_bytes": LIMIT,
    }
    return await documents.complete_upload(blobs, org, order, upload_id, **(values | declared))


async def test_a_small_document_is_stored_at_its_content_address_once(blobs: S3BlobStore) -> None:
    doc = await documents.store_document(blobs, ORG, " forklift.md ", MD_BYTES, SALES, LIMIT)
    assert (doc.name, doc.media_type, doc.size, doc.uploaded_by) == ("forklift.md", MARKDOWN, len(MD_BYTES), SALES)
    assert doc.sha256 == hashlib.sha256(MD_BYTES).hexdigest()
    again = await documents.store_document(blobs, ORG, "copy-of-forklift.txt", MD_BYTES, SALES, LIMIT)
    assert again.sha256 == doc.sha256
    assert [b.key for b in await blobs.list(f"orgs/{ORG}/")] == [documents.document_key(ORG, doc.sha256)]
    assert await blobs.get(documents.document_key(ORG, doc.sha256)) == MD_BYTES


async def test_a_document_of_the_wrong_type_or_size_is_refused_and_nothing_is_stored(blobs: S3BlobStore) -> None:
    with pytest.raises(UnsupportedDocument):
        await documents.store_document(blobs, ORG, "sop.pdf", b"MZ\x90\x00 an exe named pdf", SALES, LIMIT)
    with pytest.raises(DocumentTooLarge):
        await documents.store_document(blobs, ORG, "big.pdf", PDF_BYTES, SALES, len(PDF_BYTES) - 1)
    assert await blobs.list("") == []


async def test_a_large_document_is_uploaded_by_url_and_completed(blobs: S3BlobStore) -> None:
    upload = await documents.begin_upload(blobs, ORG, ORDER, timedelta(minutes=5))
    assert await http("PUT", upload.url, PDF_BYTES) == (200, b"")
    sha = hashlib.sha256(PDF_BYTES).hexdigest()
    doc = await complete(blobs, upload.upload_id, PDF_BYTES)
    assert (doc.sha256, doc.media_type, doc.size) == (sha, PDF, len(PDF_BYTES))
    assert await blobs.list(documents.UPLOADS) == []  # the staging object is gone
    url = await documents.download_url(blobs, ORG, sha, timedelta(minutes=5))
    assert await http("GET", url) == (200, PDF_BYTES)
    with pytest.raises(UploadNotFound):  # completed once
        await complete(blobs, upload.upload_id, PDF_BYTES)


@pytest.mark.parametrize(
    ("declared_size", "declared_sha", "limit", "error"),
    [
        (len(PDF_BYTES) + 1, None, LIMIT, UploadMismatch),
        (len(PDF_BYTES), "0" * 64, LIMIT, UploadMismatch),
        (len(PDF_BYTES), None, 1000, DocumentTooLarge),
    ],
)
async def test_an_upload_that_is_not_what_was_declared_is_refused_and_deleted(
    blobs: S3BlobStore, declared_size: int, declared_sha: str | None, limit: int, error: type[Exception]
) -> None:
    upload = await documents.begin_upload(blobs, ORG, ORDER, timedelta(minutes=5))
    await http("PUT", upload.url, PDF_BYTES)
    with pytest.raises(error):
        await complete(
            blobs,
            upload.upload_id,
            PDF_BYTES,
            size=declared_size,
            sha256=declared_sha or hashlib.sha256(PDF_BYTES).hexdigest(),
            max_bytes=limit,
        )
    assert await blobs.list("") == []


async def test_an_upload_of_another_order_or_never_made_is_not_found(blobs: S3BlobStore) -> None:
    upload = await documents.begin_upload(blobs, ORG, ORDER, timedelta(minutes=5))
    await http("PUT", upload.url, MD_BYTES)
    for org, order, upload_id in [(ORG, uuid4(), upload.upload_id), (uuid4(), ORDER, upload.upload_id)]:
        with pytest.raises(UploadNotFound):
            await complete(blobs, upload_id, MD_BYTES, org=org, order=order)
    with pytest.raises(UploadNotFound):
        await complete(blobs, uuid4(), MD_BYTES)
    assert (await complete(blobs, upload.upload_id, MD_BYTES, name="a.md")).media_type == MARKDOWN


async def test_uploads_never_completed_are_swept_by_age(blobs: S3BlobStore) -> None:
    stored = await documents.store_document(blobs, ORG, "kept.md", MD_BYTES, SALES, LIMIT)
    upload = await documents.begin_upload(blobs, ORG, ORDER, timedelta(minutes=5))
    await http("PUT", upload.url, MD_BYTES)
    assert await documents.sweep_uploads(blobs, datetime.now(UTC) - timedelta(hours=1)) == 0
    assert await documents.sweep_uploads(blobs, datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert [b.key for b in await blobs.list("")] == [documents.document_key(ORG, stored.sha256)]
