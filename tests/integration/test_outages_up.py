"""Outages as an operator meets them under `coursewright up`: every process says once that a
service went away and once that it came back, without a traceback, and uses it again.

NATS and Redis are servers of the test's own, stopped and started while the system runs (or
started only after it); PostgreSQL is the shared one (each test has its own database).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3Server, delete_event_streams, drop_database
from tests.integration.private_servers import PrivateNats
from tests.integration.up_support import start_up, up_environment

START_TIMEOUT = 180.0
NATS_USERS = ("relay", "projectors", "workers", "pipeline", "messaging", "gateway", "labs")  # processes on NATS


@pytest.fixture
def up_env(tmp_path: Path, s3_server: S3Server) -> Iterator[dict[str, str]]:
    env, dsn, s = up_environment(tmp_path, "outage", s3_server)
    env["CW_HTTP_WORKERS"] = "1"
    env["CW_DOCKER_URL"] = f"unix://{tmp_path}/no-docker.sock"  # labs: no engine answers
    yield env
    drop_database(dsn)
    asyncio.run(delete_event_streams(s))


class Up:
    """`coursewright up` as a subprocess, its JSON lines parsed as they come."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc, self.out = start_up(env, cwd)
        self.base = f"http://127.0.0.1:{env['CW_HTTP_PORT']}"

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.out.lines:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def wait(self, predicate: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not predicate(self.records()):
            assert self.proc.poll() is None, f"up exited:\n{self.out.rest()}"
            assert time.monotonic() < deadline, f"never {what}:\n{''.join(self.out.lines)}"
            self.out.wait_for("\n", 0.2)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
        return self.out.rest()


def outage_lines(records: list[dict[str, Any]], service: str) -> Counter[tuple[str, str]]:
    """(process, down|up) -> how many lines said so."""
    return Counter(
        (r.get("process", "up"), r["event"].removeprefix("dependency."))
        for r in records
        if r.get("service") == service and r.get("event", "").startswith("dependency.")
    )


def noisy(records: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    """Warnings and errors about something else than the outage's two lines."""
    return [
        r
        for r in records
        if r.get("level") in ("warning", "error", "critical")
        and not (r.get("event", "").startswith("dependency.") and r.get("service") == service)
        and r.get("event") != "labs.no_engine"
    ]


def said_by_all(records: list[dict[str, Any]], event: str, processes: tuple[str, ...]) -> bool:
    return set(processes) <= {r.get("process") for r in records if r.get("event") == event}


async def test_a_nats_outage_is_logged_once_down_and_once_back_by_every_process(
    up_env: dict[str, str], tmp_path: Path
) -> None:
    nats = PrivateNats(tmp_path / "jetstream")
    await nats.start()
    up = Up(up_env | {"CW_NATS_URL": nats.url}, tmp_path)
    try:
        up.wait(lambda rs: said_by_all(rs, "run.ready", (*NATS_USERS, "sealer")), "ready")
        up.wait(lambda rs: any(r.get("event") == "messaging.serving" for r in rs), "serving messaging")
        up.wait(lambda rs: any(r.get("event") == "relay.reconciled" for r in rs), "relaying")
        up.wait(lambda rs: any(r.get("event") == "Application startup complete." for r in rs), "serving HTTP")
        before = len(up.records())
        nats.stop()
        up.wait(
            lambda rs: {p for (p, s) in outage_lines(rs[before:], "nats") if s == "down"} >= set(NATS_USERS),
            "down in every process",
        )
        await asyncio.sleep(3)  # several reconnect attempts fail meanwhile
        await nats.start()
        up.wait(
            lambda rs: {p for (p, s) in outage_lines(rs[before:], "nats") if s == "up"} >= set(NATS_USERS),
            "back in every process",
        )
        await asyncio.sleep(2)  # anything said late is said by now
        records = up.records()[before:]
    finally:
        log = up.stop()
        nats.stop()
    assert outage_lines(records, "nats") == Counter({(p, s): 1 for p in NATS_USERS for s in ("down", "up")}), log
    assert noisy(records, "nats") == [], log
    assert "Traceback" not in log, [line[:2000] for line in log.splitlines() if "Traceback" in line]
