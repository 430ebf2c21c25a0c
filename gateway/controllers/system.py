"""Liveness, readiness (each backing service reported) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from gateway.dispatch import ServicesDep
from gateway.observability import HttpMetrics
from projections.status import ProjectionLag, projection_lag


class Check(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str  # ok | down | disabled
    detail: str = ""


class Health(msgspec.Struct, kw_only=True):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str  # ready | unavailable
    postgres: Check
    nats: Check
    redis: Check
    projections: list[ProjectionLag] = []  # lag of each read model (events and seconds behind)


async def _check(probe: Any) -> Check:
    try:
        async with asyncio.timeout(2.0):
            await probe()
        return Check(status="ok")
    except Exception as e:
        return Check(status="down", detail=f"{type(e).__name__}: {e}"[:300])


class SystemController(Controller):
    path = "/"
    tags = ["system"]
    include_in_schema = True

    @get("/health", summary="Liveness: the process answers", status_code=200)
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        summary="Readiness: PostgreSQL, NATS and Redis, each reported",
        description="503 when PostgreSQL, which every command needs, is down. NATS and Redis "
        "are reported but do not make the gateway unready: commands go on without them.",
        status_code=200,
        responses={503: ResponseSpec(Readiness, description="PostgreSQL is unavailable")},
    )
    async def ready(self, services: ServicesDep) -> Response[Readiness]:
        async def postgres() -> None:
            async with services.pool.connection() as conn:
                await conn.execute("SELECT 1")

        async def nats() -> None:
            import nats as nats_client

            nc = await nats_client.connect(
                services.settings.nats_url,
                connect_timeout=1,
                max_reconnect_attempts=0,
                allow_reconnect=False,
            )
            await nc.close()

        async def redis() -> None:
            await services.redis.ping()

        pg, nt = await asyncio.gather(_check(postgres), _check(nats))
        rd = await _check(redis) if services.redis is not None else Check(status="disabled")
        ok = pg.status == "ok"
        lag: list[ProjectionLag] = []
        if ok:
            try:
                async with asyncio.timeout(2.0):
                    lag = await projection_lag(services.pool)
            except Exception:  # lag is information; readiness is PostgreSQL's answer above
                lag = []
        report = Readiness(status="ready" if ok else "unavailable", postgres=pg, nats=nt, redis=rd, projections=lag)
        return Response(report, status_code=200 if ok else 503)

    @get("/metrics", summary="Prometheus metrics", status_code=200, media_type="text/plain")
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        registry: HttpMetrics = request.app.state.metrics
        return Response(registry.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
