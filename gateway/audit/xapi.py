"""Learning records for other systems: xAPI 1.0.3 statements from the enrolments' and the
certificates' events, for a learning record store (LRS) to take in.

One statement per learning event: registered (enrolled), completed a lesson, passed or failed a
quiz, completed the course (ADL's verbs), earned a certificate (the xAPI registry's `earned`: ADL
has no verb for it). Each statement's id derives from its event's, so exporting twice gives the
same statements and an LRS keeps each once; its registration is the enrolment's id. Learners are
named by account (their user id on this platform, whose home page is the platform's address),
never by e-mail address; activity ids are IRIs under the platform's address.

A revoked certificate gets a voiding statement (ADL's `voided`, naming the earned statement's id,
by the admin who revoked it): an LRS that took the earned statement in an earlier export keeps it
(statements are immutable there), and leaving it out of later exports would tell that LRS
nothing. Voiding is xAPI's one way to say a stored statement no longer holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.codec import decode
from domain.certificate import Certificate
from domain.enrollment import Enrollment
from schemas.envelope import EventEnvelope

VERSION = "1.0.3"
PLATFORM = "Coursewright"
VERBS = {
    "registered": "http://adlnet.gov/expapi/verbs/registered",
    "completed": "http://adlnet.gov/expapi/verbs/completed",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
    "failed": "http://adlnet.gov/expapi/verbs/failed",
    "earned": "http://id.tincanapi.com/verb/earned",
    "voided": "http://adlnet.gov/expapi/verbs/voided",
}
COURSE = "http://adlnet.gov/expapi/activities/course"
LESSON = "http://adlnet.gov/expapi/activities/lesson"
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
CERTIFICATE = "http://id.tincanapi.com/activitytype/certificate"
# Fixed forever: another namespace would give every statement a new id, and an LRS would take
# the whole history in a second time.
_NAMESPACE = uuid.UUID("0b6d8c8e-3f0e-4d35-9a53-6a4b1f1f7a01")


class Account(msgspec.Struct, frozen=True, rename="camel"):
    home_page: str
    name: str


class Agent(msgspec.Struct, frozen=True, tag_field="objectType", tag="Agent"):
    account: Account


class Verb(msgspec.Struct, frozen=True):
    id: str
    display: dict[str, str]


class Definition(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str | None = None
    name: dict[str, str] | None = None


class Activity(msgspec.Struct, frozen=True, omit_defaults=True, tag_field="objectType", tag="Activity"):
    id: str
    definition: Definition | None = None


class StatementRef(msgspec.Struct, frozen=True, tag_field="objectType", tag="StatementRef"):
    """Another statement, by id: the object of a voiding statement."""

    id: str


class Score(msgspec.Struct, frozen=True):
    scaled: float
    raw: int
    min: int
    max: int


class Result(msgspec.Struct, frozen=True, omit_defaults=True):
    success: bool | None = None
    completion: bool | None = None
    score: Score | None = None


class ContextActivities(msgspec.Struct, frozen=True, omit_defaults=True):
    parent: list[Activity] | None = None
    grouping: list[Activity] | None = None


class Context(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    registration: str  # the enrolment's id
    context_activities: ContextActivities
    revision: str | None = None  # the course revision learned (with an Activity object only)
    platform: str | None = None  # (likewise)


class Statement(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    actor: Agent
    verb: Verb
    object: Activity | StatementRef
    result: Result | None = None
    context: Context
    timestamp: str
    version: str  # always VERSION (a default would be left out of the JSON)


class Learning:
    """Builds the statements of enrolments and certificates, with activity ids and the learners'
    account home page under `base` (the platform's public address)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def statements(self, stream: Iterable[EventEnvelope]) -> Iterator[Statement]:
        """The statements of one stream's events (in version order): an enrolment's or a
        certificate's; other streams have none."""
        events = iter(stream)
        first = next(events, None)
        if first is None:
            return iter(())
        if first.stream_type == Enrollment.stream_type:
            return self._enrolment(first, events)
        if first.stream_type == Certificate.stream_type:
            return self._certificate(first, events)
        return iter(())

    def _enrolment(self, first: EventEnvelope, rest: Iterator[EventEnvelope]) -> Iterator[Statement]:
        enrolled = decode(first.event_type, first.payload)
        if not isinstance(enrolled, Enrollment.Enrolled):
            return  # an enrolment always begins with Enrolled; nothing to say without it
        learner = self._agent(enrolled.student_id)
        course = self._activity(f"courses/{enrolled.course_id}", COURSE)
        org = self._activity(f"organisations/{enrolled.org_id}")
        registration, revision = str(first.stream_id), enrolled.revision
        for e in (first, *rest):
            event = enrolled if e is first else decode(e.event_type, e.payload)
            if isinstance(event, Enrollment.Enrolled):  # the first, or a new round
                revision = event.revision
                context = self._context(registration, revision, grouping=[org])
                yield _statement(e, learner, "registered", course, context)
            elif isinstance(event, Enrollment.LessonCompleted):
                lesson = self._activity(f"courses/{enrolled.course_id}/lessons/{event.lesson_id}", LESSON)
                context = self._context(registration, revision, parent=[course], grouping=[org])
                yield _statement(e, learner, "completed", lesson, context, Result(completion=True))
            elif isinstance(event, Enrollment.QuizSubmitted):
                lesson = self._activity(f"courses/{enrolled.course_id}/lessons/{event.lesson_id}", LESSON)
                quiz = self._activity(
                    f"courses/{enrolled.course_id}/lessons/{event.lesson_id}/assessments/{event.assessment_id}",
                    ASSESSMENT,
                )
                score = Score(
                    scaled=event.score / event.max_score if event.max_score else 0.0,
                    raw=event.score,
                    min=0,
                    max=event.max_score,
                )
                result = Result(success=event.passed, completion=True, score=score)
                context = self._context(registration, revision, parent=[lesson], grouping=[course, org])
                yield _statement(e, learner, "passed" if event.passed else "failed", quiz, context, result)
            elif isinstance(event, Enrollment.Completed):
                context = self._context(registration, revision, grouping=[org])
                yield _statement(e, learner, "completed", course, context, Result(completion=True))

    def _certificate(self, first: EventEnvelope, rest: Iterator[EventEnvelope]) -> Iterator[Statement]:
        issued = decode(first.event_type, first.payload)
        if not isinstance(issued, Certificate.Issued):
            return  # a certificate always begins with Issued
        certified = issued.certified
        course = self._activity(f"courses/{certified.course_id}", COURSE, certified.course_title)
        org = self._activity(f"organisations/{certified.org_id}", name=certified.org_name)
        registration = str(certified.enrollment_id)
        certificate = self._activity(
            f"certificates/{first.stream_id}", CERTIFICATE, f"Certificate: {certified.course_title}"
        )
        context = self._context(registration, certified.revision, parent=[course], grouping=[org])
        earned = _statement(first, self._agent(certified.student_id), "earned", certificate, context)
        yield earned
        for e in rest:
            event = decode(e.event_type, e.payload)
            if isinstance(event, Certificate.Revoked):
                about = Context(registration, ContextActivities(grouping=[course, org]))
                yield _statement(e, self._agent(event.revoked_by), "voided", StatementRef(earned.id), about)

    def _agent(self, user_id: UUID) -> Agent:
        return Agent(Account(self.base, str(user_id)))

    def _activity(self, path: str, kind: str | None = None, name: str | None = None) -> Activity:
        definition = Definition(kind, {"en-US": name} if name else None) if kind or name else None
        return Activity(f"{self.base}/{path}", definition)

    @staticmethod
    def _context(
        registration: str, revision: str, *, parent: list[Activity] | None = None, grouping: list[Activity]
    ) -> Context:
        return Context(registration, ContextActivities(parent, grouping), revision or None, PLATFORM)


def statement_id(event_id: UUID) -> str:
    """The id of the statement said for an event: the same in every export."""
    return str(uuid.uuid5(_NAMESPACE, str(event_id)))


def timestamp(at: datetime) -> str:
    """ISO 8601 in UTC, as LRSs store it."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _statement(
    e: EventEnvelope,
    actor: Agent,
    verb: str,
    what: Activity | StatementRef,
    context: Context,
    result: Result | None = None,
) -> Statement:
    return Statement(
        id=statement_id(e.event_id),
        actor=actor,
        verb=Verb(VERBS[verb], {"en-US": verb}),
        object=what,
        result=result,
        context=context,
        timestamp=timestamp(e.occurred_at),
        version=VERSION,
    )
