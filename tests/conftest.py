"""Fixtures on the real services: a fresh database and a private JetStream stream per run."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import psycopg
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# hypothesis is imported here, at collection, on a shallow stack: otherwise a run that never
# imports it (one integration file alone) has hypothesis's pytest plugin import it in the final
# summary, where pytest's assertion rewriting of it trips CPython 3.11.7's AST recursion check
# ("AST constructor recursion depth mismatch") and the run ends in an internal error.
from infra.blobs.s3 import S3BlobStore
from infra.embedding import Embedder, MiniLmEmbedder
from infra.eventlog.deadletters import delete_streams
from infra.eventlog.postgres import PostgresEventStore
from infra.migrate import migrate
from infra.seaweed import free_port_pairs, start_weed
from infra.settings import Settings

# Property tests assert properties, never speed: no per-example deadline and no "too slow" health
# check, which failed examples that took over 200 ms on a loaded machine.
hypothesis.settings.register_profile(
    "coursewright", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("coursewright")

PG_SERVER = os.environ.get("CW_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
NATS_URL = os.environ.get("CW_TEST_NATS", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("CW_TEST_REDIS", "redis://127.0.0.1:6379/0")
S3_URL = os.environ.get("CW_TEST_S3", "")  # empty: the run starts a weed mini of its own
S3_ACCESS_KEY = os.environ.get("CW_TEST_S3_ACCESS_KEY", "cwtest")
S3_SECRET_KEY = os.environ.get("CW_TEST_S3_SECRET_KEY", "cwtest-secret")


def _admin_dsn() -> str:
    return f"{PG_SERVER}/postgres"


def create_database(prefix: str = "cw_test") -> str:
    """Create a database with a random name; returns its DSN (migrated)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{PG_SERVER}/{name}"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(migrate(dsn))
    else:  # called from async code (a benchmark): migrate on a loop of its own
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrate(dsn)).result()
    return dsn


def drop_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def server_data_dir(name: str) -> Iterator[Path]:
    """A data folder, of this run alone, for embedded servers: PostgreSQL started as root runs as
    a user of its own, which must reach the folder. Not under pytest's temp root: every pytest run
    makes that root private again (0700) as it starts, which cut off a concurrent run's server
    (initdb or the server itself: permission denied)."""
    path = Path(tempfile.mkdtemp(prefix=f"cw-test-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """One fresh, migrated database for the whole run, dropped afterwards."""
    dsn = create_database()
    yield dsn
    drop_database(dsn)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own for a test that needs an empty log."""
    dsn = create_database("cw_test_own")
    yield dsn
    drop_database(dsn)


def make_settings(dsn: str, **overrides: object) -> Settings:
    tag = secrets.token_hex(4)
    values: dict[str, object] = {
        "env": "test",
        "pg_dsn": dsn,
        "nats_url": NATS_URL,
        "redis_url": REDIS_URL,
        "subject_prefix": f"t{tag}",
        "events_stream": f"CW_EVENTS_T{tag.upper()}",
        "embedded": "never",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def service_env(settings: Settings) -> dict[str, str]:
    """The variables that point a child process at the same services, stream and prefix as
    `settings` (and never at embedded servers)."""
    return {
        "CW_PG_DSN": settings.pg_dsn,
        "CW_NATS_URL": settings.nats_url,
        "CW_REDIS_URL": str(settings.redis_url),
        "CW_SUBJECT_PREFIX": settings.subject_prefix,
        "CW_EVENTS_STREAM": settings.events_stream,
        "CW_S3_URL": settings.s3_url,
        "CW_S3_ACCESS_KEY": settings.s3_access_key,
        "CW_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
        "CW_S3_BUCKET": settings.s3_bucket,
        "CW_EMBEDDED": "never",
    }


@dataclass(frozen=True)
class S3Server:
    url: str
    access_key: str
    secret_key: str

    def settings(self) -> dict[str, object]:
        """The Settings fields that point at this server, with a bucket of the test's own."""
        return {
            "s3_url": self.url,
            "s3_access_key": self.access_key,
            "s3_secret_key": self.secret_key,
            "s3_bucket": f"cw-test-{secrets.token_hex(4)}",
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The run's S3: CW_TEST_S3 when set, else a `weed mini` on free ports, stopped at the end."""
    if S3_URL:
        yield S3Server(S3_URL, S3_ACCESS_KEY, S3_SECRET_KEY)
        return
    folder = tmp_path_factory.mktemp("s3")
    (port,) = free_port_pairs(1)
    proc = start_weed(folder, port, folder, S3_ACCESS_KEY, S3_SECRET_KEY)
    try:
        yield S3Server(f"http://127.0.0.1:{port}", S3_ACCESS_KEY, S3_SECRET_KEY)
    finally:
        proc.stop()


@pytest.fixture
def settings(database: str, s3_server: S3Server) -> Settings:
    """Settings on the run's database and S3 with a private stream, subject prefix and bucket."""
    return make_settings(database, **s3_server.settings())


@contextlib.asynccontextmanager
async def blob_store(settings: Settings) -> AsyncIterator[S3BlobStore]:
    """The blob store that `settings` name (their S3 and bucket), started, closed after."""
    store = S3BlobStore(
        settings.s3_url, settings.s3_access_key, settings.s3_secret_key.get_secret_value(), settings.s3_bucket
    )
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def blobs(settings: Settings) -> AsyncIterator[S3BlobStore]:
    """The blob store on the run's S3, in the test's own bucket."""
    async with blob_store(settings) as store:
        yield store


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The MiniLM embedder, its model loaded once for the whole run (seconds of CPU each load)."""
    return MiniLmEmbedder()


@pytest.fixture
async def store(database: str) -> AsyncIterator[PostgresEventStore]:
    s = PostgresEventStore(database)
    await s.start()
    yield s
    await s.close()


@pytest.fixture
async def nats_cleanup(settings: Settings) -> AsyncIterator[Settings]:
    """Deletes the test's JetStream stream (and its consumers) after the test."""
    yield settings
    await delete_event_streams(settings)


async def delete_event_streams(settings: Settings) -> None:
    """Delete the JetStream streams that `settings` name (events and dead letters), if any."""
    import nats

    nc = await nats.connect(settings.nats_url)
    try:
        await delete_streams(nc.jetstream(), settings)  # the test may never have created them
    finally:
        await nc.close()


def _dump_tasks(signum: int, frame: object) -> None:
    """`kill -USR1 <pytest pid>` prints every asyncio task's stack: for a run that hangs."""
    import traceback

    # pytest captures stderr: write where a person can read it while the run hangs.
    with open(f"/tmp/cw-tasks-{os.getpid()}.txt", "w") as out:
        traceback.print_stack(frame, file=out)  # type: ignore[arg-type]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for task in asyncio.all_tasks(loop):
            print(f"--- {task!r}", file=out)
            task.print_stack(file=out)


if hasattr(__import__("signal"), "SIGUSR1"):
    import signal as _signal

    _signal.signal(_signal.SIGUSR1, _dump_tasks)
