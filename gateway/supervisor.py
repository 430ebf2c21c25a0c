"""Run named async components side by side, restart the ones that fail, stop all on a signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from infra.backoff import Backoff
from infra.errors import Unavailable
from infra.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Component:
    """A long-running part of the system; `run` makes a fresh coroutine for every (re)start."""

    name: str
    run: Callable[[], Awaitable[None]]


class Supervisor:
    """Keeps every component running until `stop` is set, then cancels them all."""

    def __init__(
        self,
        components: Sequence[Component],
        *,
        backoff: Backoff | None = None,
        healthy_after: float = 60.0,
        stop_timeout: float = 20.0,
    ) -> None:
        self.components = list(components)
        self.backoff = backoff or Backoff()
        self.healthy_after = healthy_after  # a run this long resets the delay
        self.stop_timeout = stop_timeout
        self.restarts: dict[str, int] = {c.name: 0 for c in self.components}

    async def run(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None:
        tasks = [asyncio.create_task(self._keep_running(c), name=f"component:{c.name}") for c in self.components]
        log.info("supervisor.started", components=[c.name for c in self.components])
        if on_started is not None:
            on_started()
        try:
            await stop.wait()
        finally:
            log.info("supervisor.stopping")
            for task in tasks:
                task.cancel()
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self.stop_timeout)
                for task in pending:
                    log.error("component.stop_timeout", component=task.get_name())
            log.info("supervisor.stopped")

    async def _keep_running(self, component: Component) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            waiting = False
            try:
                await component.run()
            except asyncio.CancelledError:
                raise
            except Unavailable as e:
                # A service it needs is away: an outage its Availability logs once, not a crash.
                log.info("component.waiting", component=component.name, error=str(e))
                waiting = True
            except Exception:
                log.exception("component.crashed", component=component.name)
            else:
                # Components serve until cancelled: returning means they stopped serving.
                log.warning("component.returned", component=component.name)
            if loop.time() - started >= self.healthy_after:
                failures = 0
            failures += 1
            self.restarts[component.name] += 1
            delay = self.backoff.delay(failures)
            say = log.info if waiting else log.warning
            say("component.restarting", component=component.name, attempt=failures, delay=delay)
            await asyncio.sleep(delay)


async def run_until_signal(
    components: Sequence[Component],
    *,
    stop: asyncio.Event | None = None,
    before: Callable[[], Coroutine[Any, Any, None]] | None = None,
    on_ready: Callable[[], None] | None = None,
    stop_timeout: float = 20.0,
) -> None:
    """Run `before` (e.g. migrations), then the components until SIGINT or SIGTERM."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("supervisor.already_stopping", signal=signal.Signals(signum).name)
            return
        log.info("supervisor.signal", signal=signal.Signals(signum).name)
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.getsignal(signum)
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        if before is not None:
            prepare = asyncio.create_task(before())
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({prepare, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            if not prepare.done():  # a signal arrived first
                prepare.cancel()
                await asyncio.gather(prepare, return_exceptions=True)
                return
            prepare.result()
        if stop.is_set():
            return
        await Supervisor(components, stop_timeout=stop_timeout).run(stop, on_ready)
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)  # not asyncio's default: the caller's own
