"""Who may do what: the one table of permissions for every command and every query.

A permission names the roles that may ask at all (anyone else is refused with 403) and, of
those, the roles that reach every resource of their organisation. The others reach only what
is theirs: the courses they author or co-author, their own enrolments, their own account.
Platform admins reach everything. The command bus applies `COMMANDS`, the read side applies
`QUERIES`; the HTTP gateway and the NATS API both go through them, so no edge decides alone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from schemas import certificates as cert
from schemas import commands as c
from schemas import identity as i
from schemas import labs as lab
from schemas import notifications as n
from schemas import orders as o
from schemas.commands import Command
from schemas.roles import ANYONE, LAB_RUNNER, Role, is_platform_admin


class Reach(IntEnum):
    """How far a caller's permission goes; ordered, so `reach >= Reach.ORGANISATION` reads."""

    NONE = 0  # may not ask at all
    OWN = 1  # only what is theirs: courses they author or co-author, their own enrolments
    ORGANISATION = 2  # everything of their organisation
    PLATFORM = 3  # everything


@dataclass(frozen=True)
class Permission:
    roles: frozenset[Role]
    # Of `roles`, those that reach the whole organisation (None: all of them).
    org_wide: frozenset[Role] | None = None
    # Of `roles`, those that reach every organisation (as platform admins do everywhere).
    platform_wide: frozenset[Role] = frozenset()

    def reach(self, roles: Collection[str]) -> Reach:
        """How far a caller holding `roles` (in the organisation at hand) reaches."""
        if is_platform_admin(roles) or self.platform_wide.intersection(roles):
            return Reach.PLATFORM
        if ANYONE not in self.roles and not self.roles.intersection(roles):
            return Reach.NONE
        if self.org_wide is None or self.org_wide.intersection(roles):
            return Reach.ORGANISATION
        return Reach.OWN

    def describe(self) -> str:
        """The roles that may ask, for a refusal's message."""
        return ", ".join(sorted(self.roles))


# -- who is who ----------------------------------------------------------------------------

EVERYONE: frozenset[Role] = frozenset({ANYONE})  # the handler decides (own account only)
PLATFORM_ADMINS: frozenset[Role] = frozenset({"platform_admin"})
ORG_ADMINS: frozenset[Role] = frozenset({"org_admin"})
MANAGERS: frozenset[Role] = frozenset({"course_manager", "org_admin"})
AUTHORS: frozenset[Role] = frozenset({"instructor", "course_manager", "org_admin"})
REVIEWERS: frozenset[Role] = frozenset({"course_manager"})
LEARNERS: frozenset[Role] = frozenset({"student", "trainer", "org_admin"})
ON_BEHALF: frozenset[Role] = frozenset({"trainer", "org_admin"})  # act for other students
TEACHERS: frozenset[Role] = frozenset({"instructor", "trainer", "course_manager", "org_admin"})
MEMBER_READERS: frozenset[Role] = frozenset({"org_admin", "course_manager", "trainer", "auditor"})
AUDITORS: frozenset[Role] = frozenset({"auditor"})
PLATFORM_AUDITORS: frozenset[Role] = frozenset({"platform_auditor"})
SANDBOX: frozenset[Role] = frozenset({LAB_RUNNER})  # what a lab's container did
SELLERS: frozenset[Role] = frozenset({"sales", "org_admin"})
TRAINERS: frozenset[Role] = frozenset({"trainer"})

# A draft is changed by its authors (who created it and its co-authors), and by the
# organisation's course managers and admins; co-authors are named by the same people, less
# the co-authors themselves.
AUTHORING = Permission(AUTHORS, org_wide=MANAGERS)
# A student learns for themself; trainers and organisation admins also act for others.
LEARNING = Permission(LEARNERS, org_wide=ON_BEHALF)
# Of those who act for others, organisation admins reach every enrolment of their organisation;
# a trainer, once a student is enrolled, only the enrolments in the cohorts they train
# (commands/enrollments.py `acting_for`).
ACTING_FOR = Permission(ON_BEHALF, org_wide=ORG_ADMINS)
# Sales and organisation admins handle every order of their organisation.
ORDERING = Permission(SELLERS)
# Generation is reported by the pipeline, which acts with platform reach.
GENERATING = Permission(PLATFORM_ADMINS)
# Course managers and organisation admins make cohorts and name their trainers.
COHORTS = Permission(MANAGERS)
# Trainers give feedback to the students of the cohorts they train; managers to anyone's.
COACHING = Permission(TRAINERS | MANAGERS, org_wide=MANAGERS)
# Course managers and organisation admins lay out the organisation's learning paths.
PATHS = Permission(MANAGERS)
# An organisation's API keys (machine clients) are created, listed and revoked by its admins.
API_KEYS = Permission(ORG_ADMINS)

COMMANDS: dict[type[Command], Permission] = {
    c.CreateCourse: Permission(AUTHORS),
    c.EditCourse: AUTHORING,
    c.DeleteCourse: AUTHORING,
    c.AddCoAuthor: AUTHORING,
    c.RemoveCoAuthor: AUTHORING,
    c.AddModule: AUTHORING,
    c.RenameModule: AUTHORING,
    c.ReorderModules: AUTHORING,
    c.RemoveModule: AUTHORING,
    c.AddLesson: AUTHORING,
    c.EditLesson: AUTHORING,
    c.ReorderLessons: AUTHORING,
    c.RemoveLesson: AUTHORING,
    c.SetLessonContent: AUTHORING,
    c.RestoreLessonContent: AUTHORING,
    c.SubmitCourse: AUTHORING,
    c.StartRevision: AUTHORING,
    c.AssignReviewer: Permission(MANAGERS),
    c.CommentOnReview: Permission(AUTHORS),
    c.ApproveCourse: Permission(REVIEWERS),
    c.RejectCourse: Permission(REVIEWERS),
    c.PublishCourse: Permission(MANAGERS),
    c.UnpublishCourse: Permission(MANAGERS),
    c.ArchiveCourse: Permission(MANAGERS),
    c.Enrol: LEARNING,
    c.CompleteLesson: LEARNING,
    c.SubmitQuiz: LEARNING,
    c.DropEnrollment: LEARNING,
    c.ArchiveEnrollment: LEARNING,
    c.UnarchiveEnrollment: LEARNING,
    c.CreateCohort: COHORTS,
    c.AddToCohort: COHORTS,
    c.RemoveFromCohort: COHORTS,
    c.AssignTrainer: COHORTS,
    c.UnassignTrainer: COHORTS,
    c.GiveFeedback: COACHING,
    c.CreateLearningPath: PATHS,
    c.ReviseLearningPath: PATHS,
    lab.SetLessonLab: AUTHORING,
    lab.StartLab: LEARNING,
    lab.WriteLabFiles: LEARNING,
    lab.RunLab: LEARNING,
    lab.GradeLab: LEARNING,
    lab.PauseLab: LEARNING,
    lab.ResumeLab: LEARNING,
    lab.StopLab: LEARNING,
    lab.RecordLabRun: Permission(SANDBOX),
    lab.RecordLabGrade: Permission(SANDBOX),
    lab.WarnLabExpiry: Permission(SANDBOX),
    lab.EndLab: Permission(SANDBOX),
    i.RegisterUser: Permission(EVERYONE),
    i.ChangePassword: Permission(EVERYONE),
    i.UpdateProfile: Permission(EVERYONE),
    i.RequestPasswordReset: Permission(EVERYONE),
    i.ResetPassword: Permission(EVERYONE),
    i.GrantPlatformAdmin: Permission(PLATFORM_ADMINS),
    i.GrantPlatformAuditor: Permission(PLATFORM_ADMINS),
    i.RevokePlatformAuditor: Permission(PLATFORM_ADMINS),
    i.CreateOrganisation: Permission(PLATFORM_ADMINS),
    i.RenameOrganisation: Permission(ORG_ADMINS),
    i.AddMember: Permission(ORG_ADMINS),
    i.RemoveMember: Permission(ORG_ADMINS),
    # The sealer acts as the platform; no edge accepts it.
    c.SealLog: Permission(PLATFORM_ADMINS),
    o.PlaceOrder: ORDERING,
    o.AddDocument: ORDERING,
    o.BeginDocumentUpload: ORDERING,
    o.CompleteDocumentUpload: ORDERING,
    o.RemoveDocument: ORDERING,
    o.AcceptDocuments: ORDERING,
    o.CancelOrder: ORDERING,
    o.RetryOrder: ORDERING,
    o.DeliverOrder: ORDERING,
    o.StartGeneration: GENERATING,
    o.AdvanceGeneration: GENERATING,
    o.RecordDraft: GENERATING,
    o.FailGeneration: GENERATING,
    # The certifier acts as the platform; organisation admins revoke (with a reason).
    cert.IssueCertificate: Permission(PLATFORM_ADMINS),
    cert.RevokeCertificate: Permission(ORG_ADMINS),
    # One's own inbox only (the handler takes the caller's).
    n.MarkNotificationsRead: Permission(EVERYONE),
    n.MarkAllNotificationsRead: Permission(EVERYONE),
    n.SetNotificationPreference: Permission(EVERYONE),
}


class Query(StrEnum):
    CATALOG = "catalog"
    COURSE = "course"  # a course's published outline
    COURSE_DRAFT = "course_draft"  # its working draft
    REVIEW_QUEUE = "review_queue"
    REVIEW_HISTORY = "review_history"
    MY_COURSES = "my_courses"  # the caller's own enrolments
    AUTHORED_COURSES = "authored_courses"  # the caller's own drafts and courses in review
    STUDENT_PROGRESS = "student_progress"  # students' progress, quiz attempts and identities
    ORG_ANALYTICS = "org_analytics"
    MEMBERS = "members"  # an organisation's members
    AUDIT = "audit"  # histories, past states, verification and exports of the event log
    LAB_SESSION = "lab_session"  # a student's lab session: files and last runs
    ORDERS = "orders"  # an organisation's orders, their documents and timelines
    COHORTS = "cohorts"  # cohorts, their trainers and their students' progress
    LEARNING_PATHS = "learning_paths"  # the organisation's learning paths
    CERTIFICATES = "certificates"  # certificates: one's own, or (admins) the organisation's
    NOTIFICATIONS = "notifications"  # one's own notification feed and preferences


QUERIES: dict[Query, Permission] = {
    Query.CATALOG: Permission(EVERYONE),
    Query.COURSE: Permission(EVERYONE),
    # Every author of the organisation may read a draft (changing it is for its authors).
    Query.COURSE_DRAFT: Permission(AUTHORS),
    Query.REVIEW_QUEUE: Permission(MANAGERS),
    Query.REVIEW_HISTORY: Permission(AUTHORS),
    Query.MY_COURSES: Permission(EVERYONE),
    Query.AUTHORED_COURSES: Permission(AUTHORS, org_wide=frozenset()),
    # Everyone sees their own; instructors the students of the courses they author or
    # co-author, trainers those of the cohorts they train (projections/queries/privacy.py);
    # course managers and admins the whole organisation's.
    Query.STUDENT_PROGRESS: Permission(TEACHERS, org_wide=MANAGERS),
    Query.ORG_ANALYTICS: Permission(MANAGERS),
    Query.MEMBERS: Permission(MEMBER_READERS),
    # Auditors read everything of their organisation, never change anything; platform auditors
    # (and platform admins) audit every organisation and the whole log.
    Query.AUDIT: Permission(AUDITORS | PLATFORM_AUDITORS, platform_wide=PLATFORM_AUDITORS),
    Query.LAB_SESSION: LEARNING,
    Query.ORDERS: Permission(SELLERS),
    # Managers see every cohort of their organisation, trainers the cohorts they train.
    Query.COHORTS: Permission(MANAGERS | TRAINERS, org_wide=MANAGERS),
    Query.LEARNING_PATHS: Permission(EVERYONE),
    # Everyone holds their own certificates; organisation admins see (and revoke) all of theirs.
    Query.CERTIFICATES: Permission(EVERYONE, org_wide=ORG_ADMINS),
    Query.NOTIFICATIONS: Permission(EVERYONE),
}
