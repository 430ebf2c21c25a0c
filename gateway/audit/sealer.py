"""The sealer: a worker that periodically seals the log since the last seal and records the seal
as an event (through the command bus, so the domain keeps the seals in one chain)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import UUID

from commands.bus import CommandBus
from commands.context import Context
from domain.errors import DomainError
from domain.seal import GENESIS_DIGEST, SEALS_STREAM
from gateway.audit.service import Connect
from infra.errors import InfraError
from infra.eventlog.reader import LogReader
from infra.eventlog.seals import Seal, SealKey, Span, decode_seal
from infra.logging import get_logger
from infra.settings import Settings
from schemas.commands import SealLog

log = get_logger(__name__)

# The sealer acts as the platform: one fixed actor, recorded on every seal event.
SEALER_ID = UUID("5ea1e500-0000-7000-8000-000000000001")
PAGE = 5000


def seal_key(settings: Settings) -> SealKey:
    """The seal key from CW_AUDIT_SEAL_KEY, else the one in the data dir (created on first use)."""
    if settings.audit_seal_key is not None:
        return SealKey.from_hex(settings.audit_seal_key.get_secret_value())
    return SealKey.load_or_create(seal_key_path(settings))


def seal_key_path(settings: Settings) -> Path:
    return settings.data_dir / "audit" / "seal.key"


def trusted_keys(settings: Settings, key: SealKey | None = None) -> frozenset[str]:
    """The public keys whose seals verify: this platform's key and any listed in settings."""
    listed = {k.strip().lower() for k in settings.audit_trusted_keys.split(",") if k.strip()}
    if key is not None:
        listed.add(key.public_key)
    elif settings.audit_seal_key is not None or seal_key_path(settings).exists():
        listed.add(seal_key(settings).public_key)
    return frozenset(listed)


class Sealer:
    """Seals everything committed since the last seal, at most `max_events` positions at a time."""

    def __init__(self, connect: Connect, bus: CommandBus, key: SealKey, *, max_events: int = 10_000) -> None:
        self.connect = connect
        self.bus = bus
        self.key = key
        self.max_events = max_events

    async def seal_once(self) -> Seal | None:
        """Seal the next range of the log, if anything is unsealed; the seal recorded, or None."""
        async with self.connect() as conn:
            # With the barrier: a seal must never cover an event a crash could still take back.
            reader = LogReader(conn)
            stored = await reader.stream(SEALS_STREAM)
            last = decode_seal(stored[-1].payload) if stored else None
            first = last.last_position + 1 if last else 1
            until = min(await reader.head(), first + self.max_events - 1)
            if until < first:
                return None
            span, after = Span(), first - 1
            while after < until and (events := await reader.read(after, min(PAGE, until - after))):
                for e in events:
                    span.add(e)
                after = events[-1].position
        if span.size != after - first + 1:
            log.error("seal.gap", first=first, last=after, events=span.size)
            return None
        seal = self.key.seal(
            (last.sequence if last else 0) + 1,
            first,
            after,
            span.root(),
            last.digest if last else GENESIS_DIGEST,
            span.heads(),
        )
        ctx = Context(actor_id=SEALER_ID, org_id=SEALER_ID, roles=frozenset({"platform_admin"}))
        await self.bus.handle(
            SealLog(
                sequence=seal.sequence,
                first_position=seal.first_position,
                last_position=seal.last_position,
                root=seal.root,
                previous=seal.previous,
                heads=[(h.stream_id, h.version, h.position, h.hash) for h in seal.heads],
                public_key=seal.public_key,
                signature=seal.signature,
                digest=seal.digest,
            ),
            ctx,
        )
        log.info("seal.recorded", sequence=seal.sequence, first=first, last=after)
        return seal

    async def seal_backlog(self) -> list[Seal]:
        """Seal until the log is caught up: range after range while a seal is full. (Each seal is
        an event itself, so "until nothing is left" would never end.)"""
        made: list[Seal] = []
        while (seal := await self.seal_once()) is not None:
            made.append(seal)
            if seal.last_position - seal.first_position + 1 < self.max_events:
                break
        return made

    async def run(self, every: float) -> None:
        """Seal every `every` seconds until cancelled; a failed round is logged and retried."""
        while True:
            try:
                await self.seal_backlog()
            except (DomainError, InfraError) as e:  # another sealer won the race, or an outage
                log.warning("seal.skipped", error=str(e))
            await asyncio.sleep(every)
