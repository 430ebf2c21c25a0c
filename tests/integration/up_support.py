"""Shared by the tests that run `coursewright up` as a subprocess: its command line, a free port
and the component processes it started."""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from infra.settings import Settings
from tests.conftest import NATS_URL, PG_SERVER, REDIS_URL, S3Server, make_settings

START_TIMEOUT = 120.0
"""How long a test waits for `up` (nine processes) to come up before it fails. A bound on
failure, not a measured time: on two loaded cores a start has taken over 60 s."""
STOP_TIMEOUT = 30.0


def coursewright_command() -> list[str]:
    """The installed `coursewright` script, or the module when it is not installed."""
    script = Path(sys.executable).parent / "coursewright"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def component_processes(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> dict[str, list[psutil.Process]]:
    """The component processes `up` started, by component name (`coursewright run NAME`)."""
    found: dict[str, list[psutil.Process]] = {}
    for child in psutil.Process(proc.pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            cmdline = child.cmdline()
            if "run" in cmdline:
                found.setdefault(cmdline[cmdline.index("run") + 1], []).append(child)
    return found


def up_environment(tmp_path: Path, tag: str, s3: S3Server) -> tuple[dict[str, str], str, Settings]:
    """(environment, dsn, settings) for `up` on the real servers: CW_ settings naming a database
    that does not exist yet, a private stream and bucket on the run's S3, JSON logs, no embedded
    servers."""
    dsn = f"{PG_SERVER}/cw_test_{tag}_{secrets.token_hex(6)}"
    s = make_settings(dsn, **s3.settings())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env |= {
        "CW_ENV": "test",
        "CW_LOG_JSON": "true",
        "CW_PG_DSN": dsn,
        "CW_NATS_URL": NATS_URL,
        "CW_REDIS_URL": REDIS_URL,
        "CW_SUBJECT_PREFIX": s.subject_prefix,
        "CW_EVENTS_STREAM": s.events_stream,
        "CW_S3_URL": s.s3_url,
        "CW_S3_ACCESS_KEY": s.s3_access_key,
        "CW_S3_SECRET_KEY": s.s3_secret_key.get_secret_value(),
        "CW_S3_BUCKET": s.s3_bucket,
        "CW_EMBEDDED": "never",
        "CW_DATA_DIR": str(tmp_path / "data"),
        "CW_EMBEDDER": "hashing",  # the pipeline process loads no model: these tests are about processes
        "CW_HTTP_PORT": str(free_port()),
    }
    return env, dsn, s


class Output:
    """Collects a child's combined output on a thread, so its pipe never fills."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                return False
            self.lines.append(line)
            if needle in line:
                return True
        return False

    def rest(self) -> str:
        while True:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "".join(self.lines)


def start_up(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], Output]:
    """`coursewright up` started in `cwd` (so no developer .env is read), its output collected."""
    proc = subprocess.Popen(
        [*coursewright_command(), "up"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, Output(proc)
