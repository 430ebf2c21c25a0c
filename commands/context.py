"""Who asks, for which organisation, under which correlation: handed to every handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from domain.ids import new_id
from schemas.roles import Role


@dataclass(frozen=True)
class Context:
    actor_id: UUID
    org_id: UUID
    roles: frozenset[Role]
    correlation_id: str = field(default_factory=lambda: str(new_id()))
    causation_id: str | None = None
    idempotency_key: str | None = None
    # A client's key (HTTP, NATS) is bound to its request: another body, command or caller of the
    # organisation is refused. A worker's key (derived from an event and a step) replays its first
    # answer whatever it sends again, e.g. a lesson an LLM wrote anew after a restart.
    bind_key: bool = False
    # Decide first on the streams this process holds, with no read (the bus's optimistic first
    # try). A worker whose streams other processes write (the certifier) says False: that first
    # decision could only miss, so it is taken on a fresh read at once.
    held_first: bool = True
