"""The handler that records a seal of the log."""

from __future__ import annotations

from commands.bus import Decided
from commands.session import Session
from domain.seal import SEALS_STREAM, LogSeals, Seal
from schemas import commands as c


async def seal_log(cmd: c.SealLog, s: Session) -> Decided:
    seals = await s.load(LogSeals, SEALS_STREAM)
    seals.seal(
        Seal(
            sequence=cmd.sequence,
            first_position=cmd.first_position,
            last_position=cmd.last_position,
            root=cmd.root,
            previous=cmd.previous,
            heads=tuple((h[0], h[1], h[2], h[3]) for h in cmd.heads),
            public_key=cmd.public_key,
            signature=cmd.signature,
            digest=cmd.digest,
        )
    )
    return Decided(seals, "seal", {"sequence": cmd.sequence})
