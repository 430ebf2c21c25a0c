"""Verified access tokens remembered by their exact text, so a token is verified once.

What it buys: verifying an HS256 JWT with PyJWT (base64, JSON, HMAC, claim checks) costs about
100 µs here, a lookup about 4 µs, and a client presents the same token for its whole lifetime.
Removing it lowered the median ratio of http-command from 0.77 to 0.52 (-32 %, lower in 6 of
7 rounds) and of catalog from 0.66 to 0.32 (-52 %, 7 of 7) over seven same-run alternating A/B
rounds on a loaded two-core machine.

Why it is safe: the same bytes under the same key always verify to the same claims, so nothing
can go stale but the expiry, which is looked at on every lookup. Whether the sign-in has ended
is checked apart, on every request (infra.revocations).
"""

from __future__ import annotations

import time
from typing import Generic, Protocol, TypeVar

from infra.lru import Lru


class Expiring(Protocol):
    @property
    def expires_at(self) -> int: ...  # Unix time


Claims = TypeVar("Claims", bound=Expiring)


class VerifiedTokens(Generic[Claims]):
    """The claims of the `size` tokens verified last, by token text."""

    def __init__(self, size: int = 10_000) -> None:
        self._claims: Lru[str, Claims] = Lru(size)

    def get(self, token: str) -> Claims | None:
        """The claims of `token` if it was verified before and has not expired since."""
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims.expires_at > time.time():
            return claims
        del self._claims[token]
        return None

    def put(self, token: str, claims: Claims) -> None:
        self._claims.put(token, claims)
