"""The gateway for the fuzzer, in a process of its own (see tests/e2e/test_schemathesis.py).

    python -m tests.e2e.fuzz_server DSN SUBJECT_PREFIX EVENTS_STREAM [DOCKER_URL]

Prints one JSON line, {"url": ..., "headers": {...}}, once it serves, its read models are built
(the relay and the projectors run beside it, so queries answer rather than 503) and it has signed
in an org admin who is also platform admin (the deepest reach into every operation); stops when
its standard input ends.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.conftest import make_settings
from tests.integration.docker_support import CACHE_DIR
from tests.integration.gateway_harness import Api, running_gateway
from tests.integration.projections_support import projectors, relay

# One query per read model: each answers 200 once its projector has made its tables.
READ_MODELS = ("/catalog", "/review-queue", "/cohorts", "/analytics/organisation", "/orders")


async def sign_in(api: Api) -> dict[str, str]:
    org, admin = await api.organisation()
    _, address = await api.platform_admin()
    roles = ["org_admin", "course_manager", "instructor", "student"]
    r = await api.client.post(f"/organisations/{org}/members", json={"email": address, "roles": roles}, headers=admin)
    assert r.status_code == 201, r.text
    return api.bearer(await api.login(address, org))


async def main(dsn: str, prefix: str, stream: str, docker_url: str | None = None) -> None:
    ready, sys.stdout = sys.stdout, sys.stderr  # stdout is for the ready line; logs go to stderr
    settings = make_settings(dsn, subject_prefix=prefix, events_stream=stream)
    labs: dict[str, object] = {}
    if docker_url:
        labs = {"docker_url": docker_url, "lab_cache_dir": CACHE_DIR, "lab_runner_name": f"fuzz-{prefix}"}
    async with relay(settings), projectors(settings), running_gateway(settings, **labs) as api:
        if docker_url and api.services.labs is not None:
            await api.services.labs.open()
        headers = await sign_in(api)
        for path in READ_MODELS:
            for _ in range(600):
                if (await api.client.get(path, headers=headers)).status_code != 503:
                    break
                await asyncio.sleep(0.1)
        print(json.dumps({"url": api.url, "headers": headers}), file=ready, flush=True)
        # Serve until the parent closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        if api.services.labs is not None:
            await api.services.labs.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
