"""`coursewright up` as a user runs it: a subprocess on the real servers, stopped by a signal."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from infra.migrate import migration_files
from tests.conftest import S3Server, delete_event_streams, drop_database
from tests.integration.up_support import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    component_processes,
    start_up,
    up_environment,
)

ROOT = Path(__file__).resolve().parents[2]
ONE_EACH_TWO_GATEWAYS = {
    "relay": 1,
    "projectors": 1,
    "sealer": 1,
    "workers": 1,
    "labs": 1,
    "pipeline": 1,
    "messaging": 1,
    "gateway": 2,
}


@pytest.fixture
def up_env(tmp_path: Path, s3_server: S3Server) -> Iterator[tuple[dict[str, str], str]]:
    """CW_ settings on the real servers: a database that does not exist yet, a private stream."""
    env, dsn, s = up_environment(tmp_path, "up", s3_server)
    yield env, dsn
    drop_database(dsn)
    asyncio.run(delete_event_streams(s))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_up_migrates_runs_and_exits_cleanly_on_a_signal(
    up_env: tuple[dict[str, str], str], tmp_path: Path, signum: int
) -> None:
    env, dsn = up_env
    env = env | {"CW_DOCKER_URL": f"unix://{tmp_path}/no-docker.sock"}  # labs: no engine answers
    proc, out = start_up(env, tmp_path)
    try:
        assert out.wait_for("no Docker engine answers", START_TIMEOUT), f"labs said nothing:\n{out.rest()}"
        assert out.wait_for('"up.ready"', START_TIMEOUT), f"never ready:\n{out.rest()}"

        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT name FROM cw_migrations ORDER BY number").fetchall()
            events = conn.execute("SELECT to_regclass('cw_events') IS NOT NULL").fetchone()
        assert [r[0] for r in rows] == [name for _, name, _ in migration_files()]
        assert events == (True,)
        assert proc.poll() is None, f"exited early:\n{out.rest()}"

        # The gateway is one of the components: it answers on the configured port.
        assert out.wait_for('"http.serving"', START_TIMEOUT), f"gateway never served:\n{out.rest()}"
        base = f"http://127.0.0.1:{env['CW_HTTP_PORT']}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # the socket is bound before uvicorn's start-up finishes
            try:
                health = httpx.get(f"{base}/health", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"gateway never answered:\n{out.rest()}"
                time.sleep(0.2)
        assert health.status_code == 200
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 200, ready.text

        proc.send_signal(signum)
        code = proc.wait(STOP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = out.rest()
    assert code == 0, log
    assert '"up.stopped"' in log
    assert "Traceback" not in log


def _wait_until(predicate: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_up_runs_a_process_per_component_restarts_a_killed_one_and_stops_them_all(
    up_env: tuple[dict[str, str], str], tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    env, _ = up_env
    env["CW_HTTP_WORKERS"] = "2"
    proc, out = start_up(env, tmp_path)
    base = f"http://127.0.0.1:{env['CW_HTTP_PORT']}"
    try:
        assert out.wait_for('"up.ready"', START_TIMEOUT), f"never ready:\n{out.rest()}"
        _wait_until(
            lambda: {k: len(v) for k, v in component_processes(proc).items()} == ONE_EACH_TWO_GATEWAYS,
            START_TIMEOUT,
            f"not one process per component:\n{component_processes(proc)}",
        )
        everyone = [p for ps in component_processes(proc).values() for p in ps]
        # SIGKILL each component in turn: it is started again, as a new process.
        for name in ("relay", "projectors", "sealer", "workers", "labs", "pipeline", "gateway", "messaging"):
            (victim, *_) = component_processes(proc)[name]
            victim.kill()
            _wait_until(
                lambda n=name, v=victim: any(p.pid != v.pid for p in component_processes(proc).get(n, [])),  # type: ignore[misc]
                START_TIMEOUT,
                f"{name} was not restarted:\n{out.rest()}",
            )
        _wait_until(lambda: _answers(f"{base}/health"), START_TIMEOUT, "the gateway never answered again")
        assert proc.poll() is None
        running = {p.pid: name for name, ps in component_processes(proc).items() for p in ps}
        everyone += [p for ps in component_processes(proc).values() for p in ps]

        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(STOP_TIMEOUT)
        stopped_in = time.monotonic() - signalled
        # Every component process is gone once `up` has exited, the killed and the restarted
        # ones alike: `up` waits for each (no waiting for stragglers here).
        alive = [p for p in everyone if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"left behind: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = out.rest()
    assert code == 0, log
    # The figure issue 18 asks for (within a second or two), reported, not asserted: a timed
    # assertion fails on a loaded machine. `process.killed` would say a child needed SIGKILL.
    killed = [
        running.get(r["pid"], r["pid"]) for r in map(json.loads, _json_lines(log)) if r["event"] == "process.killed"
    ]
    record_property("stop_seconds", round(stopped_in, 2))
    print(f"up and its {len(running)} processes stopped in {stopped_in:.2f} s; killed: {killed or 'none'}")


def _json_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("{")]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
