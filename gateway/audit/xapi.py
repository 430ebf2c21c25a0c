"""Learning records for other systems: xAPI 1.0.3 statements from the enrolments' events.

One statement per learning event (enrolled, completed a lesson, passed or failed a quiz,
completed the course), with an id derived from the event's, so exporting twice gives the same
statements and a learning record store keeps each once. Learners are named by account (their
user id on this platform), never by e-mail address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from commands.codec import decode
from domain.enrollment import Enrollment
from schemas.envelope import EventEnvelope

VERSION = "1.0.3"
VERBS = {
    "registered": "http://adlnet.gov/expapi/verbs/registered",
    "completed": "http://adlnet.gov/expapi/verbs/completed",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
    "failed": "http://adlnet.gov/expapi/verbs/failed",
}
COURSE = "http://adlnet.gov/expapi/activities/course"
LESSON = "http://adlnet.gov/expapi/activities/lesson"
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
_NAMESPACE = uuid.UUID("0b6d8c8e-3f0e-4d35-9a53-6a4b1f1f7a01")


class Account(msgspec.Struct, frozen=True, rename="camel"):
    home_page: str
    name: str


class Agent(msgspec.Struct, frozen=True, rename="camel"):
    account: Account
    object_type: Literal["Agent"] = "Agent"


class Verb(msgspec.Struct, frozen=True):
    id: str
    display: dict[str, str]


class Definition(msgspec.Struct, frozen=True):
    type: str


class Activity(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    definition: Definition
    object_type: Literal["Activity"] = "Activity"


class Score(msgspec.Struct, frozen=True):
    scaled: float
    raw: int
    min: int
    max: int


class Result(msgspec.Struct, frozen=True, omit_defaults=True):
    success: bool | None = None
    completion: bool | None = None
    score: Score | None = None


class ContextActivities(msgspec.Struct, frozen=True):
    parent: list[Activity]


class Context(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    registration: str
    context_activities: ContextActivities | None = None


class Statement(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    actor: Agent
    verb: Verb
    object: Activity
    context: Context
    timestamp: str
    version: str = VERSION
    result: Result | None = None


class Learning:
    """Builds the statements of enrolments, with activity ids under `base` (the platform's URL)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def statements(self, enrolment: Iterable[EventEnvelope]) -> Iterator[Statement]:
        """The statements of one enrolment's events (in version order)."""
        learner: Agent | None = None
        course: Activity | None = None
        under = ""  # the course's path under `base`
        for e in enrolment:
            event = decode(e.event_type, e.payload)
            registration = str(e.stream_id)
            if isinstance(event, Enrollment.Enrolled):
                learner = Agent(Account(f"{self.base}/users", str(event.student_id)))
                under = f"courses/{event.course_id}"
                course = self._activity(under, COURSE)
                yield self._statement(e, learner, "registered", course, Context(registration))
            elif learner is None or course is None:
                continue  # an enrolment always begins with Enrolled; nothing to say before it
            elif isinstance(event, Enrollment.LessonCompleted):
                lesson = self._activity(f"{under}/lessons/{event.lesson_id}", LESSON)
                yield self._statement(
                    e, learner, "completed", lesson, _within(registration, course), Result(completion=True)
                )
            elif isinstance(event, Enrollment.QuizSubmitted):
                quiz = self._activity(
                    f"{under}/lessons/{event.lesson_id}/assessments/{event.assessment_id}", ASSESSMENT
                )
                score = Score(
                    scaled=event.score / event.max_score if event.max_score else 0.0,
                    raw=event.score,
                    min=0,
                    max=event.max_score,
                )
                verb = "passed" if event.passed else "failed"
                result = Result(success=event.passed, completion=True, score=score)
                yield self._statement(e, learner, verb, quiz, _within(registration, course), result)
            elif isinstance(event, Enrollment.Completed):
                yield self._statement(e, learner, "completed", course, Context(registration), Result(completion=True))

    def _activity(self, path: str, kind: str) -> Activity:
        return Activity(f"{self.base}/{path}", Definition(kind))

    @staticmethod
    def _statement(
        e: EventEnvelope, learner: Agent, verb: str, what: Activity, context: Context, result: Result | None = None
    ) -> Statement:
        return Statement(
            id=str(uuid.uuid5(_NAMESPACE, str(e.event_id))),
            actor=learner,
            verb=Verb(VERBS[verb], {"en-US": verb}),
            object=what,
            context=context,
            timestamp=e.occurred_at.isoformat(),
            result=result,
        )


def _within(registration: str, course: Activity) -> Context:
    return Context(registration, ContextActivities([course]))
