"""Cached catalog page requests/s at 64 connections, against a bare Litestar JSON endpoint.

    python tests/bench/bench_catalog.py [seconds]

A catalog of 200 published courses in 4 organisations is made through the command bus and
projected. Each server runs in a process of its own (uvicorn with httptools on uvloop, as
`coursewright up` serves: gateway.http.config), the three side by side, the load generator in
this process, 64 keep-alive connections. The load goes to one server at a time, alternating, in
`ROUNDS` rounds of `seconds` (10) / `ROUNDS` per server after a 1 s warm-up; the medians count
(on a loaded machine one server measured alone for 10 s swung the ratio by half).

- catalog: GET /catalog?limit=20 on the full gateway (create_app: bearer token checked against
  the ended sign-ins held in memory, rate limits with leased permits, metrics, a JSON log line per
  request), page served from the cache (by the page edge, gateway/edge.py, before routing).
- catalog_routes: the same request on QUERY_ROUTES alone in a Litestar app with the real
  `caller` dependency (token verified, ended sign-ins held in memory): the read side's own cost.
- baseline: a bare Litestar app answering GET /catalog with the same JSON bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvloop
from litestar import Litestar, Response, get

from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from projections.catalog import CatalogProjection
from projections.rebuild import rebuild
from tests.bench._readside import populate
from tests.bench._report import percentile, result
from tests.conftest import create_database, drop_database, make_settings, service_env

ROOT = Path(__file__).resolve().parents[2]
PATH = "/catalog?limit=20"
CONNECTIONS = 64
ROUNDS = 5


# -- the servers (run as `bench_catalog.py --serve MODE PORT`) -------------------------------


def serve(mode: str, port: int) -> None:

    from gateway.app import authenticator, create_app, dependencies
    from gateway.bootstrap import Root
    from gateway.http import _Server, config, run_server
    from gateway.problems import problem_response
    from gateway.queries import QUERY_ROUTES
    from infra.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, json=True)  # as in production; the output goes nowhere

    async def run() -> None:
        root = Root(settings)
        await root.start()
        services = root.services()
        background: list[asyncio.Task[None]] = []
        if mode == "bare":
            body = Path(os.environ["CW_BENCH_BODY"]).read_bytes()  # noqa: ASYNC240

            @get("/catalog", sync_to_thread=False)
            def bare() -> Response[bytes]:
                return Response(body, media_type="application/json")

            app = Litestar(route_handlers=[bare], debug=False, logging_config=None)
        elif mode == "gateway":
            app = create_app(services)
        else:
            auth = authenticator(services)
            # The ended sign-ins loaded and followed in memory, as create_app's lifespan does.
            await auth.revocations.load()
            background.append(asyncio.create_task(auth.revocations.follow()))
            app = Litestar(
                route_handlers=QUERY_ROUTES,
                dependencies=dependencies(services, auth),
                exception_handlers={Exception: problem_response},
                debug=False,
                logging_config=None,
            )
        server = _Server(config(app, "127.0.0.1", port))
        try:
            await run_server(server)
        finally:
            for task in background:
                task.cancel()
            await root.close()

    uvloop.run(run())


# -- the load generator -----------------------------------------------------------------------


class _Conn(asyncio.Protocol):
    def __init__(self, load: Load) -> None:
        self.load = load
        self.buf = b""
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        if self.load.stop or self.transport is None:
            return
        self.sent = time.perf_counter()
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            status = int(head[9:12])
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.load.done(status, time.perf_counter() - self.sent, body)
            self.send()


class Load:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.request = (f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
        self.stop = False
        self.recording = False
        self.latencies: list[float] = []
        self.errors = 0
        self.body = b""

    def done(self, status: int, seconds: float, body: bytes) -> None:
        if status != 200:
            self.errors += 1
            if self.errors == 1:
                print(f"status {status}: {body[:300]!r}", flush=True)
        elif not self.body:
            self.body = body
        if self.recording:
            self.latencies.append(seconds * 1000)

    async def run(self, warmup: float, seconds: float) -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        conns = [await loop.create_connection(lambda: _Conn(self), "127.0.0.1", self.port) for _ in range(CONNECTIONS)]
        await asyncio.sleep(warmup)
        self.recording = True
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        self.recording = False
        elapsed = time.perf_counter() - start
        self.stop = True
        count = len(self.latencies)
        await asyncio.sleep(0.2)
        for transport, _ in conns:
            transport.close()
        return count / elapsed, self.latencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(settings: Settings, mode: str, body_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        **service_env(settings),
        "CW_LOG_LEVEL": "INFO",  # every request logged, as in production
        "CW_RATE_LIMIT_PER_MINUTE": "100000000",
        "CW_BENCH_BODY": str(body_file),
    }
    proc = subprocess.Popen(
        [sys.executable, *os.environ.get("CW_BENCH_SERVER", __file__).split(), "--serve", mode, str(port)],
        cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120  # a loaded machine imports slowly
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc, port
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError(f"{mode} server did not listen in 120s")


async def measure(port: int, token: str, seconds: float) -> tuple[float, list[float], bytes]:
    load = Load(port, token)
    rate, latencies = await load.run(1.0, seconds)
    assert load.errors == 0, f"port {port}: {load.errors} requests failed"
    return rate, latencies, load.body


async def prepare(dsn: str, settings: Settings) -> str:
    store = PostgresEventStore(dsn, pool_max=20)
    await store.start()
    try:
        worlds, _ = await populate(store, orgs=4, courses=200, students=200)
    finally:
        await store.close()
    await rebuild(dsn, CatalogProjection)
    from infra.tokens import AccessTokens

    tokens = AccessTokens(settings.jwt_secret.get_secret_value(), timedelta(hours=1))
    return tokens.issue(uuid.uuid4(), worlds[0].org, ["student"], "bench@example.com", uuid.uuid4())


async def main(dsn: str, settings: Settings, seconds: float) -> None:
    token = await prepare(dsn, settings)
    body_file = Path(f"/tmp/cw_bench_catalog_{os.getpid()}.json")
    body_file.write_bytes(b"{}")  # noqa: ASYNC240
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        servers["gateway"] = start_server(settings, "gateway", body_file)
        _, _, body = await measure(servers["gateway"][1], token, 0.5)
        assert body.startswith(b'{"items":[') and body.count(b'"course_id"') == 20, body[:200]
        body_file.write_bytes(body)  # noqa: ASYNC240 (the bare server answers these bytes)
        for mode in ("routes", "bare"):
            servers[mode] = start_server(settings, mode, body_file)
        rates: dict[str, list[float]] = {mode: [] for mode in servers}
        latencies: dict[str, list[float]] = {mode: [] for mode in servers}
        # Rounds alternate, medians count: this machine's speed drifts within seconds.
        for _ in range(ROUNDS):
            for mode, (_, port) in servers.items():
                rate, lat, answer = await measure(port, token, seconds / ROUNDS)
                assert answer == body, mode
                rates[mode].append(rate)
                latencies[mode] += lat
        median = {mode: statistics.median(r) for mode, r in rates.items()}
        for mode in servers:
            lat = latencies[mode]
            print(
                f"{mode}: {median[mode]:,.0f} req/s (rounds {[round(r) for r in rates[mode]]})"
                f" p50={percentile(lat, 50):.2f} ms p99={percentile(lat, 99):.2f} ms ({len(body)} bytes)",
                flush=True,
            )
        bare_lat = latencies["bare"]
        result("catalog", median["gateway"], median["bare"], " req/s")
        result("catalog_p99_ms", percentile(latencies["gateway"], 99), percentile(bare_lat, 99), " ms")
        result("catalog_routes", median["routes"], median["bare"], " req/s")
        result("catalog_routes_p99_ms", percentile(latencies["routes"], 99), percentile(bare_lat, 99), " ms")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(timeout=20)
        body_file.unlink(missing_ok=True)  # noqa: ASYNC240


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    database = create_database("cw_bench_catalog")
    try:
        seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
        uvloop.run(main(database, make_settings(database), seconds))
    finally:
        drop_database(database)
