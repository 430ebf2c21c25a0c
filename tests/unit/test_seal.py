"""The seals stay one chain: each follows the last, names its digest and covers what follows."""

from __future__ import annotations

import msgspec
import pytest

from domain.seal import GENESIS_DIGEST, SEALS_STREAM, LogSeals, Seal, SealOutOfOrder
from infra.eventlog.catalogue import encode
from infra.eventlog.merkle import root
from infra.eventlog.seals import SealKey, StreamHead, decode_seal, seal_problem

KEY = SealKey.from_hex("33" * 32)


def signed(sequence: int, first: int, last: int, previous: str) -> Seal:
    s = KEY.seal(sequence, first, last, root([bytes(32)]), previous, (StreamHead("s", 1, last, "ab"),))
    return Seal(
        s.sequence, s.first_position, s.last_position, s.root, s.previous,
        tuple((h.stream_id, h.version, h.position, h.hash) for h in s.heads), s.public_key, s.signature, s.digest,
    )  # fmt: skip


def test_seals_chain_and_refuse_a_gap_a_replay_or_a_fork() -> None:
    seals = LogSeals.blank(SEALS_STREAM)
    first = signed(1, 1, 10, GENESIS_DIGEST)
    seals.seal(first)
    for wrong in (signed(2, 12, 20, first.digest), signed(1, 1, 10, GENESIS_DIGEST), signed(2, 11, 20, GENESIS_DIGEST)):
        with pytest.raises(SealOutOfOrder):
            seals.seal(wrong)
    seals.seal(signed(2, 11, 20, first.digest))
    assert (seals.sequence, seals.sealed_through) == (2, 20)


def test_the_recorded_event_reads_back_as_the_signed_seal() -> None:
    """The domain's event and infra's reading of its payload agree on every field."""
    seal = signed(1, 1, 10, GENESIS_DIGEST)
    back = decode_seal(encode(LogSeals.Sealed(seal)))
    assert msgspec.json.encode(back) == msgspec.json.encode(seal)
    assert seal_problem(back, None, frozenset({KEY.public_key})) is None
    tampered = msgspec.structs.replace(back, last_position=11)
    assert seal_problem(tampered, None, frozenset({KEY.public_key})) == "its digest does not match its statement"
