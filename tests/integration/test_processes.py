"""The process supervisor with real child processes: restarts, crash loops, stopping, orphans."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from gateway.processes import PARENT_PID, Child, CrashLoop, ProcessSupervisor
from infra.backoff import Backoff

FAST = Backoff(initial=0.05, maximum=0.2)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


async def _until(predicate: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_killed_child_is_started_again_and_all_stop_together() -> None:
    children = [Child("a", SLEEPER), Child("b", SLEEPER)]
    supervisor = ProcessSupervisor(children, dict(os.environ), backoff=FAST, stop_timeout=1.0)
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    await asyncio.wait_for(supervisor.started.wait(), 20)
    first = children[0].pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await _until(lambda: children[0].pid not in (None, first))
    assert children[0].starts == 2 and children[1].starts == 1
    pids = [*children[0].pids, *children[1].pids]
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(running, 10)
    assert time.monotonic() - started < 3
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


async def test_a_child_that_keeps_exiting_is_a_crash_loop() -> None:
    failing = Child("broken", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = ProcessSupervisor([failing, Child("fine", SLEEPER)], dict(os.environ), backoff=FAST, crash_loop=3)
    with pytest.raises(CrashLoop, match="broken exited 3 times"):
        await asyncio.wait_for(supervisor.run(asyncio.Event()), 30)
    assert failing.starts == 3


def test_a_component_whose_parent_died_stops_by_itself() -> None:
    """`coursewright run` started by an `up` that was SIGKILLed exits on its own."""
    # The intermediate plays `up`: it starts the component with its own pid, then sleeps.
    launcher = (
        "import os, subprocess, sys, time;"
        f"env = dict(os.environ, {PARENT_PID}=str(os.getpid()));"
        "p = subprocess.Popen([sys.executable, '-c',"
        " 'import asyncio, os; from gateway.processes import exit_with_parent;"
        " stop = asyncio.Event();"
        ' asyncio.run(exit_with_parent(int(os.environ["CW_PARENT_PID"]), stop, every=0.1))\'], env=env);'
        "print(p.pid, flush=True); time.sleep(600)"
    )
    up = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    try:
        assert up.stdout is not None
        component = psutil.Process(int(up.stdout.readline()))
        assert component.is_running()
        up.kill()
        up.wait()
        component.wait(timeout=10)  # raises psutil.TimeoutExpired if it stays
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        if up.stdout is not None:
            up.stdout.close()
