"""A blob store in memory for tests that do not look at documents; it subclasses the port and
passes the port's contract suite (tests/integration/test_blobstore.py), presigned URLs apart:
it hands out `memory://` URLs that nothing serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.blobs import BlobInfo, BlobNotFound, BlobStore


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, datetime]] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (bytes(data), datetime.now(UTC))

    async def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise BlobNotFound(key)
        return self.objects[key][0]

    async def stat(self, key: str) -> BlobInfo | None:
        found = self.objects.get(key)
        return None if found is None else BlobInfo(key, len(found[0]), found[1])

    async def copy(self, source: str, target: str) -> None:
        self.objects[target] = (await self.get(source), datetime.now(UTC))

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def list(self, prefix: str) -> list[BlobInfo]:
        return [BlobInfo(k, len(v[0]), v[1]) for k, v in sorted(self.objects.items()) if k.startswith(prefix)]

    async def upload_url(self, key: str, expires: timedelta) -> str:
        return f"memory://{key}?expires={int(expires.total_seconds())}"

    async def download_url(self, key: str, expires: timedelta) -> str:
        return f"memory://{key}?expires={int(expires.total_seconds())}"
