"""Vector stores for SOP chunks: points with a tenant payload, searched within one organisation."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from infra.errors import InfraError, Unavailable


class CollectionMismatch(InfraError):
    """The collection was built with another embedding model or dimension."""


@dataclass(frozen=True)
class Point:
    id: UUID
    vector: list[float]
    org_id: str
    order_id: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    id: UUID
    score: float
    payload: dict[str, Any]


class VectorStore(ABC):
    """One collection of chunk vectors. Every search names an organisation: a tenant never
    retrieves another's text. Upserting a point id again replaces it (idempotent)."""

    @abstractmethod
    async def ensure_collection(self, model: str, dimension: int) -> None:
        """Create the collection for this model, or check that it was made for it."""

    @abstractmethod
    async def upsert(self, points: Sequence[Point]) -> None: ...

    @abstractmethod
    async def search(
        self, vector: list[float], *, org_id: str, order_id: str | None = None, limit: int = 8
    ) -> list[Hit]:
        """The nearest points of one organisation (and order, if given), best first."""

    @abstractmethod
    async def ping(self) -> None:
        """One cheap call: the store answers (raises otherwise); for readiness probes."""

    @abstractmethod
    async def close(self) -> None:
        """Release files and connections."""


class MemoryVectorStore(VectorStore):
    """Exact search over points held in memory: tests, and one-off evaluation runs."""

    def __init__(self) -> None:
        self.points: dict[UUID, Point] = {}
        self.model: tuple[str, int] | None = None

    async def ensure_collection(self, model: str, dimension: int) -> None:
        if self.model is not None and self.model != (model, dimension):
            raise CollectionMismatch(f"collection holds {self.model}, not {(model, dimension)}")
        self.model = (model, dimension)

    async def upsert(self, points: Sequence[Point]) -> None:
        for p in points:
            self.points[p.id] = p

    async def search(
        self, vector: list[float], *, org_id: str, order_id: str | None = None, limit: int = 8
    ) -> list[Hit]:
        scored = [
            Hit(p.id, _cosine(vector, p.vector), _payload(p))
            for p in self.points.values()
            if p.org_id == org_id and (order_id is None or p.order_id == order_id)
        ]
        return sorted(scored, key=lambda h: -h.score)[:limit]

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        self.points.clear()


class QdrantVectorStore(VectorStore):
    """Qdrant through qdrant-client: local mode on a folder (`path`) or a server (`url`).

    A local path may be opened by one process only; with several processes, use a server.
    The collection records the embedding model and dimension in its metadata.
    """

    def __init__(self, *, collection: str = "sop_chunks", path: Path | None = None, url: str = "") -> None:
        from qdrant_client import AsyncQdrantClient

        if bool(path) == bool(url):
            raise ValueError("give exactly one of path (local mode) or url (a Qdrant server)")
        self.collection = collection
        self.url = url
        try:
            self.client = AsyncQdrantClient(url=url) if url else AsyncQdrantClient(path=str(path))
        except RuntimeError as e:  # local mode: "Storage folder ... is already accessed by another instance"
            raise Unavailable("qdrant", str(e)) from e

    async def ensure_collection(self, model: str, dimension: int) -> None:
        from qdrant_client import models

        if await self.client.collection_exists(self.collection):
            info = await self.client.get_collection(self.collection)
            meta = info.config.metadata or {}
            if (meta.get("model"), meta.get("dimension")) != (model, dimension):
                raise CollectionMismatch(
                    f"{self.collection} holds vectors of {meta.get('model')} ({meta.get('dimension')}), not {model}"
                )
            return
        await self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            metadata={"model": model, "dimension": dimension},
        )
        if self.url:  # local mode has no payload indexes (it scans, and warns if asked)
            for key in ("org_id", "order_id"):
                await self.client.create_payload_index(self.collection, key, models.PayloadSchemaType.KEYWORD)

    async def upsert(self, points: Sequence[Point]) -> None:
        from qdrant_client import models

        if not points:
            return
        await self.client.upsert(
            self.collection,
            points=[models.PointStruct(id=str(p.id), vector=p.vector, payload=_payload(p)) for p in points],
            wait=True,
        )

    async def search(
        self, vector: list[float], *, org_id: str, order_id: str | None = None, limit: int = 8
    ) -> list[Hit]:
        from qdrant_client import models

        must: list[models.Condition] = [models.FieldCondition(key="org_id", match=models.MatchValue(value=org_id))]
        if order_id is not None:
            must.append(models.FieldCondition(key="order_id", match=models.MatchValue(value=order_id)))
        found = await self.client.query_points(
            self.collection, query=vector, query_filter=models.Filter(must=must), limit=limit, with_payload=True
        )
        return [Hit(UUID(str(p.id)), float(p.score), dict(p.payload or {})) for p in found.points]

    async def ping(self) -> None:
        await self.client.get_collections()

    async def close(self) -> None:
        await self.client.close()


def _payload(p: Point) -> dict[str, Any]:
    return {**p.payload, "org_id": p.org_id, "order_id": p.order_id}


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
