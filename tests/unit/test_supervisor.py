"""The supervisor: runs components side by side, restarts failures, stops on a signal."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from gateway.supervisor import Component, Supervisor, run_until_signal
from infra.backoff import Backoff

FAST = Backoff(initial=0.001, maximum=0.01)


async def test_a_crashing_component_is_restarted_with_backoff_and_the_others_keep_running() -> None:
    attempts = 0
    steady_runs = 0
    recovered = asyncio.Event()

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("boom")
        recovered.set()
        await asyncio.Event().wait()

    async def steady() -> None:
        nonlocal steady_runs
        steady_runs += 1
        await asyncio.Event().wait()

    stop = asyncio.Event()
    supervisor = Supervisor([Component("flaky", flaky), Component("steady", steady)], backoff=FAST)
    running = asyncio.create_task(supervisor.run(stop))
    await asyncio.wait_for(recovered.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert attempts == 3
    assert supervisor.restarts == {"flaky": 2, "steady": 0}
    assert steady_runs == 1


async def test_a_component_that_returns_is_started_again() -> None:
    runs = 0
    third = asyncio.Event()

    async def one_shot() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()

    stop = asyncio.Event()
    running = asyncio.create_task(Supervisor([Component("once", one_shot)], backoff=FAST).run(stop))
    await asyncio.wait_for(third.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert runs >= 3


async def test_stop_cancels_every_component_and_waits_for_their_cleanup() -> None:
    cleaned: list[str] = []
    started = asyncio.Event()

    def serving(name: str) -> Component:
        async def run() -> None:
            try:
                started.set()
                await asyncio.Event().wait()
            finally:
                await asyncio.sleep(0.01)  # cleanup that itself awaits
                cleaned.append(name)

        return Component(name, run)

    stop = asyncio.Event()
    running = asyncio.create_task(Supervisor([serving("a"), serving("b")]).run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert sorted(cleaned) == ["a", "b"]


def test_backoff_grows_to_its_maximum() -> None:
    b = Backoff(initial=1.0, maximum=8.0)
    delays = [b.delay(n) for n in range(1, 7)]
    assert 0.8 <= delays[0] <= 1.0
    assert 3.2 <= delays[2] <= 4.0
    assert all(6.4 <= d <= 8.0 for d in delays[3:])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_run_until_signal_prepares_runs_and_stops_on_a_real_signal(signum: int) -> None:
    order: list[str] = []

    async def before() -> None:
        order.append("prepared")

    async def component() -> None:
        order.append("started")
        try:
            await asyncio.Event().wait()
        finally:
            order.append("stopped")

    def ready() -> None:
        order.append("ready")
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signum)

    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    await asyncio.wait_for(run_until_signal([Component("c", component)], before=before, on_ready=ready), 5)
    assert order == ["prepared", "ready", "started", "stopped"]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
