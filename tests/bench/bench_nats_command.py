"""Order placement over the NATS messaging API against a bare nats.micro endpoint doing one raw
insert.

    python tests/bench/bench_nats_command.py [requests] [rounds]

Both services run in this process on the same NATS server and PostgreSQL, each on a NATS
connection of its own; one client keeps 64 requests in flight:
- ours: `cw.api.v1.orders.place` on the messaging API with everything on: the bearer token
  verified and checked against ended sign-ins, the authorisation table, the command bus and the
  group-committing store, a problem map around it all;
- baseline: a nats.micro endpoint whose handler decodes the JSON and does one INSERT through a
  psycopg pool of the same size.
Rounds alternate ours and the baseline; the medians are compared.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._report import percentile, result
from tests.conftest import NATS_URL, create_database, drop_database, make_settings
from tests.integration.test_orders import ORDER

IN_FLIGHT = 64
POOL = 10


async def load(nc: object, subject: str, headers: dict[str, str], requests: int) -> tuple[float, list[float]]:
    """Requests per second and each request's milliseconds, 64 in flight."""
    body = json.dumps(ORDER).encode()
    gate = asyncio.Semaphore(IN_FLIGHT)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            msg = await nc.request(subject, body, timeout=30, headers=headers)  # type: ignore[attr-defined]
            latencies.append((time.perf_counter() - started) * 1000)
            status = (msg.headers or {}).get("Cw-Status", "200")
            assert status in ("200", "201", "202"), msg.data

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    return requests / (time.perf_counter() - began), latencies


async def main(requests: int, rounds: int) -> None:
    import nats
    from nats.micro import add_service
    from nats.micro.request import Request
    from psycopg_pool import AsyncConnectionPool

    from gateway.app import authenticator
    from gateway.bootstrap import Root
    from gateway.messaging.endpoints import endpoints
    from gateway.messaging.service import MessagingApi
    from tests.ports import make_ports

    dsn = create_database("cw_bench_nats")
    settings = make_settings(dsn, pg_pool_max=POOL, pg_pool_min=POOL)
    try:
        async with Root(settings, make_ports()) as root:
            services = root.services()
            auth = authenticator(services)
            await auth.revocations.load()
            ours_nc, base_nc, client = [await nats.connect(NATS_URL) for _ in range(3)]
            api = MessagingApi(services, endpoints(), auth.caller_of_token)
            await api.start(ours_nc)

            pool = AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False, kwargs={"autocommit": True})
            await pool.open(wait=True)
            async with pool.connection() as conn:
                await conn.execute("CREATE TABLE bench_baseline (id uuid PRIMARY KEY, body jsonb)")

            async def insert(request: Request) -> None:
                data = json.loads(request.data)
                row_id = uuid.uuid4()
                async with pool.connection() as conn:
                    await conn.execute(
                        "INSERT INTO bench_baseline (id, body) VALUES (%s, %s)", [row_id, json.dumps(data)]
                    )
                await request.respond(json.dumps({"id": str(row_id)}).encode(), headers={"Cw-Status": "201"})

            baseline = await add_service(base_nc, name="bench-baseline", version="1.0.0", queue_group="bench")
            await baseline.add_endpoint(
                name="insert", subject=f"{settings.subject_prefix}.bench.insert", handler=insert
            )

            org = uuid.uuid4()
            token = auth.access.issue(uuid.uuid4(), org, ["sales"], "sales@example.com", uuid.uuid4())
            ours_headers = {"Authorization": f"Bearer {token}"}
            ours_subject = f"{settings.subject_prefix}.api.v1.orders.place"
            await load(client, ours_subject, ours_headers, 200)  # warm up both paths
            await load(client, f"{settings.subject_prefix}.bench.insert", {}, 200)
            ours_rates, base_rates, ours_lat, base_lat = [], [], [], []
            for _ in range(rounds):
                rate, lat = await load(client, ours_subject, ours_headers, requests)
                ours_rates.append(rate)
                ours_lat += lat
                rate, lat = await load(client, f"{settings.subject_prefix}.bench.insert", {}, requests)
                base_rates.append(rate)
                base_lat += lat
            for name, lat in (("ours", ours_lat), ("baseline", base_lat)):
                print(f"{name}: p50={percentile(lat, 50):.1f} ms p99={percentile(lat, 99):.1f} ms")
            result("nats-command", statistics.median(ours_rates), statistics.median(base_rates), " req/s")
            await api.stop()
            await baseline.stop()
            await pool.close()
            for nc in (ours_nc, base_nc, client):
                await nc.close()
    finally:
        drop_database(dsn)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000, int(sys.argv[2]) if len(sys.argv) > 2 else 3))
