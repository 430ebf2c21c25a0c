"""The services the gateway uses, probed in the background: `/ready` answers at once from the
last probe, whatever is down, and the probes notice an outage and its end with no traffic.

Each probe is one bounded round trip (PostgreSQL `SELECT 1`, Redis `PING`, NATS `PING` on a
connection kept for probing, opened by the root's `NatsConnector`, S3 asked whether the SOP
bucket exists), reported to the service's `Availability`, which logs the outage once when it
starts and once when it ends. The pipeline's own dependencies (Qdrant, whose local folder only
the pipeline process may open, and the LLM) are what the pipeline process answers on NATS,
kept as its last report; they log nothing here (the pipeline process logs its own outages). The
projections' lag is read after a good PostgreSQL probe; it is information, so a slow read keeps
the last figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import msgspec
from nats.aio.client import Client

from gateway.services import Services
from infra.availability import Availability, describe
from projections.status import ProjectionLag, projection_lag
from schemas.readiness import Check, PipelineReadiness

EVERY_SECONDS = 1.0
TIMEOUT_SECONDS = 0.8
LAG_TIMEOUT_SECONDS = 2.0


class Probes:
    """Probes every service now and then; holds the projections' last known lag."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.lag: list[ProjectionLag] = []
        unknown = Check(status="down", detail="not probed yet")
        self.pipeline = PipelineReadiness(qdrant=unknown, llm=unknown)
        self._nats: Client | None = None

    async def run(self) -> None:
        """Probe every `EVERY_SECONDS` until cancelled (the first round at once)."""
        try:
            while True:
                await self.probe()
                await asyncio.sleep(EVERY_SECONDS)
        finally:
            await self._close_nats()

    async def probe(self, *, lag: bool = True) -> None:
        """One round: every service at once, each bounded by `TIMEOUT_SECONDS`; then the lag
        (`lag=False`: not now, e.g. at start-up, where a stop must not wait for it)."""
        deps = self.services.dependencies
        rounds = [
            _probe(deps.postgres, self._postgres),
            _probe(deps.nats, self._nats_ping),
            _probe(deps.s3, self.services.ports.documents.blobs.ping),
            self._ask_pipeline(),
        ]
        if self.services.redis is not None:
            rounds.append(_probe(deps.redis, self.services.redis.ping))
        await asyncio.gather(*rounds)
        if lag and deps.postgres.up:
            with contextlib.suppress(Exception):  # information only: keep the last figures
                async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
                    self.lag = await projection_lag(self.services.pool)

    async def _ask_pipeline(self) -> None:
        """The pipeline process's own report of Qdrant and the LLM (only it opens a local Qdrant
        folder, only it calls the LLM); no answer means neither can be used for generation."""
        llm = bool(self.services.settings.llm_model)
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                if self._nats is None or not self._nats.is_connected:
                    raise ConnectionError("no NATS connection")
                reply = await self._nats.request(self.services.settings.pipeline_ready_subject(), b"")
            self.pipeline = msgspec.json.decode(reply.data, type=PipelineReadiness)
        except Exception as e:  # no pipeline process, or NATS down: the same for /ready
            why = f"the pipeline process does not answer: {describe(e if str(e) else type(e).__name__)}"
            self.pipeline = PipelineReadiness(
                qdrant=Check(status="down", detail=why),
                llm=Check(status="down", detail=why) if llm else Check(status="disabled"),
            )

    async def _postgres(self) -> None:
        async with self.services.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def _nats_ping(self) -> None:
        if self._nats is None or not self._nats.is_connected:
            await self._close_nats()
            # No reconnecting inside nats-py: the next probe connects again.
            self._nats = await self.services.nats.connect_once("cw-gateway-probe", connect_seconds=TIMEOUT_SECONDS / 2)
        await self._nats.flush(timeout=1)  # (whole seconds; the probe's bound is the tighter one)

    async def _close_nats(self) -> None:
        client, self._nats = self._nats, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):
                await client.close()


async def _probe(availability: Availability, call: Callable[[], Awaitable[object]]) -> None:
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await call()
    except TimeoutError:
        availability.failed(f"no answer within {TIMEOUT_SECONDS:g} s", during="probe")
    except Exception as e:  # any failure of the call means the same: not answering
        availability.failed(e, during="probe")
    else:
        availability.answered()
