"""A real Docker engine for the lab tests: the one in CW_TEST_DOCKER, else a dockerd started here.

The engine started here keeps its images under the labs' cache folder, so the lab images are
built once per machine; a second run at the same time (the folder is locked) uses a private one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.labengine.docker import DockerLabEngine

CACHE_DIR = Path(os.environ.get("CW_LAB_CACHE_DIR", Path.home() / ".cache" / "coursewright" / "labs"))


def answers(sock: Path) -> bool:
    """True when a Docker engine answers `GET /_ping` on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b"OK" in s.recv(4096)
    except OSError:
        return False


def _data_root(tmp: Path) -> tuple[Path, int | None]:
    """The shared data root (images kept between runs) if no other run holds it, else a private one."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    lock = os.open(CACHE_DIR / "dockerd.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return tmp / "root", None
    return CACHE_DIR / "dockerd-root", lock


class DockerdFailed(RuntimeError):
    """dockerd is missing or did not come up (the message says why)."""


@contextlib.contextmanager
def dockerd(tmp: Path) -> Iterator[str]:
    """A dockerd of our own for as long as the block runs, with the lab images built; its URL."""
    binary = shutil.which("dockerd")
    if binary is None:
        raise DockerdFailed("the lab tests need a Docker engine: dockerd is not installed (apt-get install docker.io)")
    root, lock = _data_root(tmp)
    sock, pidfile, log_path = tmp / "docker.sock", tmp / "docker.pid", tmp / "dockerd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "--iptables=false",
                "--bridge=none",
                f"--data-root={root}",
                f"--exec-root={tmp / 'exec'}",
                f"--host=unix://{sock}",
                f"--pidfile={pidfile}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not answers(sock):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise DockerdFailed(f"dockerd could not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.2)
        url = f"unix://{sock}"
        asyncio.run(_images(url))
        yield url
    finally:
        process.send_signal(signal.SIGTERM)  # stopped by its own pid, never by name
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if lock is not None:
            os.close(lock)


@pytest.fixture(scope="session")
def docker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CW_TEST_DOCKER, else a dockerd started for this run (the run fails, saying why, if it cannot)."""
    configured = os.environ.get("CW_TEST_DOCKER")
    if configured:
        yield configured
        return
    try:
        with dockerd(tmp_path_factory.mktemp("dockerd")) as url:
            yield url
    except DockerdFailed as e:
        pytest.fail(str(e))


async def _images(url: str) -> None:
    engine = DockerLabEngine(url, CACHE_DIR)
    try:
        await engine.ensure_images()
    finally:
        await engine.close()
