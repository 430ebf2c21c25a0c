"""The blob store port: objects by key in one bucket, and presigned URLs for clients.

Adapters translate their library's errors into `BlobNotFound` and `infra.errors.Unavailable`
("s3"), so a caller can tell "no such object" from "try again later".
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.errors import InfraError


class BlobNotFound(InfraError):
    """No object under that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob {key!r}")
        self.key = key


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    modified: datetime  # timezone-aware, as the store recorded it


class BlobStore(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        """Make sure the bucket exists (idempotent; adapters also do it on first use)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """One round trip: the bucket answers (raises Unavailable otherwise); for readiness probes."""

    @abc.abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any object there."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """The whole object; BlobNotFound if there is none."""

    @abc.abstractmethod
    async def stat(self, key: str) -> BlobInfo | None:
        """The object's size and time, or None when there is none."""

    @abc.abstractmethod
    async def copy(self, source: str, target: str) -> None:
        """Copy an object inside the store (no round trip through us); BlobNotFound if absent."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing one is not an error."""

    @abc.abstractmethod
    async def list(self, prefix: str) -> list[BlobInfo]:
        """Every object whose key starts with `prefix`, in key order."""

    @abc.abstractmethod
    async def upload_url(self, key: str, expires: timedelta) -> str:
        """A URL a client may PUT the object's bytes to, without credentials, until it expires."""

    @abc.abstractmethod
    async def download_url(self, key: str, expires: timedelta) -> str:
        """A URL a client may GET the object from, without credentials, until it expires."""
