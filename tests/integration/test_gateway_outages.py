"""The gateway while a service it uses is down or comes back empty: sign-outs hold, requests go
on, `/ready` says what is down, and each outage is logged once when it starts and once when it
ends. Redis is a server of the test's own (no disk), killed and started again; the shared one is
never touched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import redis.asyncio as redis_asyncio
from pydantic import SecretStr
from structlog.testing import capture_logs

from infra.devprocess import ManagedProcess
from infra.devservices import start_postgres
from infra.migrate import migrate
from infra.settings import Settings
from projections.catalog import CatalogProjection
from projections.rebuild import rebuild
from tests.conftest import make_settings, server_data_dir
from tests.integration.gateway_harness import PASSWORD, QUERIES_DEPRECATIONS, Api, running_gateway
from tests.integration.private_servers import RedisServer, free_port

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


@pytest.fixture
def own_redis(settings: Settings, redis_server: RedisServer) -> Settings:
    return settings.model_copy(update={"redis_url": redis_server.url})


async def signed_in(api: Api) -> dict[str, Any]:
    _, address = await api.register()
    return await api.login(address)


async def sign_out(api: Api, tokens: dict[str, Any]) -> None:
    r = await api.client.post(
        "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=api.bearer(tokens)
    )
    assert r.status_code == 204, r.text


async def me(api: Api, tokens: dict[str, Any]) -> int:
    return (await api.client.get("/auth/me", headers=api.bearer(tokens))).status_code


async def refreshed(api: Api, tokens: dict[str, Any]) -> int:
    return (await api.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code


async def ready(api: Api) -> dict[str, Any]:
    body: dict[str, Any] = (await api.client.get("/ready")).json()
    return body


async def until_ready_says(api: Api, service: str, status: str) -> None:
    async with asyncio.timeout(15):
        while True:
            if (await ready(api))[service]["status"] == status:
                return
            await asyncio.sleep(0.05)


def outage_lines(logs: list[dict[str, Any]], service: str) -> list[str]:
    return [e["event"] for e in logs if e.get("service") == service and e["event"].startswith("dependency.")]


async def test_a_sign_out_holds_after_redis_and_the_gateway_restart_empty(
    own_redis: Settings, redis_server: RedisServer
) -> None:
    async with running_gateway(own_redis) as api:
        gone, kept = await signed_in(api), await signed_in(api)
        await sign_out(api, gone)
        assert await me(api, gone) == 401
    await redis_server.kill()
    await redis_server.start()  # empty: it kept nothing
    async with running_gateway(own_redis) as api:  # a new gateway process
        assert await me(api, gone) == 401
        assert await refreshed(api, gone) == 401
        assert await me(api, kept) == 200
        assert await refreshed(api, kept) == 200


async def test_while_redis_is_down_sign_outs_hold_requests_go_on_and_it_is_logged_once(
    fresh_database: str, redis_server: RedisServer
) -> None:
    await rebuild(fresh_database, CatalogProjection)  # the catalog's read model, empty
    settings = make_settings(fresh_database, redis_url=redis_server.url)
    async with running_gateway(settings, rate_limit_per_minute=600) as api:
        before, during = await signed_in(api), await signed_in(api)
        _, kept_email = await api.register()
        kept = await api.login(kept_email)
        await sign_out(api, before)
        with capture_logs() as logs:
            await redis_server.kill()
            statuses = [await me(api, kept) for _ in range(200)]
            for _ in range(20):  # the query cache and the idempotency keys go without Redis too
                r = await api.client.get("/catalog", headers=api.bearer(kept))
                statuses.append(r.status_code)
                login = {"email": kept_email, "password": PASSWORD}
                r = await api.client.post("/auth/login", json=login, headers={"Idempotency-Key": str(uuid4())})
                statuses.append(r.status_code)
            await sign_out(api, during)  # a sign-out needs PostgreSQL only
            assert await me(api, before) == 401
            assert await me(api, during) == 401
            assert await refreshed(api, during) == 401
            assert (await ready(api))["redis"]["status"] == "down"
            down_logs = list(logs)
            await redis_server.start()
            await until_ready_says(api, "redis", "ok")
            assert await me(api, kept) == 200
    assert statuses == [200] * 240
    assert outage_lines(down_logs, "redis") == ["dependency.down"]
    assert not [e for e in down_logs if e["log_level"] in ("warning", "error") and e.get("service") != "redis"]
    assert outage_lines(logs, "redis") == ["dependency.down", "dependency.up"]
    (ended,) = [e for e in logs if e["event"] == "dependency.up"]
    assert ended["calls_without"]["rate_limit_failed_open"] >= 240
    assert ended["calls_without"]["idempotency_key_unkept"] == 20


async def test_redis_started_after_the_gateway_is_used_once_it_answers_without_a_restart(
    fresh_database: str,
) -> None:
    await rebuild(fresh_database, CatalogProjection)
    later = RedisServer()  # its port is chosen; nothing listens on it yet
    settings = make_settings(fresh_database, redis_url=later.url)
    client = redis_asyncio.Redis.from_url(later.url)
    try:
        with capture_logs() as logs:
            async with running_gateway(settings) as api:
                tokens = await signed_in(api)
                for _ in range(5):
                    assert (await api.client.get("/catalog", headers=api.bearer(tokens))).status_code == 200
                assert (await ready(api))["redis"]["status"] == "down"
                down_logs = list(logs)
                await later.start()
                await until_ready_says(api, "redis", "ok")
                async with asyncio.timeout(15):  # the cache and the rate limits use it again
                    while not (
                        await client.keys(f"{settings.subject_prefix}:q:*")
                        and await client.keys(f"{settings.subject_prefix}:rl*")
                    ):
                        r = await api.client.get("/catalog?limit=7", headers=api.bearer(tokens))
                        assert r.status_code == 200
                        await asyncio.sleep(0.1)
    finally:
        await client.aclose()
        await later.kill()
    assert outage_lines(down_logs, "redis") == ["dependency.down"]
    assert outage_lines(logs, "redis") == ["dependency.down", "dependency.up"]
    assert not [e for e in logs if e["log_level"] in ("warning", "error") and e.get("service") != "redis"]


async def test_ready_answers_from_the_last_probe_and_says_nats_is_down(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    with capture_logs() as logs, caplog.at_level(logging.DEBUG):
        down = settings.model_copy(update={"nats_url": dead})
        async with running_gateway(down, metrics_token=SecretStr("scrape-me-0123456789")) as api:
            for _ in range(3):
                r = await api.client.get("/ready")
                assert r.status_code == 200  # PostgreSQL answers: commands go on without NATS
                body = r.json()
                assert body["status"] == "ready"
                assert body["nats"] == {"status": "down"}  # why: for operators only
                operator = {"Authorization": "Bearer scrape-me-0123456789"}
                assert (await api.client.get("/ready", headers=operator)).json()["nats"]["detail"]
                assert body["postgres"] == {"status": "ok"}
                assert (await api.client.get("/health")).json() == {"status": "ok"}
                await asyncio.sleep(1.2)  # several probes fail meanwhile
    assert outage_lines(logs, "nats") == ["dependency.down"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


class PostgresServer:
    """A PostgreSQL server of the test's own (initdb on first start), to stop and start again."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: ManagedProcess | None = None
        self.dsn = ""

    def start(self) -> None:
        self.process, base = start_postgres(self.data_dir, self.port, self.data_dir)
        self.dsn = f"{base}/outage"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    with server_data_dir("outage") as data_dir:
        server = PostgresServer(data_dir)
        server.start()
        try:
            with psycopg.connect(server.dsn.replace("/outage", "/postgres"), autocommit=True) as conn:
                conn.execute("CREATE DATABASE outage")
            asyncio.run(migrate(server.dsn))
            yield server
        finally:
            server.stop()


async def test_while_postgres_is_down_ready_says_so_sign_outs_hold_and_it_is_logged_once(
    postgres_server: PostgresServer, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(postgres_server.dsn, redis_url=redis_server.url)
    async with running_gateway(settings) as api:
        gone = await signed_in(api)
        await sign_out(api, gone)
        with capture_logs() as logs, caplog.at_level(logging.WARNING):
            await asyncio.to_thread(postgres_server.stop)
            await until_ready_says(api, "postgres", "down")
            r = await api.client.get("/ready")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            assert (await api.client.get("/health")).json() == {"status": "ok"}
            for _ in range(20):
                assert await me(api, gone) == 401  # from memory: no database needed
            await asyncio.sleep(2.5)  # several probes and revocation reads fail meanwhile
            down_logs = list(logs)
            await asyncio.to_thread(postgres_server.start)
            await until_ready_says(api, "postgres", "ok")
            assert await me(api, gone) == 401
    assert outage_lines(down_logs, "postgres") == ["dependency.down"]
    assert outage_lines(logs, "postgres") == ["dependency.down", "dependency.up"]
    assert not [r for r in caplog.records if r.exc_info]
