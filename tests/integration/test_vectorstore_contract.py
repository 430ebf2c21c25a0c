"""One contract for every VectorStore: tenant filter, order filter, idempotent upsert, model check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import pytest

from infra.vectorstore import CollectionMismatch, MemoryVectorStore, Point, QdrantVectorStore, VectorStore


@pytest.fixture(params=["memory", "qdrant-local"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    made: VectorStore = MemoryVectorStore() if request.param == "memory" else QdrantVectorStore(path=tmp_path / "q")
    await made.ensure_collection("test-model", 3)
    yield made
    await made.close()


def _point(org: str, order: str, key: str, vector: list[float]) -> Point:
    return Point(uuid5(NAMESPACE_URL, f"{order}/{key}"), vector, org, order, {"key": key})


async def test_search_never_crosses_organisations(store: VectorStore) -> None:
    await store.upsert([_point("org-a", "o1", "a", [1, 0, 0]), _point("org-b", "o2", "b", [1, 0, 0])])
    hits = await store.search([1, 0, 0], org_id="org-a")
    assert [h.payload["key"] for h in hits] == ["a"]
    assert await store.search([1, 0, 0], org_id="org-c") == []


async def test_search_by_order_and_nearest_first(store: VectorStore) -> None:
    await store.upsert(
        [
            _point("org", "o1", "far", [0, 1, 0]),
            _point("org", "o1", "near", [0.9, 0.1, 0]),
            _point("org", "o2", "other-order", [1, 0, 0]),
        ]
    )
    hits = await store.search([1, 0, 0], org_id="org", order_id="o1", limit=5)
    assert [h.payload["key"] for h in hits] == ["near", "far"]
    assert hits[0].score > hits[1].score
    assert hits[0].payload["org_id"] == "org" and hits[0].payload["order_id"] == "o1"


async def test_upserting_the_same_ids_again_changes_nothing(store: VectorStore) -> None:
    points = [_point("org", "o1", str(n), [1, n, 0]) for n in range(5)]
    await store.upsert(points)
    await store.upsert(points)
    assert len(await store.search([1, 0, 0], org_id="org", limit=50)) == 5


async def test_a_collection_refuses_another_model(store: VectorStore) -> None:
    await store.ensure_collection("test-model", 3)  # the same model again is fine
    with pytest.raises(CollectionMismatch):
        await store.ensure_collection("other-model", 3)


async def test_qdrant_records_the_model_across_restarts(tmp_path: Path) -> None:
    first = QdrantVectorStore(path=tmp_path / "q")
    await first.ensure_collection("m", 3)
    await first.close()
    again = QdrantVectorStore(path=tmp_path / "q")
    try:
        with pytest.raises(CollectionMismatch):
            await again.ensure_collection("m", 4)
    finally:
        await again.close()
