"""The gateway on a real server (a free loopback port) over the real services, and a client
that knows how to make users, organisations and members."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from litestar import Litestar

from commands.context import Context
from commands.ports import Ports
from gateway.app import create_app
from gateway.bootstrap import Root
from gateway.http import _Server, bind, config, run_server
from gateway.services import Services
from infra.settings import Settings
from schemas.identity import GrantPlatformAdmin
from tests.ports import make_ports

PASSWORD = "correct horse battery staple"
# gateway/queries.py (the read side, issue 4) still uses Litestar's deprecated
# Parameter(query=...) and inferred dependencies; our own handlers name theirs.
# tests/unit/test_gateway_app.py builds our app alone with every warning an error.
QUERIES_DEPRECATIONS = [
    pytest.mark.filterwarnings("ignore:Deprecated 'query' parameter:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::litestar.exceptions.base_exceptions.LitestarDeprecationWarning"),
]
GENEROUS = {"rate_limit_per_minute": 100_000, "login_rate_limit_per_minute": 100_000}


def email() -> str:
    return f"user-{secrets.token_hex(6)}@example.com"


class Api:
    def __init__(self, client: httpx.AsyncClient, root: Root, services: Services, url: str, app: Litestar) -> None:
        self.client = client
        self.app = app
        self.root = root
        self.services = services
        self.url = url

    async def register(self, address: str | None = None, name: str = "Test User") -> tuple[UUID, str]:
        address = address or email()
        r = await self.client.post("/auth/register", json={"email": address, "password": PASSWORD, "name": name})
        assert r.status_code == 201, r.text
        return UUID(r.json()["id"]), address

    async def login(self, address: str, org_id: UUID | None = None, password: str = PASSWORD) -> dict[str, Any]:
        body: dict[str, Any] = {"email": address, "password": password}
        if org_id is not None:
            body["org_id"] = str(org_id)
        r = await self.client.post("/auth/login", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    @staticmethod
    def bearer(tokens: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    async def platform_admin(self) -> tuple[UUID, str]:
        """A new user made platform admin directly on the bus (as the system would)."""
        user_id, address = await self.register(name="Platform Admin")
        ctx = Context(UUID(int=1), UUID(int=0), frozenset({"platform_admin"}))
        await self.services.bus.handle(GrantPlatformAdmin(user_id=user_id), ctx)
        return user_id, address

    async def organisation(self, name: str = "Acme") -> tuple[UUID, dict[str, str]]:
        """A new organisation and the headers of its first org admin."""
        _, root = await self.platform_admin()
        _admin_id, admin_email = await self.register(name="Org Admin")
        r = await self.client.post(
            "/organisations",
            json={"name": name, "admin_email": admin_email},
            headers=self.bearer(await self.login(root)),
        )
        assert r.status_code == 201, r.text
        org_id = UUID(r.json()["id"])
        return org_id, self.bearer(await self.login(admin_email, org_id))

    async def member(self, org_id: UUID, admin: dict[str, str], *roles: str) -> tuple[UUID, dict[str, str]]:
        user_id, address = await self.register()
        r = await self.client.post(
            f"/organisations/{org_id}/members",
            json={"email": address, "roles": list(roles)},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        return user_id, self.bearer(await self.login(address, org_id))


DETAILS = {"title": "Forklifts", "cefr_level": "B1", "category": "safety"}
CONTENT = {
    "objectives": ["Inspect the forks"],
    "materials": [{"kind": "text", "title": "Forks", "body": "Look for cracks."}],
}


@dataclass
class People:
    id: UUID
    admin: dict[str, str]
    ids: dict[str, UUID]
    headers: dict[str, dict[str, str]]


async def people(api: Api) -> People:
    """An organisation with two instructors beside the author (a co-author to be, a colleague),
    a course manager, a trainer and two students: their ids and request headers by name."""
    org, admin = await api.organisation()
    ids: dict[str, UUID] = {}
    headers: dict[str, dict[str, str]] = {"org_admin": admin}
    for who, role in [
        ("author", "instructor"),
        ("co_author", "instructor"),
        ("colleague", "instructor"),
        ("manager", "course_manager"),
        ("trainer", "trainer"),
        ("student", "student"),
        ("other_student", "student"),
    ]:
        ids[who], headers[who] = await api.member(org, admin, role)
    return People(org, admin, ids, headers)


async def draft(api: Api, o: People, by: str = "author", **details: Any) -> tuple[str, str, str]:
    """A draft by `by` with one module and one lesson with content: (course, module, lesson)."""
    r = await api.client.post("/courses", json={**DETAILS, **details}, headers=o.headers[by])
    assert r.status_code == 201, r.text
    course = r.json()["id"]
    r = await api.client.post(f"/courses/{course}/modules", json={"title": "Basics"}, headers=o.headers[by])
    module = r.json()["data"]["module_id"]
    r = await api.client.post(
        f"/courses/{course}/modules/{module}/lessons", json={"title": "Checks"}, headers=o.headers[by]
    )
    lesson = r.json()["data"]["lesson_id"]
    r = await api.client.post(
        f"/courses/{course}/lessons/{lesson}/content", json={"content": CONTENT}, headers=o.headers[by]
    )
    assert r.status_code == 201, r.text
    return course, module, lesson


async def publish(api: Api, o: People, course: str, by: str = "author") -> int:
    r = await api.client.post(f"/courses/{course}/submit", headers=o.headers[by])
    assert r.status_code == 201, r.text
    review = r.json()["data"]["review_id"]
    r = await api.client.post(f"/reviews/{review}/approve", json={}, headers=o.headers["manager"])
    assert r.status_code == 202, r.text
    r = await api.client.post(f"/courses/{course}/publish", headers=o.headers["manager"])
    assert r.status_code == 202, r.text
    return int(r.json()["position"])


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, *, ports: Ports | None = None, **overrides: Any) -> AsyncIterator[Api]:
    """The gateway on the composition root, built with the test's ports (`make_ports()` unless
    given)."""
    settings = settings.model_copy(update={**GENEROUS, **overrides})
    async with Root(settings, ports or make_ports()) as root:
        services = root.services()
        sock = bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        app = create_app(services)
        server = _Server(config(app, "127.0.0.1", port))
        task = asyncio.create_task(run_server(server, [sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                yield Api(client, root, services, url, app)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sock.close()


def new_id() -> str:
    return str(uuid4())
