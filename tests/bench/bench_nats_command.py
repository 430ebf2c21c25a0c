"""Order placement and enrolment over the NATS messaging API against a bare nats.micro endpoint
doing one raw insert.

    python tests/bench/bench_nats_command.py [requests] [rounds]

Two services on the same NATS server and PostgreSQL, each a process of its own with its own NATS
connection (as `coursewright up` runs the messaging component), and a load generator in this
process keeping 64 requests in flight:
- ours: the messaging API with everything on: the bearer token verified and checked against
  ended sign-ins, the authorisation table, the command bus and the group-committing store, a
  problem map around it all; half the requests place an order (`orders.place`, no documents, a
  sales member), half enrol a fresh student in a published course (`courses.enrol`, a trainer);
- baseline: a nats.micro endpoint whose handler decodes the JSON and does one INSERT through a
  psycopg pool of the same size, each request in a task of its own (at most 256 at once), as
  ours answers them;
- bare: the same endpoint as nats.micro runs a handler by default, one request after another.
Rounds alternate bare, the baseline and ours; the medians are compared (RESULT against the
baseline; the bare endpoint's ratio is printed too). Each round prints its rate, p50/p99 and the
load average; the p50/p99 at the end are over all rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._report import percentile, result
from tests.bench.bench_http_command import setup_ours
from tests.conftest import NATS_URL, create_database, drop_database, make_settings
from tests.integration.test_orders import ORDER

IN_FLIGHT = 64
POOL = 10


# -- the services (run as `--serve ours|baseline DSN PREFIX`) ---------------------------------------


async def serve(kind: str, dsn: str, prefix: str) -> None:
    import nats

    settings = make_settings(dsn, pg_pool_max=POOL, pg_pool_min=POOL, subject_prefix=prefix)
    nc = await nats.connect(NATS_URL)
    if kind == "ours":
        from gateway.app import authenticator
        from gateway.bootstrap import Root
        from gateway.messaging.endpoints import endpoints
        from gateway.messaging.service import MessagingApi
        from infra.gcpolicy import tune_for_server
        from tests.ports import make_ports

        async with Root(settings, make_ports()) as root:
            services = root.services()
            auth = authenticator(services)
            await auth.revocations.load()
            await auth.api_keys.load()
            api = MessagingApi(services, endpoints(), auth.caller_of_token)
            await api.start(nc)
            tune_for_server()  # as the messaging component does
            print("serving", flush=True)
            await asyncio.Event().wait()
    from nats.micro import add_service
    from nats.micro.request import Request
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False, kwargs={"autocommit": True})
    await pool.open(wait=True)
    async with pool.connection() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_baseline (id uuid PRIMARY KEY, body jsonb)")

    async def insert(request: Request) -> None:
        data = json.loads(request.data)
        row_id = uuid.uuid4()
        async with pool.connection() as conn:
            await conn.execute("INSERT INTO bench_baseline (id, body) VALUES (%s, %s)", [row_id, json.dumps(data)])
        await request.respond(json.dumps({"id": str(row_id)}).encode(), headers={"Cw-Status": "201"})

    slots, tasks = asyncio.Semaphore(256), set()

    async def insert_concurrently(request: Request) -> None:
        await slots.acquire()
        task = asyncio.create_task(insert(request))
        tasks.add(task)
        task.add_done_callback(lambda t: (tasks.discard(t), slots.release()))

    service = await add_service(nc, name="bench-baseline", version="1.0.0", queue_group="bench")
    await service.add_endpoint(name="bare", subject=f"{prefix}.bench.bare", handler=insert)
    await service.add_endpoint(name="insert", subject=f"{prefix}.bench.insert", handler=insert_concurrently)
    print("serving", flush=True)
    await asyncio.Event().wait()


# -- the load generator --------------------------------------------------------------------------

Call = tuple[str, bytes, dict[str, str]]  # subject, body, headers


async def load(nc: Any, make: Any, requests: int) -> tuple[float, dict[str, list[float]]]:
    """Requests per second and each request's milliseconds by subject, 64 in flight."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    latencies: dict[str, list[float]] = {}

    async def one(i: int) -> None:
        subject, body, headers = make(i)
        async with gate:
            started = time.perf_counter()
            msg = await nc.request(subject, body, timeout=30, headers=headers)
            latencies.setdefault(subject.rsplit(".", 2)[-2], []).append((time.perf_counter() - started) * 1000)
            status = (msg.headers or {}).get("Cw-Status", "200")
            assert status in ("200", "201", "202"), msg.data

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    return requests / (time.perf_counter() - began), latencies


async def main(requests: int, rounds: int) -> None:
    import nats

    from gateway.app import authenticator
    from gateway.bootstrap import Root

    dsn = create_database("cw_bench_nats")
    prefix = f"b{uuid.uuid4().hex[:8]}"
    settings = make_settings(dsn, subject_prefix=prefix)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        course, trainers = await setup_ours(dsn)
        async with Root(settings) as root:  # a sales member's token (signed with the same secret)
            auth = authenticator(root.services())
            org = uuid.uuid4()
            sales = auth.access.issue(uuid.uuid4(), org, ["sales"], "sales@example.com", uuid.uuid4())
        for kind in ("ours", "baseline"):
            proc = subprocess.Popen(  # noqa: ASYNC220 (spawning is instant; the services run apart)
                [sys.executable, __file__, "--serve", kind, dsn, prefix], stdout=subprocess.PIPE
            )
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"serving", kind
            procs.append(proc)
        place = json.dumps(ORDER).encode()

        def ours(i: int) -> Call:
            if i % 2:
                return f"{prefix}.api.v1.orders.place", place, {"Authorization": f"Bearer {sales}"}
            body = json.dumps({"course_id": course, "student_id": str(uuid.uuid4())}).encode()
            return f"{prefix}.api.v1.courses.enrol", body, {"Authorization": f"Bearer {trainers[i % len(trainers)]}"}

        def baseline(i: int) -> Call:
            return f"{prefix}.bench.insert", place if i % 2 else json.dumps({"s": str(uuid.uuid4())}).encode(), {}

        def bare(i: int) -> Call:
            return f"{prefix}.bench.bare", place if i % 2 else json.dumps({"s": str(uuid.uuid4())}).encode(), {}

        client = await nats.connect(NATS_URL)
        kinds = (("bare", bare), ("baseline", baseline), ("ours", ours))
        for _, make in kinds:
            await load(client, make, 400)  # warm up: connections, held streams, plans
        rates: dict[str, list[float]] = {kind: [] for kind, _ in kinds}
        latencies: dict[str, list[float]] = {}
        for n in range(rounds):
            for kind, make in kinds:
                rate, lat = await load(client, make, requests)
                rates[kind].append(rate)
                for subject, values in lat.items():
                    latencies.setdefault(f"{kind} {subject}", []).extend(values)
                    latencies.setdefault(kind, []).extend(values)
                every = [v for values in lat.values() for v in values]
                print(
                    f"round {n + 1} {kind:8s} {rate:6.0f} req/s  p50={percentile(every, 50):6.1f} ms"
                    f"  p99={percentile(every, 99):6.1f} ms  load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        await client.close()
        for name, lat in sorted(latencies.items()):
            print(f"{name:16s} p50={percentile(lat, 50):6.1f} ms  p99={percentile(lat, 99):6.1f} ms  n={len(lat)}")
        for kind, values in rates.items():
            print(f"{kind:9s} rounds: " + ", ".join(f"{v:.0f}" for v in values) + " req/s")
        bare_ratio = statistics.median(rates["ours"]) / statistics.median(rates["bare"])
        print(f"against the bare (one-at-a-time) endpoint: ratio={bare_ratio:.2f}")
        result("nats-command", statistics.median(rates["ours"]), statistics.median(rates["baseline"]), " req/s")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        drop_database(dsn)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000, int(sys.argv[2]) if len(sys.argv) > 2 else 3))
