"""SOP documents on the real S3 server: checked, content-addressed and stored once; a presigned
upload checked on completion, the same answer when completion is asked again; stale uploads swept."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.documents import UPLOADS, SopDocuments, document_key
from domain.documents import MARKDOWN, PDF, DocumentTooLarge, UnsupportedDocument, UploadMismatch, UploadNotFound
from domain.order import Document
from infra.blobs.s3 import S3BlobStore
from tests.integration.presigned import http

ORG, ORDER, SALES = uuid4(), uuid4(), uuid4()
PDF_BYTES = b"%PDF-1.7\n" + b"stream of a scanned SOP " * 40_000  # 960 kB
MD_BYTES = b"# Forklift inspection\n\n1. Check the forks for cracks.\n"


@pytest.fixture
def documents(blobs: S3BlobStore) -> SopDocuments:
    return SopDocuments(blobs, max_bytes=1_000_000, order_max_bytes=2_000_000, orphan_age=timedelta(hours=1))


async def complete(
    documents: SopDocuments, upload_id: UUID, content: bytes, *, org: UUID = ORG, order: UUID = ORDER, **declared: Any
) -> Document:
    """Complete an upload declaring `content`'s size and sha256 unless `declared` says otherwise."""
    values: dict[str, Any] = {
        "name": "big.pdf",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "uploaded_by": SALES,
    }
    return await documents.complete_upload(org, order, upload_id, **(values | declared))


async def test_a_small_document_is_stored_at_its_content_address_once(
    documents: SopDocuments, blobs: S3BlobStore
) -> None:
    doc = documents.checked(MD_BYTES, " forklift.md ", SALES)
    assert (doc.name, doc.media_type, doc.size, doc.uploaded_by) == ("forklift.md", MARKDOWN, len(MD_BYTES), SALES)
    assert doc.sha256 == hashlib.sha256(MD_BYTES).hexdigest()
    await documents.store(ORG, doc, MD_BYTES)
    await documents.store(ORG, documents.checked(MD_BYTES, "copy.txt", SALES), MD_BYTES)
    assert [b.key for b in await blobs.list(f"orgs/{ORG}/")] == [document_key(ORG, doc.sha256)]
    assert await blobs.get(document_key(ORG, doc.sha256)) == MD_BYTES
    url = await documents.download_url(ORG, doc.sha256)
    assert await http("GET", url) == (200, MD_BYTES)


def test_a_document_of_the_wrong_type_or_size_is_refused(documents: SopDocuments) -> None:
    with pytest.raises(UnsupportedDocument):
        documents.checked(b"MZ\x90\x00 an exe named pdf", "sop.pdf", SALES)
    with pytest.raises(DocumentTooLarge):
        documents.checked(PDF_BYTES + bytes(50_000), "big.pdf", SALES)


async def test_a_large_document_is_uploaded_by_url_and_completed(documents: SopDocuments, blobs: S3BlobStore) -> None:
    upload = await documents.begin_upload(ORG, ORDER)
    assert await http("PUT", upload.url, PDF_BYTES) == (200, b"")
    doc = await complete(documents, upload.upload_id, PDF_BYTES)
    sha = hashlib.sha256(PDF_BYTES).hexdigest()
    assert (doc.sha256, doc.media_type, doc.size) == (sha, PDF, len(PDF_BYTES))
    assert await complete(documents, upload.upload_id, PDF_BYTES) == doc  # asked again: the same answer
    assert await blobs.get(document_key(ORG, sha)) == PDF_BYTES


@pytest.mark.parametrize(
    ("declared_size", "declared_sha", "error"),
    [
        (len(PDF_BYTES) + 1, None, UploadMismatch),
        (len(PDF_BYTES), "0" * 64, UploadMismatch),
    ],
)
async def test_an_upload_that_is_not_what_was_declared_is_refused(
    documents: SopDocuments, blobs: S3BlobStore, declared_size: int, declared_sha: str | None, error: type[Exception]
) -> None:
    upload = await documents.begin_upload(ORG, ORDER)
    await http("PUT", upload.url, PDF_BYTES)
    sha = declared_sha or hashlib.sha256(PDF_BYTES).hexdigest()
    with pytest.raises(error):
        await complete(documents, upload.upload_id, PDF_BYTES, size=declared_size, sha256=sha)
    assert await blobs.list("orgs/") == []
    await documents.discard_upload(ORG, ORDER, upload.upload_id)
    assert await blobs.list("") == []


async def test_an_oversized_upload_is_refused(blobs: S3BlobStore) -> None:
    small = SopDocuments(blobs, max_bytes=1000, order_max_bytes=1000)
    upload = await small.begin_upload(ORG, ORDER)
    await http("PUT", upload.url, PDF_BYTES)
    with pytest.raises(DocumentTooLarge):
        await complete(small, upload.upload_id, PDF_BYTES)


async def test_an_upload_of_another_order_or_never_made_is_not_found(documents: SopDocuments) -> None:
    upload = await documents.begin_upload(ORG, ORDER)
    await http("PUT", upload.url, MD_BYTES)
    for org, order in [(ORG, uuid4()), (uuid4(), ORDER)]:
        with pytest.raises(UploadNotFound):
            await complete(documents, upload.upload_id, MD_BYTES, org=org, order=order)
    with pytest.raises(UploadNotFound):
        await complete(documents, uuid4(), MD_BYTES)
    assert (await complete(documents, upload.upload_id, MD_BYTES, name="a.md")).media_type == MARKDOWN


async def test_uploads_are_swept_once_older_than_the_orphan_age(documents: SopDocuments, blobs: S3BlobStore) -> None:
    kept = documents.checked(MD_BYTES, "kept.md", SALES)
    await documents.store(ORG, kept, MD_BYTES)
    upload = await documents.begin_upload(ORG, ORDER)
    await http("PUT", upload.url, MD_BYTES)
    now = datetime.now(UTC)
    assert await documents.sweep_uploads(now) == 0
    assert await documents.sweep_uploads(now + timedelta(hours=1, minutes=1)) == 1
    assert await blobs.list(UPLOADS) == []
    assert [b.key for b in await blobs.list("")] == [document_key(ORG, kept.sha256)]
