"""Merkle trees over the log (RFC 6962's shape): a seal's root and one event's inclusion proof.

A leaf is an event's position and stored hash; since that hash covers the event and its stream's
history, a root over a range of positions fixes every event in it and their order. The tree is
RFC 6962's (leaves and nodes hashed with distinct prefixes, the left subtree the largest power
of two), so a proof is the usual audit path of about log2(n) hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

_LEAF = b"\x00"
_NODE = b"\x01"


def leaf(position: int, event_hash: bytes) -> bytes:
    """The leaf of the event at `position` whose stored hash is `event_hash`."""
    return hashlib.sha256(_LEAF + position.to_bytes(8, "big") + event_hash).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


class RootBuilder:
    """The root of leaves added one by one, in O(log n) memory (a seal covers many events)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (size, root) of perfect subtrees, largest first
        self.size = 0

    def add(self, leaf_hash: bytes) -> None:
        size, digest = 1, leaf_hash
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, digest = left_size + size, node(left, digest)
        self._stack.append((size, digest))
        self.size += 1

    def root(self) -> bytes:
        """The root of the leaves added so far (the RFC 6962 hash of an empty tree for none)."""
        if not self._stack:
            return hashlib.sha256(b"").digest()
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node(left, digest)
        return digest


def root(leaves: Iterable[bytes]) -> bytes:
    builder = RootBuilder()
    for item in leaves:
        builder.add(item)
    return builder.root()


class Tree:
    """All leaves of one range at hand: its root and any leaf's inclusion proof, with each
    subtree's root computed once however many proofs are drawn."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves
        self._roots: dict[tuple[int, int], bytes] = {}

    def root(self, lo: int = 0, hi: int | None = None) -> bytes:
        hi = len(self.leaves) if hi is None else hi
        if hi - lo == 1:
            return self.leaves[lo]
        if hi == lo:
            return hashlib.sha256(b"").digest()
        found = self._roots.get((lo, hi))
        if found is None:
            k = _split(hi - lo)
            found = self._roots[(lo, hi)] = node(self.root(lo, lo + k), self.root(lo + k, hi))
        return found

    def proof(self, index: int) -> list[bytes]:
        """The audit path of leaf `index`: the sibling hashes from the leaf up to the root."""
        if not 0 <= index < len(self.leaves):
            raise IndexError(f"leaf {index} is not in a tree of {len(self.leaves)}")
        path: list[bytes] = []
        lo, hi = 0, len(self.leaves)
        while hi - lo > 1:  # from the root down; reversed below, leaf first
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self.root(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.root(lo, lo + k))
                lo += k
        return path[::-1]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `leaves`."""
    return Tree(leaves).proof(index)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    """Whether `path` proves that `leaf_hash` is leaf `index` of the tree of `size` leaves with
    root `expected_root` (RFC 9162, 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, digest = index, size - 1, leaf_hash
    for sibling in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            digest = node(sibling, digest)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            digest = node(digest, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and digest == expected_root


def _split(n: int) -> int:
    """The largest power of two below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)
