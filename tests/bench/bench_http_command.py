"""Enrolments over HTTP against a bare Litestar endpoint doing one raw insert.

    python tests/bench/bench_http_command.py [requests] [seconds] [lessons]

Two servers on loopback, each one process with uvicorn on uvloop and the same server settings:
- ours: the gateway (create_app) with everything on: JWT + revocation check, per-user rate limit
  in Redis, metrics, JSON request logs (to /dev/null), idempotency-free enrolments of a fresh
  student each time by a trainer (POST /courses/{id}/enrollments): load course + enrolment,
  decide, append through the group-committing store; the course has one lesson unless
  `lessons` says more (a course as authors write them: 20 lessons are 45 events);
- baseline: a bare Litestar app whose POST does one INSERT through a psycopg pool of the same size.
64 keep-alive connections (a minimal asyncio HTTP/1.1 client, so the generator costs the same for
both), bounded by a request count and a time limit; the baseline is measured in the same run, in
three rounds alternating with ours, and the medians are compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import create_database, drop_database, make_settings

CONNECTIONS = 64
POOL = 10
ROUNDS = 3


# -- the servers (run as `--serve ours|baseline DSN PORT`) ---------------------------------------


def baseline_app(dsn: str) -> object:
    from litestar import Litestar, post
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False, kwargs={"autocommit": True})

    async def lifespan_open(_: object) -> None:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_baseline (id uuid PRIMARY KEY, body jsonb)")

    async def lifespan_close(_: object) -> None:
        await pool.close()

    @post("/baseline", status_code=201)
    async def insert(data: dict[str, str]) -> dict[str, str]:
        row_id = uuid.uuid4()
        async with pool.connection() as conn:
            await conn.execute("INSERT INTO bench_baseline (id, body) VALUES (%s, %s)", [row_id, json.dumps(data)])
        return {"id": str(row_id)}

    return Litestar([insert], on_startup=[lifespan_open], on_shutdown=[lifespan_close], logging_config=None)


async def serve(kind: str, dsn: str, port: int) -> None:
    from gateway.http import _Server, bind, config, run_server

    if kind == "ours":
        from gateway.app import create_app
        from gateway.bootstrap import Root
        from infra.logging import configure_logging

        configure_logging("INFO", json=True)  # every request logged, as in production (to /dev/null)
        root = Root(make_settings(dsn, pg_pool_max=POOL, rate_limit_per_minute=1_000_000))
        await root.start()
        app = create_app(root.services())
    else:
        app = baseline_app(dsn)
    sock = bind("127.0.0.1", port)
    await run_server(_Server(config(app, "127.0.0.1", port)), [sock])


# -- the load generator ------------------------------------------------------------------------


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{headers}\r\n"
            ).encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)


async def connect(port: int) -> Conn:
    return Conn(*await asyncio.open_connection("127.0.0.1", port))


async def load(port: int, requests: int, seconds: float, request: object) -> tuple[float, list[float], dict[int, int]]:
    """Run `requests` requests (or until `seconds`) over CONNECTIONS connections."""
    conns = [await connect(port) for _ in range(CONNECTIONS)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = requests
    deadline = time.perf_counter() + seconds

    async def worker(i: int, conn: Conn) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            path, body, headers = request(i)  # type: ignore[operator]
            t = time.perf_counter()
            status, _ = await conn.post(path, body, headers)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.writer.close()
    return len(latencies) / elapsed, latencies, statuses


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def setup_ours(dsn: str, lessons: int = 1) -> tuple[str, list[str]]:
    """A published uncapped course (one module of `lessons` lessons with content: 5 events and 2
    per lesson) and 64 trainers' access tokens (on the bus, not timed)."""
    from commands.context import Context
    from gateway.app import authenticator
    from gateway.bootstrap import Root
    from schemas import commands as c
    from schemas import identity as i

    async with Root(make_settings(dsn)) as root:
        services = root.services()
        org = uuid.uuid4()
        system = Context(uuid.UUID(int=1), org, frozenset({"platform_admin"}))
        await services.bus.handle(i.CreateOrganisation(org_id=org, name="Bench"), system)
        author = Context(uuid.uuid4(), org, frozenset({"instructor"}))
        manager = Context(uuid.uuid4(), org, frozenset({"course_manager"}))
        course = uuid.UUID(
            (
                await services.bus.handle(c.CreateCourse(title="Forklifts", cefr_level="B1", category="safety"), author)
            ).id
        )
        module = (await services.bus.handle(c.AddModule(course_id=course, title="Basics"), author)).data["module_id"]
        for n in range(lessons):
            lesson = (
                await services.bus.handle(
                    c.AddLesson(course_id=course, module_id=uuid.UUID(module), title=f"Checks {n + 1}"), author
                )
            ).data["lesson_id"]
            content = c.LessonContent(objectives=["Inspect the forks"])
            await services.bus.handle(
                c.SetLessonContent(course_id=course, lesson_id=uuid.UUID(lesson), content=content), author
            )
        review = (await services.bus.handle(c.SubmitCourse(course_id=course), author)).data["review_id"]
        await services.bus.handle(c.ApproveCourse(review_id=uuid.UUID(review)), manager)
        await services.bus.handle(c.PublishCourse(course_id=course), manager)
        auth = authenticator(services)
        tokens = []
        for _ in range(CONNECTIONS):
            reply = await services.bus.handle(
                i.RegisterUser(
                    email=f"trainer-{uuid.uuid4().hex[:10]}@example.com", password="bench password 1", name="T"
                ),
                Context(uuid.uuid4(), uuid.UUID(int=0), frozenset({"anyone"})),
            )
            user = uuid.UUID(reply.id)
            await services.bus.handle(i.AddMember(org_id=org, email=reply.data["email"], roles=["trainer"]), system)
            _, family = await auth.refresh.issue(user, org)
            tokens.append(auth.access.issue(user, org, ["trainer"], reply.data["email"], family))
        return str(course), tokens


async def main(requests: int, seconds: float, lessons: int) -> None:
    import uvloop  # noqa: F401

    dsn = create_database("cw_bench_http")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        course, tokens = await setup_ours(dsn, lessons)
        ports = {"ours": 18431 + os.getpid() % 500, "baseline": 19431 + os.getpid() % 500}
        for kind, port in ports.items():
            procs.append(
                subprocess.Popen(  # noqa: ASYNC220 (spawning is instant; the servers run apart)
                    [sys.executable, __file__, "--serve", kind, dsn, str(port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports.values():
            for _ in range(300):
                with contextlib.suppress(OSError):
                    (await connect(port)).writer.close()
                    break
                await asyncio.sleep(0.1)

        def ours(i: int) -> tuple[str, bytes, str]:
            body = json.dumps({"student_id": str(uuid.uuid4())}).encode()
            return f"/courses/{course}/enrollments", body, f"Authorization: Bearer {tokens[i]}\r\n"

        def baseline(i: int) -> tuple[str, bytes, str]:
            return "/baseline", json.dumps({"student_id": str(uuid.uuid4())}).encode(), ""

        rates: dict[str, list[float]] = {"baseline": [], "ours": []}
        latencies: dict[str, list[float]] = {"baseline": [], "ours": []}
        for kind, make in (("baseline", baseline), ("ours", ours)):
            await load(ports[kind], 500, 10, make)  # warm up: connections, caches, JIT of plans
        # Rounds alternate and medians count: this VM's speed drifts within seconds.
        for round_ in range(ROUNDS):
            for kind, make in (("baseline", baseline), ("ours", ours)):
                rps, lat, statuses = await load(ports[kind], requests // ROUNDS, seconds / ROUNDS, make)
                rates[kind].append(rps)
                latencies[kind].extend(lat)
                print(
                    f"round {round_ + 1} {kind:9s} {rps:8.0f} req/s  p50 {pct(lat, 50):6.1f} ms"
                    f"  p99 {pct(lat, 99):6.1f} ms  n={len(lat)} statuses={statuses}"
                )
        results = {kind: statistics.median(r) for kind, r in rates.items()}
        for kind, lat in latencies.items():
            p50, p99 = pct(lat, 50), pct(lat, 99)
            print(f"{kind:9s} median {results[kind]:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        ratio = results["ours"] / results["baseline"]
        print(f"RESULT http-command ours={results['ours']:.0f} baseline={results['baseline']:.0f} ratio={ratio:.2f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        drop_database(dsn)


if __name__ == "__main__":
    import uvloop

    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        uvloop.run(serve(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        count = int(sys.argv[1]) if len(sys.argv) > 1 else 15000
        limit = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
        lessons = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        uvloop.run(main(count, limit, lessons))
