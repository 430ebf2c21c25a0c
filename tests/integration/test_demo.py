"""`coursewright demo`: an organisation, a user of each role, a published course with enrolled
students; a second run adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from commands.identity import read
from domain.course import Course
from gateway import demo
from infra.settings import Settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, running_gateway

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


async def test_the_demo_seeds_each_role_and_a_published_course_once(api: Api) -> None:
    seeded = await demo.seed_demo(api.services)
    head = await api.services.store.head()
    again = await demo.seed_demo(api.services)
    assert again == seeded
    assert await api.services.store.head() == head  # the second run appended nothing

    course = await read(api.services.store, Course, seeded.course_id)
    assert course.status == "published"
    for who, role in demo.PEOPLE:
        org = None if role is None else seeded.org_id
        tokens = await api.login(demo.email(who), org, password=demo.PASSWORD)
        me = (await api.client.get("/auth/me", headers=api.bearer(tokens))).json()
        assert (role or "platform_admin") in me["roles"], (who, me)
    student = api.bearer(await api.login(demo.email("student-1"), seeded.org_id, password=demo.PASSWORD))
    enrolled = await api.client.post(f"/courses/{seeded.course_id}/enrollments", json={}, headers=student)
    assert enrolled.json()["code"] == "already_enrolled"
