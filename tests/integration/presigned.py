"""A client's side of a presigned URL: plain HTTP with no credentials."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request


def _send(method: str, url: str, data: bytes | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def http(method: str, url: str, data: bytes | None = None) -> tuple[int, bytes]:
    """(status, body) of one request, sent from a worker thread."""
    return await asyncio.to_thread(_send, method, url, data)
