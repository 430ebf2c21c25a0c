"""Serving the gateway: uvicorn inside the running event loop (uvloop when `coursewright up` runs
on it), until cancelled. Signals stay with the supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn

from gateway.app import create_app
from gateway.services import Services
from infra.logging import get_logger

log = get_logger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the supervisor owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def config(app: Any, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    values: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "none",  # run on the loop we are called from
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,  # our middleware logs every request, as JSON with its id
        "log_config": None,
        "timeout_graceful_shutdown": 10,
        "backlog": 2048,
    }
    values.update(overrides)
    return uvicorn.Config(app, **values)


async def run_server(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
    """Run `server` until cancelled, then shut it down gracefully."""
    task = asyncio.create_task(server.serve(sockets=sockets), name="http-server")
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        raise


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port); binding here makes a busy port an OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        # Several gateway processes listen on one port; the kernel spreads connections over them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def serve(services: Services) -> None:
    """Serve the gateway on settings.http_host:http_port until cancelled."""
    settings = services.settings
    sock = bind(settings.http_host, settings.http_port)
    server = _Server(config(create_app(services), settings.http_host, settings.http_port))
    log.info("http.serving", host=settings.http_host, port=sock.getsockname()[1])
    try:
        await run_server(server, [sock])
    finally:
        sock.close()
