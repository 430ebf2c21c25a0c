"""Who asks, for which organisation, under which correlation: handed to every handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from domain.ids import new_id
from schemas.roles import Role


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    actor_id: UUID
    org_id: UUID
    roles: frozenset[Role]
    correlation_id: str = field(default_factory=lambda: str(new_id()))
    causation_id: str | None = None
    idempotency_key: str | None = None
    clock: Callable[[], datetime] = utc_now
