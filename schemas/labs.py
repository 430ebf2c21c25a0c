"""Lab commands: authoring a lesson's lab, and a student's lab session on it.

`RunLab` and `GradeLab` are asked of the lab runner; the bus checks them (who, which session,
in which state) before the runner touches a container. The `Record*` commands carry what the
runner observed and are sent by the runner alone (role `lab_runner`, never granted to a user).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from schemas.commands import Argv, Command, LabFile, LabSpec


class SetLessonLab(Command, kw_only=True, frozen=True):
    """A new content version of the lesson with this lab (None: without a lab)."""

    course_id: UUID
    lesson_id: UUID
    lab: LabSpec | None


class StartLab(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    student_id: UUID | None = None  # default: the caller


class WriteLabFiles(Command, kw_only=True, frozen=True):
    session_id: UUID
    files: Annotated[list[LabFile], Meta(min_length=1, max_length=64)]


class RunLab(Command, kw_only=True, frozen=True):
    session_id: UUID
    command: Argv | None = None  # default: the lab's run command


class GradeLab(Command, kw_only=True, frozen=True):
    session_id: UUID


class PauseLab(Command, kw_only=True, frozen=True):
    session_id: UUID


class ResumeLab(Command, kw_only=True, frozen=True):
    session_id: UUID


class StopLab(Command, kw_only=True, frozen=True):
    session_id: UUID


class LabRunRecord(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What the runner observed of one run (the output itself stays with the runner)."""

    run_id: UUID
    command: list[str]
    exit_code: int
    duration_ms: Annotated[int, Meta(ge=0)]
    output_bytes: Annotated[int, Meta(ge=0)]
    output_sha256: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    truncated: bool
    timed_out: bool
    at: datetime


class RecordLabRun(Command, kw_only=True, frozen=True):
    session_id: UUID
    run: LabRunRecord


class RecordLabGrade(Command, kw_only=True, frozen=True):
    session_id: UUID
    run: LabRunRecord


class WarnLabExpiry(Command, kw_only=True, frozen=True):
    """The runner tells that an idle session will be stopped at `stops_at` unless it is used."""

    session_id: UUID
    stops_at: datetime


EndReason = Literal["idle", "failed", "recovered"]


class EndLab(Command, kw_only=True, frozen=True):
    """The runner ends a session: idle, its container failed, or found gone after a restart."""

    session_id: UUID
    reason: EndReason


# -- what the lab endpoints answer ---------------------------------------------------------


class LabRunView(msgspec.Struct, kw_only=True, frozen=True):
    run_id: UUID
    command: list[str]
    exit_code: int
    duration_ms: int
    output_bytes: int
    truncated: bool
    timed_out: bool
    grading: bool
    at: datetime
    output: str | None = None  # kept for the last few runs, never for grading runs


class LabSessionView(msgspec.Struct, kw_only=True, frozen=True):
    """A session as its student sees it: the hidden grading tests are not part of it."""

    id: UUID
    status: str
    round: int
    course_id: UUID
    lesson_id: UUID
    student_id: UUID
    environment: str
    run_command: list[str]
    files: list[LabFile]
    runs: list[LabRunView]
    passed: bool
    version: int


class GradeView(msgspec.Struct, kw_only=True, frozen=True):
    passed: bool
    lesson_completed: bool
    run: LabRunView


# -- between the gateway and the lab runner (NATS request/reply on `<prefix>.labrunner.<op>`) ----


class ShowLab(msgspec.Struct, kw_only=True, frozen=True):
    session_id: UUID


class RunnerRequest(msgspec.Struct, kw_only=True, frozen=True):
    """A lab request the gateway has authenticated, for the runner process: who asks (the
    command context the gateway built) and the command's JSON."""

    actor_id: UUID
    org_id: UUID
    roles: list[str]
    correlation_id: str
    causation_id: str | None = None
    idempotency_key: str | None = None
    command: msgspec.Raw
    output: str | None = None  # a run's output chunks go to this subject as they come


class RunnerFailure(msgspec.Struct, kw_only=True, frozen=True):
    """Why the runner refused: the error's family (`not_found`, `forbidden`, `conflict`, `rule`,
    `domain`, `unavailable`, `invalid`, `internal`), its code and detail."""

    kind: str
    code: str
    detail: str
    service: str = ""
