"""Labs: the sandbox a lesson may carry (LabSpec), and a student's LabSession on it.

A lab spec is part of a lesson's content, so it is versioned, reviewed and published with the
lesson. A lab session is one stream per (enrolment, lesson): every start, file write, run,
grade, pause, resume, expiry warning and stop is an event of it, so labs are in the audit
history.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

_NS = UUID("5b0c2d1e-7a4f-4e8b-9c61-3f2a8d7e6b14")
Environment = Literal["python", "shell"]
ENVIRONMENTS: tuple[Environment, ...] = ("python", "shell")
SessionStatus = Literal["none", "running", "paused", "stopped"]
StopReason = Literal["student", "idle", "failed", "recovered"]

MAX_FILES = 64
MAX_FILES_BYTES = 256 * 1024  # of one write, and of the starter or grading files
MAX_ARGS = 32
_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,199}$")
RUNS_KEPT = 20  # the last runs a session shows


def lab_session_id(enrollment_id: UUID, lesson_id: UUID) -> UUID:
    """Deterministic: a student's lab on one lesson of one enrolment is always the same stream."""
    return name_id(_NS, f"lab:{enrollment_id}:{lesson_id}")


@dataclass(frozen=True)
class LabFile:
    path: str  # relative to the work dir
    content: str


@dataclass(frozen=True)
class LabLimits:
    run_seconds: int = 10  # wall clock of one run
    memory_mb: int = 256  # memory and swap together
    cpus: float = 1.0
    pids: int = 64
    output_bytes: int = 64 * 1024  # output kept per run; the rest is cut
    idle_minutes: int = 15  # a session left alone this long is stopped

    def validate(self) -> None:
        bounds: tuple[tuple[str, float, float, float], ...] = (
            ("run_seconds", self.run_seconds, 1, 300),
            ("memory_mb", self.memory_mb, 32, 4096),
            ("cpus", self.cpus, 0.1, 4),
            ("pids", self.pids, 8, 1024),
            ("output_bytes", self.output_bytes, 1024, 4 * 1024 * 1024),
            ("idle_minutes", self.idle_minutes, 1, 24 * 60),
        )
        for name, value, low, high in bounds:
            if not low <= value <= high:
                raise errors.InvalidLab(f"limits.{name} must be between {low:g} and {high:g}")


@dataclass(frozen=True)
class LabSpec:
    environment: Environment
    run_command: tuple[str, ...]  # argv, run in the work dir
    starter_files: tuple[LabFile, ...] = ()
    # Hidden from the student: copied in only for grading, which passes when the command exits 0.
    grading_files: tuple[LabFile, ...] = ()
    grading_command: tuple[str, ...] = ()
    limits: LabLimits = LabLimits()
    network: bool = False  # never by default

    def validate(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise errors.InvalidLab(f"environment must be one of {', '.join(ENVIRONMENTS)}")
        for name, argv in (("run_command", self.run_command), ("grading_command", self.grading_command)):
            if not argv or not argv[0].strip():
                raise errors.InvalidLab(f"{name} must name a program")
            if len(argv) > MAX_ARGS or any("\0" in a for a in argv):
                raise errors.InvalidLab(f"{name} has too many or malformed arguments")
        validate_files(self.starter_files)
        validate_files(self.grading_files)
        self.limits.validate()


def validate_files(files: tuple[LabFile, ...]) -> None:
    """Relative paths inside the work dir, each once, within the size limits."""
    if len(files) > MAX_FILES:
        raise errors.InvalidLab(f"at most {MAX_FILES} files")
    if sum(len(f.content.encode()) for f in files) > MAX_FILES_BYTES:
        raise errors.InvalidLab(f"files may hold at most {MAX_FILES_BYTES} bytes together")
    seen: set[str] = set()
    for f in files:
        normal = posixpath.normpath(f.path)
        if not _PATH.match(f.path) or normal != f.path or normal.startswith(".."):
            raise errors.InvalidLab(f"file path {f.path!r} must be relative and stay in the work dir")
        if normal in seen:
            raise errors.InvalidLab(f"file path {f.path!r} repeats")
        seen.add(normal)


@dataclass(frozen=True)
class LabRun:
    """What one run did, as recorded: the output itself stays with the runner (hash here)."""

    run_id: UUID
    command: tuple[str, ...]
    exit_code: int
    duration_ms: int
    output_bytes: int  # produced, before the cap
    output_sha256: str  # of the output kept
    truncated: bool
    timed_out: bool
    grading: bool
    at: datetime


class LabSession(Aggregate):
    @dataclass(frozen=True)
    class Started(Event):
        enrollment_id: UUID
        course_id: UUID
        lesson_id: UUID
        student_id: UUID
        org_id: UUID
        revision: str
        spec: LabSpec
        round: int
        at: datetime

    @dataclass(frozen=True)
    class FilesWritten(Event):
        files: tuple[LabFile, ...]
        at: datetime

    @dataclass(frozen=True)
    class Ran(Event):
        run: LabRun

    @dataclass(frozen=True)
    class Graded(Event):
        run: LabRun
        passed: bool

    @dataclass(frozen=True)
    class Paused(Event):
        at: datetime

    @dataclass(frozen=True)
    class Resumed(Event):
        at: datetime

    @dataclass(frozen=True)
    class Expiring(Event):
        """Left idle: the runner will stop it at `stops_at` unless it is used before."""

        stops_at: datetime
        at: datetime

    @dataclass(frozen=True)
    class Stopped(Event):
        reason: StopReason
        at: datetime

    def _init_state(self) -> None:
        self.enrollment_id: UUID | None = None
        self.course_id: UUID | None = None
        self.lesson_id: UUID | None = None
        self.student_id: UUID | None = None
        self.org_id: UUID | None = None
        self.spec: LabSpec | None = None
        self.status: SessionStatus = "none"
        self.round = 0
        self.files: dict[str, str] = {}
        self.runs: list[LabRun] = []
        self.passed = False
        self.last_activity: datetime | None = None
        self.expiry_told = False  # an Expiring since the last use (start, files, run, grade, resume)

    @property
    def live(self) -> bool:
        """Running or paused: a container is (or should be) there."""
        return self.status in ("running", "paused")

    def _require(self, *states: SessionStatus) -> None:
        if not self.exists:
            raise errors.LabSessionNotFound(f"lab session {self.id} not found")
        if self.status not in states:
            raise errors.LabSessionState(f"lab session is {self.status}; this needs {' or '.join(states)}")

    # -- decisions ---------------------------------------------------------------------------

    def start(
        self,
        *,
        enrollment_id: UUID,
        course_id: UUID,
        lesson_id: UUID,
        student_id: UUID,
        org_id: UUID,
        revision: str,
        spec: LabSpec,
        at: datetime,
    ) -> None:
        if self.live:
            raise errors.LabSessionState(f"lab session is already {self.status}")
        self._record(
            self.Started(enrollment_id, course_id, lesson_id, student_id, org_id, revision, spec, self.round + 1, at)
        )

    def write_files(self, files: tuple[LabFile, ...], at: datetime) -> None:
        self._require("running")
        validate_files(files)
        merged = {**self.files, **{f.path: f.content for f in files}}
        if len(merged) > MAX_FILES or sum(len(c.encode()) for c in merged.values()) > MAX_FILES_BYTES:
            raise errors.InvalidLab("the session's files would exceed the limits")
        self._record(self.FilesWritten(files, at))

    def record_run(self, run: LabRun) -> None:
        self._require("running")
        if run.grading:
            raise errors.InvalidLab("a grading run is recorded with grade")
        self._record(self.Ran(run))

    def grade(self, run: LabRun) -> bool:
        """Record a grading run; it passes when the hidden tests exit 0 within the limits."""
        self._require("running")
        if not run.grading:
            raise errors.InvalidLab("grade records a grading run")
        passed = run.exit_code == 0 and not run.timed_out
        self._record(self.Graded(run, passed))
        return passed

    def pause(self, at: datetime) -> None:
        self._require("running")
        self._record(self.Paused(at))

    def resume(self, at: datetime) -> None:
        self._require("paused")
        self._record(self.Resumed(at))

    def warn_expiry(self, stops_at: datetime, at: datetime) -> bool:
        """Tell that the idle session stops at `stops_at`; once per idle period (False, no event,
        when told already since it was last used)."""
        self._require("running", "paused")
        if self.expiry_told:
            return False
        self._record(self.Expiring(stops_at, at))
        return True

    def stop(self, reason: StopReason, at: datetime) -> None:
        self._require("running", "paused")
        self._record(self.Stopped(reason, at))

    # -- state changes -----------------------------------------------------------------------

    def _on_Started(self, e: Started) -> None:
        self.enrollment_id, self.course_id, self.lesson_id = e.enrollment_id, e.course_id, e.lesson_id
        self.student_id, self.org_id, self.spec, self.round = e.student_id, e.org_id, e.spec, e.round
        self.status, self.last_activity = "running", e.at
        self.files = {f.path: f.content for f in e.spec.starter_files}
        self.runs = []
        self.expiry_told = False

    def _on_FilesWritten(self, e: FilesWritten) -> None:
        self.files.update((f.path, f.content) for f in e.files)
        self.last_activity, self.expiry_told = e.at, False

    def _on_Ran(self, e: Ran) -> None:
        self.runs = [*self.runs[-(RUNS_KEPT - 1) :], e.run]
        self.last_activity, self.expiry_told = e.run.at, False

    def _on_Graded(self, e: Graded) -> None:
        self.runs = [*self.runs[-(RUNS_KEPT - 1) :], e.run]
        self.passed = self.passed or e.passed
        self.last_activity, self.expiry_told = e.run.at, False

    def _on_Paused(self, e: Paused) -> None:
        self.status, self.last_activity = "paused", e.at

    def _on_Resumed(self, e: Resumed) -> None:
        self.status, self.last_activity, self.expiry_told = "running", e.at, False

    def _on_Expiring(self, e: Expiring) -> None:
        self.expiry_told = True

    def _on_Stopped(self, e: Stopped) -> None:
        self.status = "stopped"
