"""What the gateway's handlers use, built once by the composition root (gateway/bootstrap.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commands.bus import CommandBus
from commands.ports import Ports
from gateway.audit.service import AuditLog
from gateway.labs_remote import RemoteLabs, lab_desk
from infra.apikeys import ApiKeys
from infra.availability import Dependencies
from infra.eventlog.postgres import PostgresEventStore
from infra.nats import NatsConnector
from infra.revocations import Revocations
from infra.settings import Settings
from labrunner.runner import LabRunner
from labrunner.service import LabDesk
from projections.queries.reader import Reader


@dataclass(frozen=True)
class Services:
    """The shared adapters of one process, as the HTTP app sees them."""

    settings: Settings
    store: PostgresEventStore
    bus: CommandBus
    ports: Ports
    reader: Reader  # the read models' queries, on the store's pool and the query cache
    audit: AuditLog  # histories, past states and verification of the log, on the store's pool
    dependencies: Dependencies  # what answers, as last seen (shared by the whole process)
    nats: NatsConnector  # the process's NATS connections (the probes')
    api_keys: ApiKeys  # the organisations' API keys, held in memory by the process
    revocations: Revocations  # the ended sign-ins, held in memory by the process
    redis: Any | None = None  # redis.asyncio.Redis, None with no CW_REDIS_URL (the cache is off)
    labs: LabRunner | None = None  # the lab runner of this process, if it runs one
    remote_labs: RemoteLabs | None = None  # the lab runner process, over NATS (under `up`)

    def lab_desk(self) -> LabDesk | RemoteLabs:
        """Where lab requests go: this process's runner when it is open, else the runner process."""
        return lab_desk(LabDesk(self.labs) if self.labs is not None else None, self.remote_labs)

    @property
    def pool(self) -> Any:
        """The PostgreSQL connection pool (psycopg_pool.AsyncConnectionPool) for queries."""
        return self.store.pool
