"""A stopping component's NATS close never hangs and never raises."""

from __future__ import annotations

import asyncio

import pytest

import infra.nats
from infra.nats import close_quietly


class _Stuck:
    """A connection whose close waits on a server that never answers."""

    async def close(self) -> None:
        await asyncio.Event().wait()


class _Broken:
    async def close(self) -> None:
        raise ConnectionResetError("gone")


async def test_a_close_that_hangs_is_given_up_and_one_that_fails_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra.nats, "CLOSE_SECONDS", 0.05)
    await asyncio.wait_for(close_quietly(_Stuck()), 30)  # type: ignore[arg-type]  # returns: given up
    await close_quietly(_Broken())  # type: ignore[arg-type]
