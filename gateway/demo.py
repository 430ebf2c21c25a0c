"""`coursewright demo`: an organisation, a user of each role, a published course with enrolled
students, so a newcomer sees real data at once.

Everything goes through the command bus, as the HTTP API would send it. Ids are fixed (UUIDv5),
every step carries an Idempotency-Key, and what already exists is skipped, so a second run adds
nothing: within the keys' 24 hours it replays, later it finds the users, the members, the
published course and the enrolments there.
"""

from __future__ import annotations

import dataclasses
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from commands.context import Context
from commands.identity import read, user_by_email
from domain.course import Course
from domain.errors import AlreadyEnrolled
from domain.identity import AlreadyPlatformAdmin, email_claim_id
from gateway.services import Services
from schemas import commands as c
from schemas import identity as i
from schemas.commands import Command
from schemas.results import CommandResult
from schemas.roles import ANYONE, PLATFORM_ADMIN, MemberRole, Role

PASSWORD = "coursewright-demo"  # printed by the command: these accounts are for a local look only
DOMAIN = "demo.coursewright.example.com"
ORG_NAME = "Demo Academy"
# (who, role in the organisation); the first is the platform admin, who belongs to none.
PEOPLE: list[tuple[str, MemberRole | None]] = [
    ("admin", None),
    ("org-admin", "org_admin"),
    ("instructor", "instructor"),
    ("manager", "course_manager"),
    ("trainer", "trainer"),
    ("student-1", "student"),
    ("student-2", "student"),
]
CONTENT = c.LessonContent(
    objectives=["Inspect a forklift before every shift"],
    materials=[c.Material(kind="text", title="The daily check", body="Forks, chains, tyres, brakes, horn.")],
)


def _id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"https://{DOMAIN}/{name}")


def email(who: str) -> str:
    return f"{who}@{DOMAIN}"


@dataclasses.dataclass
class Demo:
    """What the demo holds: the organisation, the course, and each person's user id."""

    org_id: UUID = dataclasses.field(default_factory=lambda: _id("org"))
    course_id: UUID = dataclasses.field(default_factory=lambda: _id("course"))
    users: dict[str, UUID] = dataclasses.field(default_factory=dict)


class _Seeder:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.demo = Demo()

    async def send(self, command: Command, actor: UUID, roles: set[Role], step: str) -> CommandResult:
        org = self.demo.org_id if roles - {ANYONE, PLATFORM_ADMIN} else UUID(int=0)
        ctx = Context(
            actor, org, frozenset(roles | {ANYONE}), correlation_id=uuid4().hex, idempotency_key=f"demo:{step}"
        )
        return await self.services.bus.handle(command, ctx)

    def who(self, name: str) -> UUID:
        return self.demo.users[name]

    async def users(self) -> None:
        for who, _ in PEOPLE:
            user = await user_by_email(self.services.store, email(who))
            if user is None:
                register = i.RegisterUser(email=email(who), password=PASSWORD, name=who.replace("-", " ").title())
                result = await self.send(register, email_claim_id(register.email), set(), f"register:{who}")
                self.demo.users[who] = UUID(result.id)
            else:
                self.demo.users[who] = user.id
        try:
            await self.send(i.GrantPlatformAdmin(user_id=self.who("admin")), _id("system"), {PLATFORM_ADMIN}, "grant")
        except AlreadyPlatformAdmin:
            pass

    async def organisation(self) -> None:
        if not await self.services.store.read_stream(self.demo.org_id):
            create = i.CreateOrganisation(name=ORG_NAME, org_id=self.demo.org_id, admin_email=email("org-admin"))
            await self.send(create, self.who("admin"), {PLATFORM_ADMIN}, "organisation")
        for who, role in PEOPLE[2:]:
            assert role is not None
            user = await user_by_email(self.services.store, email(who))
            if user is not None and self.demo.org_id in user.memberships:
                continue
            add = i.AddMember(org_id=self.demo.org_id, email=email(who), roles=[role])
            await self.send(add, self.who("org-admin"), {"org_admin"}, f"member:{who}")

    async def course(self) -> None:
        course = await read(self.services.store, Course, self.demo.course_id)
        if course.status in ("published", "archived"):
            return
        cid, author, manager = self.demo.course_id, self.who("instructor"), self.who("manager")
        module, lesson = _id("module"), _id("lesson")
        authoring: list[Command] = [
            c.CreateCourse(course_id=cid, title="Forklift safety", cefr_level="B1", category="safety"),
            c.AddModule(course_id=cid, module_id=module, title="Before the shift"),
            c.AddLesson(course_id=cid, module_id=module, lesson_id=lesson, title="The daily check"),
            c.SetLessonContent(course_id=cid, lesson_id=lesson, content=CONTENT),
        ]
        for n, command in enumerate(authoring):
            await self.send(command, author, {"instructor"}, f"course:{n}")
        submitted = await self.send(c.SubmitCourse(course_id=cid), author, {"instructor"}, "submit")
        review = UUID(submitted.data["review_id"])
        await self.send(c.ApproveCourse(review_id=review, feedback="Clear."), manager, {"course_manager"}, "approve")
        await self.send(c.PublishCourse(course_id=cid), manager, {"course_manager"}, "publish")

    async def enrolments(self) -> None:
        for who in ("student-1", "student-2"):
            try:
                await self.send(c.Enrol(course_id=self.demo.course_id), self.who(who), {"student"}, f"enrol:{who}")
            except AlreadyEnrolled:
                pass


async def seed_demo(services: Services) -> Demo:
    """Seed the demo (or find it seeded); its ids."""
    seeder = _Seeder(services)
    await seeder.users()
    await seeder.organisation()
    await seeder.course()
    await seeder.enrolments()
    return seeder.demo
