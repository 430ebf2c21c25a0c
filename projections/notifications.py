"""The `notifications` read model: each user's in-app feed, built from the events that concern them.

Who is concerned comes from tables the projection keeps for itself: users (address, name, their
inbox's preferences and "all read up to"), courses (authors and active students), organisations'
members with their roles, enrolments, reviews and orders. A notification's id derives from the
event, the user and the kind, so a replay or a rebuild makes the same feed.

A notification the user wants mailed goes into the mail outbox (`infra.outbox`) in the batch's
own transaction, keyed by the notification's id: one mail per notification, however often the
event is applied. A rebuild (`side_effects` off) mails nothing: the live projector, which goes on
meanwhile, has queued every mail already.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from uuid import UUID

from domain.certificate import Certificate
from domain.course import Course
from domain.enrollment import Enrollment
from domain.identity import Organisation, User
from domain.ids import name_id
from domain.inbox import Inbox
from domain.lab import LabSession
from domain.order import Order
from domain.review import Review
from infra.eventlog import EventEnvelope
from infra.mail import Mail
from infra.outbox import enqueue
from projections.model import Projection, Row, Table, on, plain
from schemas.notifications import DEFAULTS, Kind
from schemas.roles import MemberRole

_NS = UUID("0d6f3a2b-5c4e-4f8a-9b1c-7e2d3f4a5b6c")

NOTIFICATIONS = Table(
    "notifications",
    columns=(
        ("notification_id", "uuid NOT NULL"),
        ("user_id", "uuid NOT NULL"),
        ("kind", "text NOT NULL"),
        ("title", "text NOT NULL"),
        ("body", "text NOT NULL"),
        ("link", "text NOT NULL"),
        ("data", "jsonb NOT NULL"),
        ("position", "bigint NOT NULL"),
        ("created_at", "timestamptz NOT NULL"),
        ("read_at", "timestamptz"),
    ),
    key=("notification_id",),
    indexes=("(user_id, position DESC)", "(position)"),
)
USERS = Table(
    "users",
    columns=(
        ("user_id", "uuid NOT NULL"),
        ("email", "text NOT NULL"),
        ("name", "text NOT NULL"),
        ("preferences", "jsonb NOT NULL"),  # {kind: [in_app, email]} the user set
        ("read_through", "bigint NOT NULL"),  # every notification at or before it is read
    ),
    key=("user_id",),
)
COURSES = Table(
    "courses",
    columns=(
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("title", "text NOT NULL"),
        ("authors", "jsonb NOT NULL"),  # [user id], the author first
        ("students", "jsonb NOT NULL"),  # [user id] of active enrolments, in enrolment order
        ("published", "boolean NOT NULL"),
    ),
    key=("course_id",),
)
MEMBERS = Table(
    "members",
    columns=(("org_id", "uuid NOT NULL"), ("roles", "jsonb NOT NULL")),  # {user id: [role]}
    key=("org_id",),
)
ENROLMENTS = Table(
    "enrolments",
    columns=(("enrollment_id", "uuid NOT NULL"), ("course_id", "uuid NOT NULL"), ("student_id", "uuid NOT NULL")),
    key=("enrollment_id",),
)
REVIEWS = Table(
    "reviews",
    columns=(("review_id", "uuid NOT NULL"), ("course_id", "uuid NOT NULL")),
    key=("review_id",),
)
ORDERS = Table(
    "orders",
    columns=(
        ("order_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("title", "text NOT NULL"),
        ("placed_by", "uuid NOT NULL"),
    ),
    key=("order_id",),
)
LABS = Table(
    "labs",
    columns=(("session_id", "uuid NOT NULL"), ("student_id", "uuid NOT NULL"), ("course_id", "uuid NOT NULL")),
    key=("session_id",),
)

# An order's status as its events move it, for the sales people's feed.
ORDER_STATUS: dict[type[Any], str] = {
    Order.DocumentsAccepted: "documents accepted",
    Order.GenerationStarted: "generating",
    Order.DraftReady: "draft ready",
    Order.Delivered: "delivered",
    Order.Cancelled: "cancelled",
    Order.Failed: "failed",
    Order.Retried: "retried",
}


def notification_id(event_id: UUID, user_id: UUID, kind: str) -> UUID:
    return name_id(_NS, f"{event_id}:{user_id}:{kind}")


class NotificationsProjection(Projection):
    name = "notifications"
    version = 1
    tables = (NOTIFICATIONS, USERS, COURSES, MEMBERS, ENROLMENTS, REVIEWS, ORDERS, LABS)

    # -- telling a user --------------------------------------------------------------------

    async def notify(
        self,
        env: EventEnvelope,
        user_id: UUID,
        kind: Kind,
        title: str,
        body: str,
        link: str,
        **data: Any,
    ) -> None:
        user = await self.get("users", user_id)
        chosen = user["preferences"].get(kind) if user else None
        in_app, email = chosen if chosen else DEFAULTS[kind]
        nid = notification_id(env.event_id, user_id, kind)
        if in_app:
            self.put(
                "notifications",
                {
                    "notification_id": nid,
                    "user_id": user_id,
                    "kind": kind,
                    "title": title,
                    "body": body,
                    "link": link,
                    "data": plain(data),
                    "position": env.position,
                    "created_at": env.occurred_at,
                    "read_at": None,
                },
            )
        if email and self.side_effects and user is not None and user["email"]:
            assert self.conn is not None
            await enqueue(self.conn, nid, Mail(user["email"], title, body), link)

    async def _course(self, course_id: UUID) -> Row:
        return await self.require("courses", course_id, "course {key} was never created")

    async def _role_holders(self, org_id: UUID, *roles: MemberRole) -> list[UUID]:
        members = await self.get("members", org_id)
        if members is None:
            return []
        return [UUID(u) for u, held in members["roles"].items() if any(r in held for r in roles)]

    # -- who is who ------------------------------------------------------------------------

    @on(User.Registered)
    async def registered(self, e: User.Registered, env: EventEnvelope) -> None:
        self.put(
            "users", {"user_id": env.stream_id, "email": e.email, "name": e.name, "preferences": {}, "read_through": 0}
        )

    @on(User.ProfileUpdated)
    async def profile_updated(self, e: User.ProfileUpdated, env: EventEnvelope) -> None:
        user = await self.get("users", env.stream_id)
        if user is not None:
            user["name"] = e.name
            self.put("users", user)

    async def _member(self, org_id: UUID, user_id: UUID, roles: tuple[str, ...] | None) -> None:
        row = await self.get("members", org_id) or {"org_id": org_id, "roles": {}}
        if roles is None:
            row["roles"].pop(str(user_id), None)
        else:
            row["roles"][str(user_id)] = list(roles)
        self.put("members", row)

    @on(Organisation.MemberAdded)
    async def member_added(self, e: Organisation.MemberAdded, env: EventEnvelope) -> None:
        await self._member(env.stream_id, e.user_id, e.roles)

    @on(Organisation.MemberRolesChanged)
    async def member_roles(self, e: Organisation.MemberRolesChanged, env: EventEnvelope) -> None:
        await self._member(env.stream_id, e.user_id, e.roles)

    @on(Organisation.MemberRemoved)
    async def member_removed(self, e: Organisation.MemberRemoved, env: EventEnvelope) -> None:
        await self._member(env.stream_id, e.user_id, None)

    # -- courses and their students ----------------------------------------------------------

    @on(Course.Created)
    async def course_created(self, e: Course.Created, env: EventEnvelope) -> None:
        self.put(
            "courses",
            {
                "course_id": env.stream_id,
                "org_id": e.org_id,
                "title": e.details.title,
                "authors": [str(e.author_id)],
                "students": [],
                "published": False,
            },
        )

    @on(Course.DetailsEdited)
    async def details_edited(self, e: Course.DetailsEdited, env: EventEnvelope) -> None:
        course = await self._course(env.stream_id)
        course["title"] = e.details.title
        self.put("courses", course)

    @on(Course.CoAuthorAdded)
    async def co_author_added(self, e: Course.CoAuthorAdded, env: EventEnvelope) -> None:
        course = await self._course(env.stream_id)
        if str(e.user_id) not in course["authors"]:
            course["authors"].append(str(e.user_id))
        self.put("courses", course)

    @on(Course.CoAuthorRemoved)
    async def co_author_removed(self, e: Course.CoAuthorRemoved, env: EventEnvelope) -> None:
        course = await self._course(env.stream_id)
        course["authors"] = [a for a in course["authors"] if a != str(e.user_id)]
        self.put("courses", course)

    @on(Course.Published)
    async def published(self, e: Course.Published, env: EventEnvelope) -> None:
        course = await self._course(env.stream_id)
        if course["published"]:
            revision = f"{e.major}.{e.minor}"
            for student in course["students"]:
                await self.notify(
                    env, UUID(student), "course_revised", f"New revision of {course['title']}",
                    f"Revision {revision} of {course['title']} is published.",
                    f"/me/courses/{env.stream_id}", course_id=env.stream_id, revision=revision,
                )  # fmt: skip
        course["published"] = True
        self.put("courses", course)

    @on(Course.Archived)
    async def archived(self, e: Course.Archived, env: EventEnvelope) -> None:
        course = await self._course(env.stream_id)
        for student in course["students"]:
            await self.notify(
                env, UUID(student), "course_archived", f"{course['title']} was archived",
                f"{course['title']} was archived; your progress is kept.",
                f"/me/courses/{env.stream_id}", course_id=env.stream_id,
            )  # fmt: skip

    @on(Enrollment.Enrolled)
    async def enrolled(self, e: Enrollment.Enrolled, env: EventEnvelope) -> None:
        self.put("enrolments", {"enrollment_id": env.stream_id, "course_id": e.course_id, "student_id": e.student_id})
        course = await self._course(e.course_id)
        if str(e.student_id) not in course["students"]:
            course["students"].append(str(e.student_id))
        self.put("courses", course)
        await self.notify(
            env, e.student_id, "enrolment_confirmed", f"Enrolled in {course['title']}",
            f"You are enrolled in {course['title']} (revision {e.revision}).",
            f"/me/courses/{e.course_id}", course_id=e.course_id, revision=e.revision,
        )  # fmt: skip

    @on(Enrollment.Dropped)
    async def dropped(self, e: Enrollment.Dropped, env: EventEnvelope) -> None:
        enrolment = await self.require("enrolments", env.stream_id, "enrolment {key} never began")
        course = await self._course(enrolment["course_id"])
        course["students"] = [s for s in course["students"] if s != str(enrolment["student_id"])]
        self.put("courses", course)

    # -- reviews ---------------------------------------------------------------------------

    @on(Review.Requested)
    async def review_requested(self, e: Review.Requested, env: EventEnvelope) -> None:
        self.put("reviews", {"review_id": env.stream_id, "course_id": e.course_id})
        course = await self._course(e.course_id)
        for manager in await self._role_holders(e.org_id, "course_manager"):
            await self.notify(
                env, manager, "review_requested", f"Review requested: {course['title']}",
                f"Revision {e.revision} of {course['title']} awaits review.",
                f"/reviews/{env.stream_id}", course_id=e.course_id, review_id=env.stream_id, revision=e.revision,
            )  # fmt: skip

    async def _decided(self, env: EventEnvelope, kind: Kind, verb: str, feedback: str) -> None:
        review = await self.require("reviews", env.stream_id, "review {key} was never requested")
        course = await self._course(review["course_id"])
        body = f"{course['title']} was {verb}." + (f" Feedback: {feedback}" if feedback else "")
        for author in course["authors"]:
            await self.notify(
                env, UUID(author), kind, f"{course['title']} {verb}", body, f"/reviews/{env.stream_id}",
                course_id=review["course_id"], review_id=env.stream_id, feedback=feedback,
            )  # fmt: skip

    @on(Review.Approved)
    async def approved(self, e: Review.Approved, env: EventEnvelope) -> None:
        await self._decided(env, "course_approved", "approved", e.feedback)

    @on(Review.Rejected)
    async def rejected(self, e: Review.Rejected, env: EventEnvelope) -> None:
        await self._decided(env, "course_rejected", "rejected", e.feedback)

    # -- certificates ----------------------------------------------------------------------

    @on(Certificate.Issued)
    async def certificate_issued(self, e: Certificate.Issued, env: EventEnvelope) -> None:
        c = e.certified
        await self.notify(
            env, c.student_id, "certificate_ready", f"Your certificate for {c.course_title}",
            f"Your certificate for {c.course_title} is ready. Verification code: {c.code}.",
            f"/me/certificates/{env.stream_id}/pdf", certificate_id=env.stream_id, code=c.code, course_id=c.course_id,
        )  # fmt: skip

    # -- orders ----------------------------------------------------------------------------

    @on(Order.Placed)
    async def order_placed(self, e: Order.Placed, env: EventEnvelope) -> None:
        self.put(
            "orders", {"order_id": env.stream_id, "org_id": e.org_id, "title": e.brief.title, "placed_by": e.placed_by}
        )

    @on(*ORDER_STATUS)
    async def order_moved(self, e: Any, env: EventEnvelope) -> None:
        order = await self.require("orders", env.stream_id, "order {key} was never placed")
        status = ORDER_STATUS[type(e)]
        told = dict.fromkeys([order["placed_by"], *await self._role_holders(order["org_id"], "sales")])
        for user in told:
            await self.notify(
                env, user, "order_status", f"Order {order['title']}: {status}",
                f"The order {order['title']} is now {status}.", f"/orders/{env.stream_id}",
                order_id=env.stream_id, status=status,
            )  # fmt: skip

    # -- labs ------------------------------------------------------------------------------

    @on(LabSession.Started)
    async def lab_started(self, e: LabSession.Started, env: EventEnvelope) -> None:
        self.put("labs", {"session_id": env.stream_id, "student_id": e.student_id, "course_id": e.course_id})

    @on(LabSession.Expiring)
    async def lab_expiring(self, e: LabSession.Expiring, env: EventEnvelope) -> None:
        lab = await self.require("labs", env.stream_id, "lab session {key} never started")
        when = e.stops_at.astimezone(UTC).strftime("%H:%M UTC")
        await self.notify(
            env, lab["student_id"], "lab_expiring", "Your lab session is about to expire",
            f"Your lab session has been idle and will be stopped at {when} unless you use it (run, save"
            " files or resume); its files are kept either way.",
            f"/labs/sessions/{env.stream_id}", session_id=env.stream_id, course_id=lab["course_id"],
            stops_at=e.stops_at,
        )  # fmt: skip

    @on(LabSession.Stopped)
    async def lab_stopped(self, e: LabSession.Stopped, env: EventEnvelope) -> None:
        if e.reason != "idle":
            return
        lab = await self.require("labs", env.stream_id, "lab session {key} never started")
        await self.notify(
            env, lab["student_id"], "lab_expired", "Your lab session expired",
            "Your lab session was stopped after being idle; its files are kept for the next one.",
            f"/labs/sessions/{env.stream_id}", session_id=env.stream_id, course_id=lab["course_id"],
        )  # fmt: skip

    # -- the inbox -------------------------------------------------------------------------

    @on(Inbox.Read)
    async def read(self, e: Inbox.Read, env: EventEnvelope) -> None:
        for nid in e.notification_ids:
            row = await self.get("notifications", nid)
            if row is not None and row["user_id"] == e.user_id and row["read_at"] is None:
                row["read_at"] = e.at
                self.put("notifications", row)

    @on(Inbox.AllRead)
    async def all_read(self, e: Inbox.AllRead, env: EventEnvelope) -> None:
        user = await self.get("users", e.user_id)
        if user is not None:
            user["read_through"] = max(user["read_through"], e.through)
            self.put("users", user)

    @on(Inbox.PreferenceSet)
    async def preference_set(self, e: Inbox.PreferenceSet, env: EventEnvelope) -> None:
        user = await self.get("users", e.user_id)
        if user is not None:
            user["preferences"][e.kind] = [e.in_app, e.email]
            self.put("users", user)
