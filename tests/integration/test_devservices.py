"""Embedded servers for `coursewright up`: started in a temp data dir, used, and stopped.

PostgreSQL's initdb runs once for the module: every test that embeds it shares one data dir (of this
run alone, outside pytest's temp root: `server_data_dir`).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nats
import psutil
import psycopg
import pytest
import redis

from infra.blobs.s3 import S3BlobStore
from infra.devservices import (
    DevServiceError,
    DevServices,
    prepare_database,
    reachable,
    start_dev_services,
    start_nats,
)
from infra.migrate import migration_files
from infra.settings import Settings
from tests.conftest import NATS_URL, PG_SERVER, REDIS_URL, S3Server, server_data_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with server_data_dir("devservices") as folder:
        yield folder


def _settings(data_dir: Path, embedded: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "pg_dsn": f"{PG_SERVER}/coursewright",
        "nats_url": NATS_URL,
        "redis_url": REDIS_URL,
        "data_dir": data_dir,
        "embedded": embedded,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def started() -> Iterator[list[DevServices]]:
    """Whatever a test starts is stopped even when it fails half-way."""
    handles: list[DevServices] = []
    yield handles
    for h in handles:
        h.stop()


async def test_embedded_servers_start_serve_and_stop(data_dir: Path, started: list[DevServices]) -> None:
    services = start_dev_services(_settings(data_dir, "always"))
    started.append(services)
    eff = services.settings
    assert {s.name: s.mode for s in services.services} == {
        "postgres": "embedded",
        "nats": "embedded",
        "redis": "embedded" if shutil.which("redis-server") else "off",
        "s3": "embedded",
    }
    assert eff.pg_dsn != f"{PG_SERVER}/coursewright"
    assert eff.nats_url != NATS_URL
    blobs = S3BlobStore(eff.s3_url, eff.s3_access_key, eff.s3_secret_key.get_secret_value(), "devservices")
    await blobs.start()
    await blobs.put("hello", b"hi", "text/plain")
    assert await blobs.get("hello") == b"hi"
    await blobs.close()

    applied = await prepare_database(eff)
    assert applied == [name for _, name, _ in migration_files()]
    async with await psycopg.AsyncConnection.connect(eff.pg_dsn) as conn:
        cur = await conn.execute("SELECT current_database(), count(*) FROM cw_migrations")
        assert await cur.fetchone() == ("coursewright", len(applied))

    nc = await nats.connect(eff.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="DEVSERVICES", subjects=["devservices.>"])
        ack = await js.publish("devservices.hello", b"hi")
        assert (ack.stream, ack.seq) == ("DEVSERVICES", 1)
    finally:
        await nc.close()

    if eff.redis_url:
        client = redis.Redis.from_url(eff.redis_url)
        try:
            assert client.ping() is True
        finally:
            client.close()

    with pytest.raises(DevServiceError, match="in use"):
        start_dev_services(_settings(data_dir, "always"))

    pids = [p.pid for p in services.processes]
    host_port = eff.pg_dsn.split("@", 1)[1].split("/", 1)[0].split(":")
    services.stop()
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert not reachable(host_port[0], int(host_port[1]))
    assert not list((data_dir / "run").glob("*.pid"))
    services.stop()  # twice is harmless


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from infra.devservices import start_dev_services
    from infra.settings import Settings
    s = Settings(_env_file=None, embedded="always", data_dir=Path(sys.argv[1]))
    d = start_dev_services(s)
    print("READY", d.settings.pg_dsn, *[p.pid for p in d.processes], flush=True)
    time.sleep(600)
    """
)


def test_servers_left_by_a_killed_run_are_stopped_and_their_data_kept(
    data_dir: Path, started: list[DevServices]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = next(line for line in child.stdout if line.startswith("READY"))
        _, dsn, *pids = line.split()
        with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE TABLE survives_restart (n int)")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    leftovers = [int(p) for p in pids]
    assert all(psutil.pid_exists(p) for p in leftovers)  # orphaned, still serving

    services = start_dev_services(_settings(data_dir, "always", redis_url=""))
    started.append(services)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in leftovers)
    admin = services.settings.pg_dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin) as conn:
        row = conn.execute("SELECT to_regclass('survives_restart') IS NOT NULL").fetchone()
        assert row == (True,)
    assert {s.name: s.mode for s in services.services}["redis"] == "off"
    assert services.settings.redis_url == ""


def test_auto_uses_the_configured_servers_that_answer(
    tmp_path: Path, started: list[DevServices], s3_server: S3Server
) -> None:
    configured = _settings(tmp_path, "auto", **s3_server.settings())
    services = start_dev_services(configured)
    started.append(services)
    assert services.processes == []
    assert services.settings.model_dump() == configured.model_dump()
    assert {s.mode for s in services.services} == {"configured"}
    # Nothing embedded, so the data dir is not held: a second run may use it.
    start_dev_services(configured).stop()


def test_auto_embeds_only_the_server_that_is_down(
    tmp_path: Path, started: list[DevServices], s3_server: S3Server
) -> None:
    down = f"nats://127.0.0.1:{_closed_port()}"
    configured = _settings(tmp_path, "auto", nats_url=down, **s3_server.settings())
    services = start_dev_services(configured)
    started.append(services)
    modes = {s.name: s.mode for s in services.services}
    assert modes == {"postgres": "configured", "nats": "embedded", "redis": "configured", "s3": "configured"}
    assert [p.name for p in services.processes] == ["nats"]
    assert services.settings.pg_dsn == configured.pg_dsn
    host, port = services.settings.nats_url.removeprefix("nats://").split(":")
    assert reachable(host, int(port))


def test_the_test_runner_starts_no_s3(tmp_path: Path, started: list[DevServices]) -> None:
    """`coursewright test` checks its servers without S3: each test run starts an S3 of its own,
    and one started at the usual port was found by other runs in "auto" and lost with this one."""
    configured = _settings(tmp_path, "auto", s3_url=f"http://127.0.0.1:{_closed_port()}")
    services = start_dev_services(configured, s3=False)
    started.append(services)
    assert services.processes == []
    assert "s3" not in {s.name for s in services.services}
    assert services.settings.s3_url == configured.s3_url


def test_a_scratch_run_embeds_at_ports_of_its_own(
    tmp_path: Path, started: list[DevServices], s3_server: S3Server
) -> None:
    """The generation eval's servers leave the configured addresses free: a second run in "auto"
    would find them there and use them as its own, until the first run ended."""
    usual = _closed_port()
    configured = _settings(tmp_path, "auto", nats_url=f"nats://127.0.0.1:{usual}", **s3_server.settings())
    services = start_dev_services(configured, scratch=True)
    started.append(services)
    assert [p.name for p in services.processes] == ["nats"]
    host, port = services.settings.nats_url.removeprefix("nats://").split(":")
    assert int(port) != usual and reachable(host, int(port)) and not reachable(host, usual)


def test_a_server_that_lost_its_port_to_another_is_not_taken_for_ready(tmp_path: Path) -> None:
    """Another run's server on the port answers the readiness check as ours would: ours, which
    could not listen, is said to have failed rather than the other used in its place."""
    port = _closed_port()
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    other = start_nats(first, port, first)
    try:
        with pytest.raises(DevServiceError, match="exited during start-up"):
            start_nats(second, port, second)
        assert reachable("127.0.0.1", port)  # the other run's server is left alone
    finally:
        other.stop()


def test_never_leaves_the_configured_addresses_alone(tmp_path: Path) -> None:
    down = f"nats://127.0.0.1:{_closed_port()}"
    configured = _settings(tmp_path / "unused", "never", nats_url=down)
    services = start_dev_services(configured)
    assert services.processes == []
    assert services.settings.nats_url == down
    assert not (tmp_path / "unused").exists()


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DevServiceError, match="CW_EMBEDDED"):
        start_dev_services(_settings(tmp_path, "sometimes"))
