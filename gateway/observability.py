"""Per request: an id (that becomes the correlation id of the events it causes), a JSON log
line, and Prometheus latency and error metrics per route."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from structlog.contextvars import bind_contextvars, reset_contextvars

from gateway.scope import header
from infra.logging import get_logger

log = get_logger("gateway.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class HttpMetrics:
    """The gateway's metrics, in a registry of its own (several apps may live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "cw_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "cw_http_errors_total",
            "HTTP answers with a 4xx or 5xx status, by route",
            ["method", "route", "status"],
            registry=self.registry,
        )

        self._latency_of: dict[tuple[str, str, str], Any] = {}  # labelled children, found once

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        child = self._latency_of.get(labels)
        if child is None:
            child = self._latency_of[labels] = self.latency.labels(*labels)
        child.observe(seconds)
        if status >= 400:
            self.errors.labels(*labels).inc()

    def exposition(self) -> bytes:
        """Our metrics and the process-wide default registry's (workers, projections)."""
        return generate_latest(REGISTRY) + generate_latest(self.registry)


class _RequestIds:
    """Unique request ids without a system call each: a random per-process prefix and a count
    (32 hex digits, like a UUID's). A forked worker draws a prefix of its own."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.count = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.count):016x}"


new_request_id = _RequestIds()


def request_id_of(scope: Any) -> str:
    """The caller's X-Request-Id when it is well formed, else a new one."""
    given = header(scope, b"x-request-id")
    return given if given is not None and _REQUEST_ID.match(given) else new_request_id()


class ObservabilityMiddleware:
    """Pure ASGI: binds the request id to the log context, logs and measures every answer."""

    def __init__(self, app: Any, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = bind_contextvars(request_id=request_id, correlation_id=request_id)
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            method = scope["method"]
            self.metrics.observe(method, route, status, elapsed)
            log.info(
                "http.request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                ms=round(elapsed * 1000, 2),
            )
            reset_contextvars(**tokens)
