"""Liveness, readiness (each backing service reported) and Prometheus metrics."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from gateway.dispatch import ServicesDep
from gateway.messaging.asyncapi import asyncapi
from gateway.messaging.endpoints import endpoints
from gateway.observability import HttpMetrics
from gateway.operators import is_operator_now, require_metrics_reader
from gateway.probes import Probes
from gateway.problems import PROBLEMS
from infra.availability import Availability
from projections.status import ProjectionLag
from schemas.readiness import Check


class Health(msgspec.Struct, kw_only=True):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str  # ready | unavailable
    postgres: Check
    nats: Check
    redis: Check
    s3: Check  # the SOP documents' bucket
    qdrant: Check  # as the pipeline process reports it (down: it does not answer)
    llm: Check  # as the pipeline process reports it; disabled without CW_LLM_MODEL
    projections: list[ProjectionLag] = []  # lag of each read model (events and seconds behind)


def _check(availability: Availability, operator: bool) -> Check:
    if availability.up:
        return Check(status="ok")
    return Check(status="down", detail=availability.detail if operator else "")


def _reported(check: Check, operator: bool) -> Check:
    return check if operator or not check.detail else Check(status=check.status)


class SystemController(Controller):
    path = "/"
    tags = ["system"]
    include_in_schema = True

    @get("/asyncapi.json", summary="The NATS messaging API as an AsyncAPI 3 document", status_code=200)
    async def asyncapi_document(self, services: ServicesDep) -> dict[str, Any]:
        return asyncapi(services.settings.subject_prefix, endpoints(), services.settings.client_nats_url)

    @get("/health", summary="Liveness: the process answers", status_code=200)
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        summary="Readiness: PostgreSQL, NATS, Redis and the pipeline's S3, Qdrant and LLM, each reported",
        description="503 when PostgreSQL, which every command needs, is down. NATS, Redis, S3 "
        "(the SOP documents), Qdrant and the LLM (as the pipeline process reports them; "
        "`llm` is disabled with no CW_LLM_MODEL) are reported but do not make the gateway "
        "unready: commands go on without them. The "
        "answer is the last background probe's (every second), so it comes at once. Anyone sees "
        "each service's status; operators (a platform admin, or CW_METRICS_TOKEN as a bearer "
        "token) also see why a service is down and each read model's lag.",
        status_code=200,
        responses={503: ResponseSpec(Readiness, description="PostgreSQL is unavailable")},
    )
    async def ready(self, request: Request[Any, Any, Any], services: ServicesDep) -> Response[Readiness]:
        # The last background probe's findings (gateway.probes): no I/O here, so the answer is
        # immediate whatever is down.
        probes: Probes = request.app.state.probes
        deps = services.dependencies
        ok = deps.postgres.up
        operator = is_operator_now(request, services.settings)  # error texts and lag: not for all
        report = Readiness(
            status="ready" if ok else "unavailable",
            postgres=_check(deps.postgres, operator),
            nats=_check(deps.nats, operator),
            redis=_check(deps.redis, operator) if services.redis is not None else Check(status="disabled"),
            s3=_check(deps.s3, operator),
            qdrant=_reported(probes.pipeline.qdrant, operator),
            llm=_reported(probes.pipeline.llm, operator),
            projections=probes.lag if operator else [],
        )
        return Response(report, status_code=200 if ok else 503)

    @get(
        "/metrics",
        summary="Prometheus metrics (with CW_METRICS_TOKEN set, for its bearer only)",
        status_code=200,
        media_type="text/plain",
        responses={401: PROBLEMS[401]},
    )
    async def metrics(self, request: Request[Any, Any, Any], services: ServicesDep) -> Response[bytes]:
        require_metrics_reader(request, services.settings)
        registry: HttpMetrics = request.app.state.metrics
        return Response(registry.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
