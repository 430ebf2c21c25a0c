"""The blob store port's contract, run against the S3 adapter on a real `weed mini` server; then
what only a real server shows: presigned URLs, and S3 stopped and started again (under the store,
and under the document commands)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commands.bus import CommandBus
from commands.routes import ROUTES
from infra.blobs import BlobNotFound, BlobStore
from infra.blobs.s3 import S3BlobStore
from infra.devprocess import ManagedProcess
from infra.errors import Unavailable
from infra.eventlog.postgres import PostgresEventStore
from infra.seaweed import free_port_pairs, start_weed
from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.integration.presigned import http
from tests.integration.test_orders import MD, Sales, documents_on, order_of
from tests.memory_blobstore import MemoryBlobStore
from tests.ports import make_ports


class BlobStoreContract:
    """What every blob store does; a backend's test class subclasses this and gives `store`."""

    @pytest.fixture
    def store(self) -> BlobStore:
        raise NotImplementedError

    async def test_an_object_is_stored_and_read_back(self, store: BlobStore) -> None:
        before = datetime.now(UTC) - timedelta(minutes=5)
        await store.put("docs/a.txt", b"hello", "text/plain")
        assert await store.get("docs/a.txt") == b"hello"
        info = await store.stat("docs/a.txt")
        assert info is not None and (info.key, info.size) == ("docs/a.txt", 5)
        assert info.modified > before

    async def test_put_replaces_the_object(self, store: BlobStore) -> None:
        await store.put("k", b"one", "text/plain")
        await store.put("k", b"second", "text/plain")
        assert await store.get("k") == b"second"

    async def test_a_missing_object_is_not_found(self, store: BlobStore) -> None:
        assert await store.stat("missing") is None
        with pytest.raises(BlobNotFound):
            await store.get("missing")
        with pytest.raises(BlobNotFound):
            await store.copy("missing", "elsewhere")

    async def test_an_object_is_copied_and_deleted(self, store: BlobStore) -> None:
        data = bytes(range(256)) * 10
        await store.put("staging/x", data, "application/octet-stream")
        await store.copy("staging/x", "final/x")
        await store.delete("staging/x")
        await store.delete("staging/x")  # a second delete is not an error
        assert await store.stat("staging/x") is None
        assert await store.get("final/x") == data

    async def test_objects_are_listed_by_prefix_in_key_order(self, store: BlobStore) -> None:
        for key in ("p/b", "p/a", "p/sub/c", "q/d"):
            await store.put(key, key.encode(), "text/plain")
        assert [b.key for b in await store.list("p/")] == ["p/a", "p/b", "p/sub/c"]
        assert [b.size for b in await store.list("q/")] == [3]
        assert await store.list("none/") == []

    async def test_start_twice_is_harmless(self, store: BlobStore) -> None:
        await store.put("k", b"kept", "text/plain")
        await store.start()
        assert await store.get("k") == b"kept"


class TestMemoryBlobStore(BlobStoreContract):
    """The tests' fake keeps the same contract."""

    @pytest.fixture
    def store(self) -> BlobStore:
        return MemoryBlobStore()


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, blobs: S3BlobStore) -> BlobStore:
        return blobs

    async def test_a_client_uploads_and_downloads_by_presigned_url(self, store: BlobStore) -> None:
        data = b"%PDF-1.7 " + bytes(300_000)
        put_url = await store.upload_url("uploads/1", timedelta(minutes=5))
        assert await http("PUT", put_url, data) == (200, b"")
        info = await store.stat("uploads/1")
        assert info is not None and info.size == len(data)
        get_url = await store.download_url("uploads/1", timedelta(minutes=5))
        assert await http("GET", get_url) == (200, data)

    async def test_a_tampered_url_is_refused(self, store: BlobStore) -> None:
        await store.put("secret/a", b"mine", "text/plain")
        url = await store.download_url("secret/a", timedelta(minutes=5))
        status, _ = await http("GET", url.replace("secret/a", "secret/b"))
        assert status == 403

    async def test_wrong_credentials_are_refused(self, blobs: S3BlobStore) -> None:
        wrong = S3BlobStore(blobs.endpoint, S3_ACCESS_KEY, "not-the-secret", blobs.bucket)
        with pytest.raises(Unavailable):
            await wrong.put("k", b"x", "text/plain")
        assert await blobs.stat("k") is None


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[tuple[int, Path, list[ManagedProcess]]]:
    """A weed mini of this test's own, which the test may stop and start again."""
    (port,) = free_port_pairs(1)
    procs = [start_weed(tmp_path, port, tmp_path, S3_ACCESS_KEY, S3_SECRET_KEY)]
    yield port, tmp_path, procs
    for proc in procs:
        proc.stop()


@pytest.fixture
async def own_store(own_s3: tuple[int, Path, list[ManagedProcess]]) -> AsyncIterator[S3BlobStore]:
    store = S3BlobStore(f"http://127.0.0.1:{own_s3[0]}", S3_ACCESS_KEY, S3_SECRET_KEY, "restart-test")
    await store.start()
    yield store
    await store.close()


async def test_s3_down_is_unavailable_and_kept_objects_survive_a_restart(
    own_s3: tuple[int, Path, list[ManagedProcess]], own_store: S3BlobStore
) -> None:
    port, folder, procs = own_s3
    await own_store.put("kept", b"before the outage", "text/plain")
    procs[0].stop()
    with pytest.raises(Unavailable):
        await own_store.put("lost", b"during", "text/plain")
    with pytest.raises(Unavailable):
        await own_store.get("kept")
    procs.append(start_weed(folder, port, folder, S3_ACCESS_KEY, S3_SECRET_KEY))
    assert await own_store.get("kept") == b"before the outage"
    assert await own_store.stat("lost") is None


async def test_document_commands_across_an_s3_restart_succeed_or_fail_cleanly(
    own_s3: tuple[int, Path, list[ManagedProcess]], own_store: S3BlobStore, store: PostgresEventStore
) -> None:
    """Documents attached while S3 stops, while it is down and after it is back: each command
    either succeeds (its event and its whole object) or fails with 503 and changes nothing; a
    retry after the restart succeeds; no object is left that is not a whole attached document."""
    port, folder, procs = own_s3
    world = Sales(CommandBus(store, ROUTES, make_ports(documents=documents_on(own_store))))
    order = await world.place()
    docs = {f"sop-{i}.md": MD + f"\n{i}. Step {i} of the procedure.\n".encode() for i in range(20)}

    async def add(name: str) -> bool:
        try:
            await world.add(order, docs[name], name)
        except Unavailable:
            return False
        return True

    names = list(docs)
    stopping = [asyncio.create_task(add(name)) for name in names[:12]]
    await asyncio.to_thread(procs[0].stop)  # while those run
    outcomes = dict(zip(names[:12], await asyncio.gather(*stopping), strict=True))
    outcomes |= {name: await add(name) for name in names[12:]}
    assert not any(outcomes[name] for name in names[12:])  # down: refused, every one
    kept = await order_of(store, order)
    assert sorted(d.name for d in kept.documents.values()) == sorted(n for n, ok in outcomes.items() if ok)
    assert len(await store.read_stream(order)) == 1 + len(kept.documents)  # nothing else was written

    procs.append(start_weed(folder, port, folder, S3_ACCESS_KEY, S3_SECRET_KEY))
    for name in [n for n, ok in outcomes.items() if not ok]:
        assert await add(name)  # the caller was told to retry: now it works
    final = await order_of(store, order)
    assert sorted(d.name for d in final.documents.values()) == sorted(names)  # each once
    objects = await own_store.list(f"orgs/{world.org}/")
    assert sorted(b.key.rsplit("/", 1)[1] for b in objects) == sorted(final.documents)
    for b in objects:  # whole objects only: each one's content is its address
        assert hashlib.sha256(await own_store.get(b.key)).hexdigest() == b.key.rsplit("/", 1)[1]
