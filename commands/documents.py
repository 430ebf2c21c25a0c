"""SOP documents in the blob store: checked, content-addressed per organisation, stored once.

A small document arrives in the command and is stored at once. A large one is PUT by the client
to a presigned URL under a staging key (`begin_upload`); `complete_upload` then checks the
object against the size and sha256 the client declares, and its type, and copies it to its
content address. Staged objects are deleted by `sweep_uploads` once they are older than the
orphan age (completed, refused or never completed alike): a completion that is decided again
after a conflict finds its staged object still there.
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


class SopDocuments:
    """The SOP documents of every order, on a blob store, with the limits on what is taken."""

    def __init__(
        self,
        blobs: BlobStore,
        *,
        max_bytes: int,
        order_max_bytes: int,
        url_expiry: timedelta = timedelta(minutes=15),
        orphan_age: timedelta = timedelta(hours=24),
    ) -> None:
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.order_max_bytes = order_max_bytes
        self.url_expiry = url_expiry
        self.orphan_age = orphan_age

    def checked(self, content: bytes, name: str, uploaded_by: UUID) -> Document:
        """The document `content` is, refused when it is too large or of no accepted type."""
        if len(content) > self.max_bytes:
            raise DocumentTooLarge(f"{name} has {len(content)} bytes; a document may have at most {self.max_bytes}")
        media_type = media_type_of(content)
        if media_type is None:
            raise UnsupportedDocument(f"{name} is not a PDF, DOCX, HTML, Markdown, text, PNG or JPEG document")
        return Document(hashlib.sha256(content).hexdigest(), name.strip(), media_type, len(content), uploaded_by)

    async def store(self, org_id: UUID, document: Document, content: bytes) -> None:
        """Store a checked document's content unless the same content is stored already."""
        key = document_key(org_id, document.sha256)
        if await self.blobs.stat(key) is None:
            await self.blobs.put(key, content, document.media_type)

    async def begin_upload(self, org_id: UUID, order_id: UUID) -> Upload:
        """A staging key and the URL the client PUTs the document's bytes to."""
        upload_id = new_id()
        url = await self.blobs.upload_url(upload_key(org_id, order_id, upload_id), self.url_expiry)
        return Upload(upload_id, url, self.url_expiry)

    async def complete_upload(
        self, org_id: UUID, order_id: UUID, upload_id: UUID, *, name: str, size: int, sha256: str, uploaded_by: UUID
    ) -> Document:
        """Check the staged object against what the client declares and copy it to its content
        address (the same answer every time it is asked: decisions may be taken twice)."""
        staging = upload_key(org_id, order_id, upload_id)
        info = await self.blobs.stat(staging)
        if info is None:
            raise UploadNotFound(f"upload {upload_id} not found")
        if info.size != size:
            raise UploadMismatch(f"the upload has {info.size} bytes, not the {size} declared")
        if info.size > self.max_bytes:
            raise DocumentTooLarge(f"{name} has {info.size} bytes; a document may have at most {self.max_bytes}")
        document = self.checked(await self.blobs.get(staging), name, uploaded_by)
        if document.sha256 != sha256.lower():
            raise UploadMismatch(f"the upload's sha256 is {document.sha256}, not the {sha256} declared")
        key = document_key(org_id, document.sha256)
        if await self.blobs.stat(key) is None:
            await self.blobs.copy(staging, key)
        return document

    async def discard_upload(self, org_id: UUID, order_id: UUID, upload_id: UUID) -> None:
        """Delete a staged object now (a refusal that is final)."""
        await self.blobs.delete(upload_key(org_id, order_id, upload_id))

    async def download_url(self, org_id: UUID, sha256: str) -> str:
        return await self.blobs.download_url(document_key(org_id, sha256), self.url_expiry)

    async def sweep_uploads(self, now: datetime) -> int:
        """Delete staged uploads older than the orphan age; returns how many."""
        stale = [b for b in await self.blobs.list(UPLOADS) if b.modified < now - self.orphan_age]
        for blob in stale:
            await self.blobs.delete(blob.key)
        return len(stale)
