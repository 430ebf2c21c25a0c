"""Shared by the read-side benchmarks: a realistic log made through the command bus."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.eventlog.postgres import PostgresEventStore
from schemas import commands as c
from tests.integration.projections_support import World, bus_on, order_scenario


async def bounded(n: int, work: Any, concurrency: int = 64) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await work(i)

    await asyncio.gather(*(one(i) for i in range(n)))


async def populate(
    store: PostgresEventStore, *, orgs: int, courses: int, students: int
) -> tuple[list[World], list[dict[str, Any]]]:
    """`courses` published courses spread over `orgs`, `students` learners taking them (each
    finisher certified), and an order with its document for every fourth course."""
    worlds = [World(bus_on(store)) for _ in range(orgs)]
    made: list[dict[str, Any]] = []

    async def course(i: int) -> None:
        w = worlds[i % orgs]
        made.append(
            {"world": w}
            | await w.published(
                f"Course {i} on topic {i % 17}",
                description=f"Practical lessons about topic {i % 17} and safety rule {i % 5}",
                tags=[f"topic{i % 17}", f"rule{i % 5}"],
                category=f"category{i % 6}",
                cefr_level=("A1", "A2", "B1", "B2", "C1", "C2")[i % 6],
                public=i % 10 == 0,
            )
        )

    await bounded(courses, course, 16)

    async def student(i: int) -> None:
        chosen = made[i % len(made)]
        w = chosen["world"]  # a learner of the course's own organisation
        ctx = w.ctx("student")
        await w.learn(chosen, ctx, finish=i % 4 != 3)
        if i % 10 == 9:
            await w.bus.handle(c.DropEnrollment(course_id=chosen["course"], reason="busy"), ctx)

    await bounded(students, student, 64)
    await bounded(courses // 4, lambda i: order_scenario(worlds[i % orgs]), 16)
    return worlds, made
