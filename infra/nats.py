"""NATS: the connections and the events stream.

nats-py errors are translated into `infra.errors.Unavailable` here, at the boundary. Every
connection reports to the process's NATS `Availability` (the composition root's), under its
own name: an outage is logged once when the first connection loses the server and once when the
last one has it back, never per reconnect attempt and never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig, StreamInfo

from infra.availability import Availability
from infra.errors import Unavailable
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0
RECONNECT_WAIT_SECONDS = 0.5
_STREAM_NAME_IN_USE = 10058

# What nats-py raises when the server cannot be reached or does not answer in time.
NatsFailure = (nats.errors.Error, asyncio.TimeoutError, OSError)

Hook = Callable[[], Awaitable[None]]
# What nats-py reports as the connection drops (before its status says so).
_CONNECTION_LOST = (nats.errors.UnexpectedEOF, nats.errors.StaleConnectionError, OSError, asyncio.TimeoutError)


class NatsConnector:
    """Opens the NATS connections of one process's components, to `settings.nats_url`; the
    composition root builds one and hands it to each component that talks to NATS."""

    def __init__(self, settings: Settings, availability: Availability | None = None) -> None:
        self.settings = settings
        self.availability = availability or Availability("nats")

    async def connect(
        self,
        name: str,
        *,
        on_disconnect: Hook | None = None,
        on_reconnect: Hook | None = None,
    ) -> Client:
        """A connection named `name`; once connected the client reconnects forever.

        Raises Unavailable when the first connection cannot be made (two quick attempts), so a
        caller decides itself how long to wait for NATS instead of hanging inside nats-py.
        Losing and regaining the server is reported to `availability` under `name`.
        """
        settings = self.settings
        availability = self.availability
        other_errors = 0

        async def error_cb(e: Exception) -> None:
            nonlocal other_errors
            if not nc.is_connected or isinstance(e, _CONNECTION_LOST):  # part of the outage
                availability.failed(e, during=name, source=name)
                return
            other_errors += 1  # a slow consumer, a permission refused: not an outage
            if other_errors == 1 or other_errors % 100 == 0:
                log.warning("nats.error", connection=name, error=repr(e), count=other_errors)

        async def disconnected_cb() -> None:
            if nc.is_closed:  # we closed it ourselves
                return
            availability.failed("disconnected", during=name, source=name)
            if on_disconnect is not None:
                await on_disconnect()

        async def reconnected_cb() -> None:
            availability.answered(source=name)
            if on_reconnect is not None:
                await on_reconnect()

        nc = Client()
        try:
            await nc.connect(
                servers=[settings.nats_url],
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=1,
                # nats-py annotates this as int; it takes seconds and sleeps on floats.
                reconnect_time_wait=RECONNECT_WAIT_SECONDS,  # type: ignore[arg-type]
                connect_timeout=2,
                ping_interval=5,
                max_outstanding_pings=2,
                error_cb=error_cb,
                disconnected_cb=disconnected_cb,
                reconnected_cb=reconnected_cb,
            )
        except NatsFailure as e:
            availability.failed(e, during=name, source=name)
            with contextlib.suppress(Exception):
                await nc.close()
            raise Unavailable("nats", f"{settings.nats_url}: {e!r}") from e
        availability.answered(source=name)
        # Bounded attempts for the first connection only; from now on never give up.
        nc.options["max_reconnect_attempts"] = -1
        return nc

    async def connect_once(self, name: str, *, connect_seconds: float) -> Client:
        """A connection named `name` that never reconnects and never logs (a probe's: it
        reports failures itself, once per outage, and connects again on its next round).

        Raises Unavailable when it cannot be made within `connect_seconds`.
        """
        nc = Client()
        try:
            await nc.connect(
                servers=[self.settings.nats_url],
                name=name,
                allow_reconnect=False,
                connect_timeout=connect_seconds,  # type: ignore[arg-type]
                error_cb=_quiet,
            )
        except NatsFailure as e:
            with contextlib.suppress(Exception):
                await nc.close()
            raise Unavailable("nats", f"{self.settings.nats_url}: {e!r}") from e
        return nc


CLOSE_SECONDS = 5.0


async def close_quietly(nc: Client) -> None:
    """Close a connection as a component stops: errors ignored, and given up after
    `CLOSE_SECONDS`, so a stop never hangs on a slow or vanished server."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_SECONDS):
            await nc.close()


async def _quiet(_: Exception) -> None:
    """nats-py's default error callback logs each failed attempt with a traceback."""


def events_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.events_stream,
        subjects=[f"{settings.subject_prefix}.evt.>"],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=settings.stream_replicas,
    )


async def ensure_events_stream(js: JetStreamContext, settings: Settings) -> StreamInfo:
    """Create the events stream if it is missing; an existing one is kept as it is.

    A stream whose configuration differs is logged, not changed: changing subjects or the
    duplicate window of a live stream is an operator's decision.
    """
    wanted = events_stream_config(settings)
    try:
        try:
            info = await js.stream_info(settings.events_stream)
        except nats.js.errors.NotFoundError:
            try:
                return await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as e:
                if e.err_code != _STREAM_NAME_IN_USE:  # lost a race with another creator: fine
                    raise
                info = await js.stream_info(settings.events_stream)
    except NatsFailure as e:
        raise Unavailable("nats", f"stream {settings.events_stream}: {e!r}") from e
    have = info.config
    drift = {
        key: (getattr(have, key), getattr(wanted, key))
        for key in ("subjects", "storage", "duplicate_window", "num_replicas")
        if getattr(have, key) != getattr(wanted, key)
    }
    if drift:
        log.warning("nats.stream_config_differs", stream=settings.events_stream, drift=str(drift))
    return info
