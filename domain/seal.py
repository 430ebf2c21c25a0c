"""The log's seals: each a signed Merkle root over the events since the one before, chained.

The seals are one stream. What is signed and how is infrastructure (`infra.eventlog.seals`);
the rule kept here is the chain itself: seal n+1 follows seal n, names its digest and covers the
positions right after it, so no seal can be dropped, replaced or overlap another.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

SEALS_STREAM = name_id(UUID("6f1d2c3e-8a4b-4c5d-9e6f-7a8b9c0d1e2f"), "log-seals")
GENESIS_DIGEST = "00" * 32


class SealOutOfOrder(errors.Conflict):
    code = "seal_out_of_order"


@dataclass(frozen=True)
class Seal:
    """One seal: sequence, the positions it covers, Merkle root, previous seal's digest, the last
    event of each stream in range (stream id, version, position, hash), key, signature, digest."""

    sequence: int
    first_position: int
    last_position: int
    root: str
    previous: str
    heads: tuple[tuple[str, int, int, str], ...]
    public_key: str
    signature: str
    digest: str


class LogSeals(Aggregate):
    @dataclass(frozen=True)
    class Sealed(Event):
        seal: Seal

    def _init_state(self) -> None:
        self.sequence = 0
        self.sealed_through = 0  # the last position covered by a seal
        self.digest = GENESIS_DIGEST

    def seal(self, seal: Seal) -> None:
        """Record the next seal; refused unless it follows the last one exactly."""
        if seal.sequence != self.sequence + 1 or seal.previous != self.digest:
            raise SealOutOfOrder(f"seal {seal.sequence} does not follow seal {self.sequence}")
        if seal.first_position != self.sealed_through + 1 or seal.last_position < seal.first_position:
            raise SealOutOfOrder(f"a seal must cover positions from {self.sealed_through + 1}")
        self._record(self.Sealed(seal))

    def _on_Sealed(self, e: Sealed) -> None:
        self.sequence = e.seal.sequence
        self.sealed_through = e.seal.last_position
        self.digest = e.seal.digest
