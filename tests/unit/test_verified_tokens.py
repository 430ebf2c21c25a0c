"""A verified token is verified once, and never outlives its expiry in memory."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import uuid4

import jwt
import pytest

from infra.tokens import AccessClaims, AccessTokens, InvalidToken
from infra.verified_tokens import VerifiedTokens

SECRET = "a test secret of thirty-two bytes or more"


def claims(expires_at: int) -> AccessClaims:
    return AccessClaims(uuid4(), uuid4(), ("student",), "ada@example.com", uuid4(), expires_at)


def test_claims_come_back_until_the_token_expires() -> None:
    memo: VerifiedTokens[AccessClaims] = VerifiedTokens()
    live, expired = claims(int(time.time()) + 60), claims(int(time.time()) - 1)
    memo.put("live", live)
    memo.put("expired", expired)
    assert memo.get("live") is live
    assert memo.get("expired") is None
    assert memo.get("never seen") is None


def test_an_expired_token_is_refused_even_after_it_was_verified() -> None:
    tokens = AccessTokens(SECRET, timedelta(seconds=1))
    token = tokens.issue(uuid4(), uuid4(), ["student"], "ada@example.com", uuid4())
    expires_at = tokens.verify(token).expires_at
    while time.time() <= expires_at + 0.01:  # a second or two
        time.sleep(0.05)
    with pytest.raises(InvalidToken):
        tokens.verify(token)


def test_a_token_signed_with_another_key_is_refused_whatever_was_verified() -> None:
    tokens = AccessTokens(SECRET, timedelta(minutes=15))
    token = tokens.issue(uuid4(), uuid4(), ["student"], "ada@example.com", uuid4())
    tokens.verify(token)
    forged = jwt.encode(jwt.decode(token, options={"verify_signature": False}), "x" * 40, algorithm="HS256")
    with pytest.raises(InvalidToken):
        tokens.verify(forged)
