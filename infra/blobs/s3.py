"""The blob store on any S3-compatible server (MinIO, AWS, SeaweedFS) through the minio SDK.

The SDK is synchronous: each call runs in a worker thread. Its HTTP client is ours, with short
timeouts and few retries, so that S3 being down fails a command in seconds instead of hanging it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import MinioException, S3Error

from infra.blobs.port import BlobInfo, BlobNotFound, BlobStore
from infra.errors import Unavailable

T = TypeVar("T")
_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")


class S3BlobStore(BlobStore):
    def __init__(self, url: str, access_key: str, secret_key: str, bucket: str, region: str = "us-east-1") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"an S3 URL is http(s)://host:port, not {url!r}")
        self.endpoint = url
        self.bucket = bucket
        self._bucket_ready = False
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=30.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.1, status_forcelist=(500, 502, 503, 504)),
            maxsize=10,
        )
        self._client = Minio(
            parts.netloc,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=parts.scheme == "https",
            region=region,  # given, so the SDK never asks the server where the bucket lives
            http_client=self._http,
        )

    async def _call(self, op: Callable[[], T], key: str = "") -> T:
        if not self._bucket_ready:  # made on first use: S3 may be down when the process starts
            await self.start()
        return await self._run(op, key)

    async def _run(self, op: Callable[[], T], key: str = "") -> T:
        try:
            return await asyncio.to_thread(op)
        except S3Error as e:
            if e.code in _MISSING:
                raise BlobNotFound(key) from e
            raise Unavailable("s3", f"{e.code}: {e.message}") from e
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as e:
            raise Unavailable("s3", type(e).__name__) from e

    async def start(self) -> None:
        def ensure() -> None:
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                except S3Error as e:  # another process made it meanwhile
                    if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

        await self._run(ensure)
        self._bucket_ready = True

    async def close(self) -> None:
        self._http.clear()

    async def ping(self) -> None:
        if not await self._run(lambda: self._client.bucket_exists(self.bucket)):
            raise Unavailable("s3", f"no bucket {self.bucket}")

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(lambda: self._client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type))

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            response = self._client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await self._call(read, key)

    async def stat(self, key: str) -> BlobInfo | None:
        try:
            found = await self._call(lambda: self._client.stat_object(self.bucket, key), key)
        except BlobNotFound:
            return None
        assert found.size is not None and found.last_modified is not None
        return BlobInfo(key, found.size, found.last_modified)

    async def copy(self, source: str, target: str) -> None:
        await self._call(lambda: self._client.copy_object(self.bucket, target, CopySource(self.bucket, source)), source)

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._client.remove_object(self.bucket, key), key)

    async def list(self, prefix: str) -> list[BlobInfo]:
        def listing() -> list[BlobInfo]:
            out = []
            for o in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                assert o.object_name is not None and o.size is not None and o.last_modified is not None
                out.append(BlobInfo(o.object_name, o.size, o.last_modified))
            return sorted(out, key=lambda b: b.key)

        return await self._call(listing)

    async def upload_url(self, key: str, expires: timedelta) -> str:
        return await self._call(lambda: self._client.presigned_put_object(self.bucket, key, expires))

    async def download_url(self, key: str, expires: timedelta) -> str:
        return await self._call(lambda: self._client.presigned_get_object(self.bucket, key, expires))
