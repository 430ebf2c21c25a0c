"""SOP documents in the blob store: checked, content-addressed per organisation, stored once.

A small document arrives in the request and is stored at once. A large one is PUT by the client
to a presigned URL under a staging key (`begin_upload`); `complete_upload` then checks the object
against the size and sha256 the client declares, and its type, before copying it to its content
address. Whatever fails a check is deleted; uploads never completed are swept by age.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from domain.documents import DocumentTooLarge, UnsupportedDocument, UploadMismatch, UploadNotFound, media_type_of
from domain.ids import new_id
from domain.order import Document
from infra.blobs import BlobStore

UPLOADS = "uploads/"


@dataclass(frozen=True)
class Upload:
    upload_id: UUID
    url: str
    expires_in: timedelta


def document_key(org_id: UUID, sha256: str) -> str:
    """Where a document's content lives: one object per organisation and content."""
    return f"orgs/{org_id}/sop/{sha256}"


def upload_key(org_id: UUID, order_id: UUID, upload_id: UUID) -> str:
    return f"{UPLOADS}{org_id}/{order_id}/{upload_id}"


def checked(content: bytes, name: str, uploaded_by: UUID, max_bytes: int) -> Document:
    """The document `content` is, refused when it is too large or of no accepted type."""
    if len(content) > max_bytes:
        raise DocumentTooLarge(f"{name} has {len(content)} bytes; a document may have at most {max_bytes}")
    media_type = media_type_of(content)
    if media_type is None:
        raise UnsupportedDocument(f"{name} is not a PDF, DOCX, Markdown, text, PNG or JPEG document")
    return Document(hashlib.sha256(content).hexdigest(), name.strip(), media_type, len(content), uploaded_by)


async def store_document(
    blobs: BlobStore, org_id: UUID, name: str, content: bytes, uploaded_by: UUID, max_bytes: int
) -> Document:
    """Check a document sent whole and store it, unless the same content is stored already."""
    document = checked(content, name, uploaded_by, max_bytes)
    key = document_key(org_id, document.sha256)
    if await blobs.stat(key) is None:
        await blobs.put(key, content, document.media_type)
    return document


async def begin_upload(blobs: BlobStore, org_id: UUID, order_id: UUID, expires_in: timedelta) -> Upload:
    """A staging key and the URL the client PUTs the document's bytes to."""
    upload_id = new_id()
    url = await blobs.upload_url(upload_key(org_id, order_id, upload_id), expires_in)
    return Upload(upload_id, url, expires_in)


async def complete_upload(
    blobs: BlobStore,
    org_id: UUID,
    order_id: UUID,
    upload_id: UUID,
    *,
    name: str,
    size: int,
    sha256: str,
    uploaded_by: UUID,
    max_bytes: int,
) -> Document:
    """Check the uploaded object against what the client declares and move it to its content
    address; a refused upload is deleted."""
    staging = upload_key(org_id, order_id, upload_id)
    info = await blobs.stat(staging)
    if info is None:
        raise UploadNotFound(f"upload {upload_id} not found")
    try:
        if info.size != size:
            raise UploadMismatch(f"the upload has {info.size} bytes, not the {size} declared")
        if info.size > max_bytes:
            raise DocumentTooLarge(f"{name} has {info.size} bytes; a document may have at most {max_bytes}")
        content = await blobs.get(staging)
        document = checked(content, name, uploaded_by, max_bytes)
        if document.sha256 != sha256.lower():
            raise UploadMismatch(f"the upload's sha256 is {document.sha256}, not the {sha256} declared")
    except (UploadMismatch, DocumentTooLarge, UnsupportedDocument):
        await blobs.delete(staging)
        raise
    key = document_key(org_id, document.sha256)
    if await blobs.stat(key) is None:
        await blobs.copy(staging, key)
    await blobs.delete(staging)
    return document


async def download_url(blobs: BlobStore, org_id: UUID, sha256: str, expires_in: timedelta) -> str:
    return await blobs.download_url(document_key(org_id, sha256), expires_in)


async def sweep_uploads(blobs: BlobStore, older_than: datetime) -> int:
    """Delete staged uploads last written before `older_than`; returns how many."""
    stale = [b for b in await blobs.list(UPLOADS) if b.modified < older_than]
    for blob in stale:
        await blobs.delete(blob.key)
    return len(stale)
