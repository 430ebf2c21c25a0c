"""`coursewright up` as a user starts it (a gateway process per core) against one gateway process.

    python tests/bench/bench_scale_up.py [requests] [seconds]

Both serve the same database, stream and Redis: `up` with its default worker count (and its
relay and projectors), and beside it a single `coursewright run gateway` on another port. The same
load (64 keep-alive connections, the minimal client of bench_http_command) runs against each in
alternating rounds: enrolments (POST, the http-command workload) and catalog pages (GET).
Medians count. Prints `RESULT scale-up ours=<up> baseline=<one worker> ratio=<x>` for the
commands and `RESULT scale-up-catalog ...` for the pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_http_command import connect, load, setup_ours
from tests.conftest import create_database, drop_database, make_settings

ROUNDS = 3


async def _get(conn: object, path: str, headers: str) -> int:
    writer, reader = conn.writer, conn.reader  # type: ignore[attr-defined]
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


async def load_pages(port: int, requests: int, seconds: float, path: str, headers: str) -> float:
    conns = [await connect(port) for _ in range(64)]
    remaining, done = requests, 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker(conn: object) -> None:
        nonlocal remaining, done
        while remaining > 0 and loop.time() < deadline:
            remaining -= 1
            status = await _get(conn, path, headers)
            assert status == 200, status
            done += 1

    started = loop.time()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = loop.time() - started
    for c in conns:
        c.writer.close()
    return done / elapsed


async def _wait_for(port: int) -> None:
    for _ in range(600):
        with contextlib.suppress(OSError):
            (await connect(port)).writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


async def main(requests: int, seconds: float) -> None:
    dsn = create_database("cw_bench_scale")
    settings = make_settings(dsn, rate_limit_per_minute=1_000_000)
    course, tokens = await setup_ours(dsn)
    base = os.getpid() % 500
    ports = {"up": 20431 + base, "one": 21431 + base}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env |= settings.environment() | {"CW_EMBEDDED": "never", "CW_LOG_LEVEL": "WARNING", "CW_LOG_JSON": "true"}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as data:
        env["CW_DATA_DIR"] = data
        try:
            cli = [sys.executable, "-m", "gateway.cli"]
            for name, argv in (("up", [*cli, "up"]), ("one", [*cli, "run", "gateway"])):
                procs.append(
                    subprocess.Popen(  # noqa: ASYNC220 (spawning is instant; the servers run apart)
                        argv,
                        env={**env, "CW_HTTP_PORT": str(ports[name])},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            for port in ports.values():
                await _wait_for(port)
            workers = os.cpu_count() or 1
            auth = f"Authorization: Bearer {tokens[0]}\r\n"

            def enrol(i: int) -> tuple[str, bytes, str]:
                body = json.dumps({"student_id": str(uuid.uuid4())}).encode()
                return f"/courses/{course}/enrollments", body, f"Authorization: Bearer {tokens[i]}\r\n"

            commands: dict[str, list[float]] = {"up": [], "one": []}
            pages: dict[str, list[float]] = {"up": [], "one": []}
            for name in ports:  # warm up every worker: connections, caches, plans
                await load(ports[name], 1000, 10, enrol)
                await load_pages(ports[name], 1000, 10, "/catalog", auth)
            for round_ in range(ROUNDS):
                for name, port in ports.items():
                    rps, _, statuses = await load(port, requests // ROUNDS, seconds / ROUNDS, enrol)
                    commands[name].append(rps)
                    page_rps = await load_pages(port, requests // ROUNDS, seconds / ROUNDS, "/catalog", auth)
                    pages[name].append(page_rps)
                    line = f"round {round_ + 1} {name:3s} commands {rps:7.0f} req/s {statuses}"
                    print(f"{line}  catalog {page_rps:7.0f} req/s")
            for label, rates in (("scale-up", commands), ("scale-up-catalog", pages)):
                up, one = statistics.median(rates["up"]), statistics.median(rates["one"])
                print(f"{label}: up ({workers} gateway processes) {up:.0f} req/s, one gateway process {one:.0f} req/s")
                print(f"RESULT {label} ours={up:.0f} baseline={one:.0f} ratio={up / one:.2f}")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(20)
            drop_database(dsn)


if __name__ == "__main__":
    import uvloop

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    uvloop.run(main(count, limit))
