"""Signed seals of the log: a Merkle root over a range of positions, chained and signed (Ed25519).

A seal covers positions `first..last` (everything since the previous seal), names the previous
seal's digest and is signed with the platform's seal key. An auditor who kept one seal can later
check that nothing before it changed; the chain of seals shows none was dropped or replaced.
The seals themselves are events (the domain's `LogSeals` stream); here is only what is signed,
the key and the check.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from infra.eventlog import merkle
from infra.eventlog.hashing import uuid_text
from schemas.envelope import EventEnvelope

GENESIS_SEAL = "00" * 32  # `previous` of the first seal


class StreamHead(msgspec.Struct, frozen=True, array_like=True):
    """A stream's last event within a seal's range: where its chain stood when it was sealed."""

    stream_id: str
    version: int
    position: int
    hash: str


class Seal(msgspec.Struct, frozen=True, kw_only=True):
    """A seal as recorded: the signed statement, the digest that the next seal chains to, the
    public key that signed it and the signature (bytes as hex)."""

    sequence: int
    first_position: int
    last_position: int
    root: str
    previous: str
    heads: tuple[StreamHead, ...]
    public_key: str
    signature: str
    digest: str

    def statement(self) -> bytes:
        """The bytes that are signed and hashed into `digest`."""
        return statement(self.sequence, self.first_position, self.last_position, self.root, self.previous, self.heads)


def statement(sequence: int, first: int, last: int, root: str, previous: str, heads: tuple[StreamHead, ...]) -> bytes:
    listed = hashlib.sha256(msgspec.json.encode(sorted(heads, key=lambda h: h.stream_id))).hexdigest()
    return f"coursewright-seal/1\n{sequence}\n{first}\n{last}\n{root}\n{previous}\n{listed}\n".encode()


class SealKey:
    """The platform's Ed25519 seal key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key = public_hex(private.public_key())

    @classmethod
    def from_hex(cls, seed_hex: str) -> SealKey:
        return cls(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)))

    @classmethod
    def load_or_create(cls, path: Path) -> SealKey:
        """The key in `path` (its 32-byte seed as hex), created there, readable by the owner
        only, if there is none yet."""
        if path.exists():
            return cls.from_hex(path.read_text().strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(seed.hex() + "\n")
        return cls.from_hex(seed.hex())

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of `message` (hex): what certificates carry."""
        return self._private.sign(message).hex()

    def seal(
        self, sequence: int, first: int, last: int, root: bytes, previous: str, heads: tuple[StreamHead, ...]
    ) -> Seal:
        """A signed seal of positions first..last with this Merkle root and stream heads."""
        heads = tuple(sorted(heads, key=lambda h: h.stream_id))
        message = statement(sequence, first, last, root.hex(), previous, heads)
        return Seal(
            sequence=sequence,
            first_position=first,
            last_position=last,
            root=root.hex(),
            previous=previous,
            heads=heads,
            public_key=self.public_key,
            signature=self._private.sign(message).hex(),
            digest=hashlib.sha256(message).hexdigest(),
        )


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signature_valid(public_key: str, signature: str, message: bytes) -> bool:
    """Whether `signature` (hex) is `public_key`'s (hex) Ed25519 signature of `message`."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def seal_problem(seal: Seal, previous: Seal | None, trusted: frozenset[str]) -> str | None:
    """What is wrong with a seal on its own and as the successor of `previous`, or None."""
    problem = signature_problem(seal, trusted)
    if problem is not None:
        return problem
    expected_first = previous.last_position + 1 if previous else 1
    expected_sequence = previous.sequence + 1 if previous else 1
    if seal.sequence != expected_sequence:
        return f"it is seal {seal.sequence} where seal {expected_sequence} was due"
    if seal.previous != (previous.digest if previous else GENESIS_SEAL):
        return "it does not chain to the seal before it"
    if seal.first_position != expected_first or seal.last_position < seal.first_position:
        return f"it covers {seal.first_position}..{seal.last_position}, not from {expected_first}"
    return None


def signature_problem(seal: Seal, trusted: frozenset[str]) -> str | None:
    """What is wrong with a seal on its own (digest, key, signature), or None."""
    message = seal.statement()
    if hashlib.sha256(message).hexdigest() != seal.digest:
        return "its digest does not match its statement"
    if seal.public_key not in trusted:
        return f"it is signed by an untrusted key {seal.public_key}"
    if not signature_valid(seal.public_key, seal.signature, message):
        return "its signature is not valid"
    return None


class Span:
    """What a seal fixes of a range of positions, gathered event by event: the Merkle root of
    the events' stored hashes and each stream's last event. The sealer and the verifier both
    gather it, so what is signed and what is checked are computed by the same code."""

    def __init__(self) -> None:
        self.tree = merkle.RootBuilder()
        self._heads: dict[UUID, StreamHead] = {}

    def add(self, e: EventEnvelope) -> None:
        self.tree.add(merkle.leaf(e.position, bytes.fromhex(e.hash)))
        self._heads[e.stream_id] = StreamHead(uuid_text(e.stream_id), e.version, e.position, e.hash)

    @property
    def size(self) -> int:
        return self.tree.size

    def root(self) -> bytes:
        return self.tree.root()

    def heads(self) -> tuple[StreamHead, ...]:
        return tuple(sorted(self._heads.values(), key=lambda h: h.stream_id))

    def differences(self, seal: Seal) -> list[tuple[StreamHead, str]]:
        """The sealed stream heads this span disagrees with, each with what is wrong."""
        found = {h.stream_id: h for h in self._heads.values()}
        wrong: list[tuple[StreamHead, str]] = []
        for sealed in seal.heads:
            now = found.get(sealed.stream_id)
            if now is None:
                wrong.append((sealed, "its events in the sealed range are gone"))
            elif now != sealed:
                wrong.append((sealed, f"its chain no longer ends at the sealed hash (now version {now.version})"))
        return wrong


class _Sealed(msgspec.Struct, frozen=True):
    seal: Seal


def decode_seal(payload: bytes | msgspec.Raw) -> Seal:
    """The seal recorded in a seal event's payload (the domain's `LogSeals.Sealed`)."""
    return msgspec.json.decode(payload, type=_Sealed).seal
