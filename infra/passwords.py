"""Password hashing: the `Passwords` port, and argon2id off the event loop (a hash costs tens of
milliseconds)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords(ABC):
    """Hashes passwords and checks them against a stored hash."""

    @abstractmethod
    async def hash(self, password: str) -> str: ...

    @abstractmethod
    async def verify(self, password_hash: str, password: str) -> bool:
        """True when `password` matches; an empty hash (an unknown user) takes as long as a
        real one and is never a match."""


class Argon2Passwords(Passwords):
    """argon2id; the defaults are OWASP's baseline (19 MiB, 2 passes, 1 lane): ~40 ms here.

    Hashes record their own parameters, so a hash made with other costs still verifies.
    """

    def __init__(self, *, time_cost: int = 2, memory_cost: int = 19_456, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        if not password_hash:
            self._dummy = self._dummy or await self.hash("not a password anyone has")
            await asyncio.to_thread(self._check, self._dummy, password)
            return False
        return await asyncio.to_thread(self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
