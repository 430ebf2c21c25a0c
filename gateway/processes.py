"""A process per component: `coursewright up` starts each as its own OS process and keeps it running.

Every child is `coursewright run NAME` with the parent's effective settings in its environment.
A child that exits for any reason, SIGKILL and out-of-memory kills included, is started again
after a growing delay; one that keeps failing (`crash_loop` exits in a row, each within
`healthy_after` seconds of its start) is given up, and `up` stops with an error rather than
hiding a broken component. SIGINT or SIGTERM stops every child: SIGTERM first, SIGKILL for any
still running after `stop_timeout`. A child started with `CW_PARENT_PID` exits by itself when
its parent is gone, so a killed `up` leaves nothing behind.

A stopped process leaves with `exit_now` once everything it owns is closed: tearing down the
interpreter (some 1,500 modules: Litestar, psycopg, boto3, the NATS client...) took a child
1.5 s and `up` 2.7 s after their last line on this machine under load, which is most of what
stopping cost; there is nothing left for it to release.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from infra.backoff import Backoff
from infra.logging import get_logger

log = get_logger(__name__)

PARENT_PID = "CW_PARENT_PID"


class CrashLoop(Exception):
    """A component kept exiting right after it started."""


@dataclass
class Child:
    """One supervised process: a component name and the command that runs it."""

    name: str
    argv: Sequence[str]
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    failures: int = 0  # exits in a row, each soon after its start
    pids: list[int] = field(default_factory=list)  # every pid it ran as, in order

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.returncode is None else None


def exit_now(code: int = 0) -> NoReturn:
    """End this process at once, its output flushed: call it only once every server, pool and
    client it opened is closed (the interpreter's own teardown then has nothing left to do)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def run_command(name: str) -> list[str]:
    """The command line of one component's process."""
    return [sys.executable, "-m", "gateway.cli", "run", name]


class ProcessSupervisor:
    """Keeps every child running until `stop` is set, then stops them all."""

    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        *,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
        crash_loop: int = 5,
        stop_timeout: float = 1.0,
    ) -> None:
        self.children = list(children)
        self.env = {**env, PARENT_PID: str(os.getpid())}
        self.backoff = backoff or Backoff(initial=0.5, maximum=10.0)
        self.healthy_after = healthy_after
        self.crash_loop = crash_loop
        self.stop_timeout = stop_timeout
        self.started = asyncio.Event()  # every child was started once

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; raises CrashLoop when a child keeps failing."""
        keepers = [asyncio.create_task(self._keep(c, stop), name=f"process:{c.name}") for c in self.children]
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopping, *keepers], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopping:
                    task.result()  # a CrashLoop
        finally:
            stopping.cancel()
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            await self._stop_all()

    async def _keep(self, child: Child, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            await self._start(child)
            if all(c.starts for c in self.children):
                self.started.set()
            assert child.process is not None
            code = await child.process.wait()
            if stop.is_set():
                return
            child.failures = 0 if loop.time() - started >= self.healthy_after else child.failures + 1
            if child.failures >= self.crash_loop:
                log.error("process.crash_loop", component=child.name, exits=child.failures, code=code)
                raise CrashLoop(f"{child.name} exited {child.failures} times in a row (last exit code {code})")
            delay = self.backoff.delay(max(1, child.failures))
            log.warning("process.exited", component=child.name, code=code, restart_in=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()

    async def _start(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(*child.argv, env=self.env)
        child.starts += 1
        child.pids.append(child.process.pid)
        log.info("process.started", component=child.name, pid=child.process.pid, start=child.starts)

    async def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(p.wait()) for p in running]
        if waits:
            _, late = await asyncio.wait(waits, timeout=self.stop_timeout)
            if late:
                for process in running:
                    if process.returncode is None:
                        log.warning("process.killed", pid=process.pid, after=self.stop_timeout)
                        with contextlib.suppress(ProcessLookupError):
                            process.kill()
                await asyncio.wait(waits)
        log.info("processes.stopped", count=len(running))


async def exit_with_parent(parent_pid: int, stop: asyncio.Event, every: float = 0.5) -> None:
    """Set `stop` once the process that started us is gone (we were re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("process.orphaned", parent=parent_pid)
            stop.set()
            return
        await asyncio.sleep(every)


async def supervise(
    supervisor: ProcessSupervisor,
    *,
    before: Callable[[], Awaitable[None]] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run `before` (migrations), then the supervisor until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        loop.add_signal_handler(signum, stop.set)
    try:
        if before is not None:
            await before()
        if stop.is_set():
            return
        running = asyncio.create_task(supervisor.run(stop))
        started = asyncio.create_task(supervisor.started.wait())
        await asyncio.wait([running, started], return_when=asyncio.FIRST_COMPLETED)
        if started.done() and on_ready is not None:
            on_ready()
        started.cancel()
        await running
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)  # the caller's own, not asyncio's default
