"""lab-run: a trivial Python run in an existing lab session through the runner (the bus's check,
the sandbox, the recorded run) against a bare exec of the same command on the same container,
in the same run; and the cold start (session start to first run finished).

    python3 tests/bench/bench_labrun.py

Uses CW_TEST_DOCKER, else starts a dockerd of its own (as the tests do).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import aiodocker

from commands.bus import CommandBus
from commands.routes import ROUTES
from infra.eventlog.memory import InMemoryEventStore
from infra.labengine.docker import DockerLabEngine
from labrunner.runner import LabRunner
from schemas import commands as c
from schemas import labs as lab
from tests.bench._report import percentile, result, summary
from tests.integration import docker_support
from tests.ports import make_ports
from tests.unit.test_lab import OTHER, STUDENT, ctx, published_lab

RUNS = 60
COLD = 8
ARGV = ["python3", "-c", "pass"]


@contextlib.contextmanager
def docker_engine() -> Iterator[str]:
    """The engine's URL: CW_TEST_DOCKER, else a dockerd started for this run (the tests' way)."""
    if os.environ.get("CW_TEST_DOCKER"):
        yield os.environ["CW_TEST_DOCKER"]
        return
    with tempfile.TemporaryDirectory(prefix="bench-dockerd-") as tmp, docker_support.dockerd(Path(tmp)) as url:
        yield url


async def bare_exec(docker: aiodocker.Docker, container: str) -> float:
    """The baseline: one exec of the command, its output read to the end, its exit code read."""
    started = time.perf_counter()
    execution = await docker.containers.container(container).exec(ARGV, user="1000:1000", workdir="/work")
    async with execution.start(detach=False) as stream:
        while await stream.read_out() is not None:
            pass
    for _ in range(1000):  # as the adapter waits for the exit code
        info = await execution.inspect()
        if not info["Running"]:
            break
        await asyncio.sleep(0.01)
    assert info["ExitCode"] == 0
    return time.perf_counter() - started


async def main(url: str) -> None:
    engine = DockerLabEngine(url, docker_support.CACHE_DIR)
    bus = CommandBus(InMemoryEventStore(), ROUTES, make_ports())
    runner = LabRunner(bus, engine, name="bench")
    await runner.open()
    course_id, lesson_id = await published_lab(bus)
    student = ctx(STUDENT, "student")
    await bus.handle(c.Enrol(course_id=course_id), student)
    await bus.handle(c.Enrol(course_id=course_id), ctx(OTHER, "student"))
    docker = aiodocker.Docker(url=url)
    try:
        # Cold start: session start to the first run finished (a fresh sandbox each time).
        cold: list[float] = []
        for _ in range(COLD):
            started = time.perf_counter()
            reply = await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)
            session = UUID(reply.id)
            await runner.run(lab.RunLab(session_id=session, command=ARGV), student)
            cold.append((time.perf_counter() - started) * 1000)
            await runner.stop(lab.StopLab(session_id=session), student)
        print(f"lab-cold-start ms: {summary(cold)}")

        reply = await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)
        session = UUID(reply.id)
        container = runner.live[session].sandbox_id
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(RUNS):  # alternating, so both see the same machine
            started = time.perf_counter()
            await runner.run(lab.RunLab(session_id=session, command=ARGV), student)
            ours.append(time.perf_counter() - started)
            bare.append(await bare_exec(docker, container))
        ours_ms, bare_ms = [x * 1000 for x in ours], [x * 1000 for x in bare]
        print(f"lab-run ms ours: {summary(ours_ms)}")
        print(f"lab-run ms bare docker exec: {summary(bare_ms)}")
        ours_rate, bare_rate = len(ours) / sum(ours), len(bare) / sum(bare)
        print(f"lab-run p99 ms: ours={percentile(ours_ms, 99):.1f} bare={percentile(bare_ms, 99):.1f}")
        result("lab-run", ours_rate, bare_rate, " runs/s")
        print(f"RESULT lab-cold-start-p50 ours={percentile(cold, 50):.1f} goal=1500 (ms)")
    finally:
        await runner.shutdown()
        await docker.close()
        await engine.close()


if __name__ == "__main__":
    with docker_engine() as engine_url:
        asyncio.run(main(engine_url))
