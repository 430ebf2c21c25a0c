"""Merkle roots and inclusion proofs of the log's seals (RFC 6962 / 9162 shape)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from infra.eventlog import merkle


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962's definition, recursively: split at the largest power of two below n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node(reference_root(leaves[:k]), reference_root(leaves[k:]))


leaf_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70)


@given(leaf_lists)
def test_the_incremental_root_is_the_recursive_one(leaves: list[bytes]) -> None:
    assert merkle.root(leaves) == reference_root(leaves)


@given(leaf_lists, st.data())
def test_every_leaf_has_a_proof_and_no_other_leaf_fits_it(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    top = merkle.root(leaves)
    path = merkle.inclusion_proof(leaves, index)
    assert merkle.verify_inclusion(leaves[index], index, len(leaves), path, top)
    assert len(path) <= max(1, len(leaves)).bit_length()
    forged = hashlib.sha256(leaves[index]).digest()
    assert not merkle.verify_inclusion(forged, index, len(leaves), path, top)
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        if leaves[other] != leaves[index]:
            assert not merkle.verify_inclusion(leaves[index], other, len(leaves), path, top)


def test_a_leaf_binds_its_position() -> None:
    digest = bytes(32)
    assert merkle.leaf(1, digest) != merkle.leaf(2, digest)
