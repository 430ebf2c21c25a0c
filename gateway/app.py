"""The Litestar app, built from the running services by `create_app`; nothing connects at import."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from gateway.auth import Authenticator, Caller
from gateway.controllers.audit import AuditController
from gateway.controllers.auth import AuthController
from gateway.controllers.certificates import CertificateController, MyCertificatesController
from gateway.controllers.cohorts import CohortController, FeedbackController
from gateway.controllers.courses import CourseController
from gateway.controllers.enrollments import EnrollmentController
from gateway.controllers.labs import LabController, LessonLabController
from gateway.controllers.notifications import NOTIFICATION_STREAM, NotificationController
from gateway.controllers.orders import DOCUMENT_LIMIT, OrderController
from gateway.controllers.organisations import (
    ApiKeyController,
    OrganisationController,
    PlatformAdminController,
    PlatformAuditorController,
)
from gateway.controllers.paths import LearningPathController
from gateway.controllers.reviews import ReviewController
from gateway.controllers.system import SystemController
from gateway.controllers.users import UserController
from gateway.dispatch import require_json
from gateway.edge import PageEdge
from gateway.idempotency import IdempotencyMiddleware
from gateway.notifications import NotificationHub
from gateway.observability import HttpMetrics, ObservabilityMiddleware
from gateway.probes import Probes
from gateway.problems import problem_response
from gateway.queries import QUERY_ROUTES
from gateway.ratelimit import limiter, storage
from gateway.services import Services
from infra.gcpolicy import tune_for_server
from infra.housekeeping import purge_forever
from infra.settings import Settings
from infra.tokens import AccessTokens, RefreshTokens, StreamTickets

DEV_SECRET = Settings.model_fields["jwt_secret"].default.get_secret_value()
COMMAND_CONTROLLERS = [
    AuthController,
    UserController,
    OrganisationController,
    ApiKeyController,
    PlatformAdminController,
    PlatformAuditorController,
    CourseController,
    ReviewController,
    EnrollmentController,
    CohortController,
    FeedbackController,
    LearningPathController,
    AuditController,
    LabController,
    LessonLabController,
    OrderController,
    CertificateController,
    MyCertificatesController,
    NotificationController,
]


def query_routes() -> list[Any]:
    """The read models' routes (gateway/queries.py)."""
    return list(QUERY_ROUTES)


def authenticator(services: Services) -> Authenticator:
    settings = services.settings
    secret = settings.jwt_secret.get_secret_value()
    if settings.env == "prod" and secret == DEV_SECRET:
        raise RuntimeError("set CW_JWT_SECRET: the development JWT secret is refused in prod")
    ttl = timedelta(minutes=settings.access_token_minutes)
    return Authenticator(
        services.store,
        services.ports.passwords,
        AccessTokens(secret, ttl),
        RefreshTokens(services.pool, timedelta(days=settings.refresh_token_days)),
        services.revocations,
        services.api_keys,
        StreamTickets(secret, NOTIFICATION_STREAM, timedelta(seconds=settings.stream_ticket_seconds)),
    )


def dependencies(services: Services, auth: Authenticator) -> dict[str, Provide]:
    """`services` and `caller`, the two dependencies handlers name.

    `caller` takes `services` so Litestar resolves them one after the other: two independent
    dependencies would be resolved concurrently in an anyio task group, which costs more per
    request than both of them together.
    """

    def provide_services() -> Services:
        return services

    async def provide_caller(request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Caller:
        return await auth.caller(request)

    return {
        "services": Provide(provide_services, use_cache=True, sync_to_thread=False),
        "caller": Provide(provide_caller),
    }


def openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Coursewright API",
        version="1.0.0",
        description="Commands (201/202 with id, version, position and Location), identity and "
        "organisations. Errors are RFC 9457 problem+json. Every POST honours Idempotency-Key "
        "(24 hours). Authenticate with `Authorization: Bearer <access token>` from /auth/login.",
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="An access token from POST /auth/login or /auth/refresh",
                ),
                "StreamTicket": SecurityScheme(
                    type="apiKey",
                    name="ticket",
                    security_scheme_in="query",
                    description="A ticket from POST /me/notifications/stream-ticket: opens the notification "
                    "stream alone, for a minute",
                ),
            }
        ),
        use_handler_docstrings=False,
    )


def create_app(services: Services) -> Litestar:
    """The HTTP gateway over the given services (which the caller starts and closes)."""
    settings = services.settings
    auth = authenticator(services)
    metrics = HttpMetrics()
    probes = Probes(services)
    hub = NotificationHub(settings.pg_dsn, services.reader)

    @contextlib.asynccontextmanager
    async def housekeeping(_: Litestar) -> AsyncIterator[None]:
        ttl = timedelta(hours=settings.idempotency_hours)
        await auth.revocations.load()  # before the first request: no ended sign-in gets in
        await auth.api_keys.load()  # nor a revoked key
        await probes.probe(lag=False)  # /ready's first answer is a real one (the lag follows)
        tune_for_server()  # what startup built lives as long as the process
        tasks = [
            asyncio.create_task(purge_forever(services.pool, ttl), name="gateway-housekeeping"),
            asyncio.create_task(auth.revocations.follow(), name="gateway-revocations"),
            asyncio.create_task(auth.api_keys.follow(), name="gateway-api-keys"),
            asyncio.create_task(probes.run(), name="gateway-probes"),
        ]
        try:
            yield
        finally:
            await hub.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    limits = limiter(
        auth,
        storage(settings.redis_url, f"{settings.subject_prefix}:rl"),
        settings.rate_limit_per_minute,
        settings.login_rate_limit_per_minute,
        services.dependencies.redis,
    )
    app = Litestar(
        route_handlers=[SystemController, *query_routes(), *COMMAND_CONTROLLERS],
        dependencies=dependencies(services, auth),
        middleware=[
            limits,
            IdempotencyMiddleware(
                redis=services.redis,
                namespace=settings.subject_prefix,
                ttl_seconds=settings.idempotency_hours * 3600,
                max_body=settings.max_body_bytes,
                redis_health=services.dependencies.redis,
            ),
        ],
        exception_handlers={Exception: problem_response},
        before_request=require_json,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi(),
        state=State(
            {
                "auth": auth,
                "metrics": metrics,
                "probes": probes,
                "notification_hub": hub,
                DOCUMENT_LIMIT: services.ports.documents.max_bytes,
            }
        ),
        lifespan=[housekeeping],
        logging_config=None,
        debug=False,
    )
    # In front of routing: request ids, logs and metrics for every request (unmatched ones too),
    # then the page edge, which answers repeated catalog requests from the query cache's memory.
    edge = PageEdge(app.asgi_handler, auth, limits, services.reader.cache)
    app.asgi_handler = ObservabilityMiddleware(edge, metrics=metrics)
    app.state["edge"] = edge
    return app
