"""Every broken rule is a typed error; the gateway maps the families to HTTP in one place."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID


class DomainError(Exception):
    """Root of domain errors. `code` is a stable machine-readable name."""

    code = "domain_error"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but the aggregate's state forbids it now."""

    code = "conflict"


class RuleViolation(DomainError):
    """The request breaks a business rule regardless of timing (bad value, wrong shape)."""

    code = "rule_violation"


class Forbidden(DomainError):
    code = "forbidden"


# Course
class CourseNotFound(NotFound):
    code = "course_not_found"


class ModuleNotFound(NotFound):
    code = "module_not_found"


class LessonNotFound(NotFound):
    code = "lesson_not_found"


class ContentVersionNotFound(NotFound):
    code = "content_version_not_found"


class AssessmentNotFound(NotFound):
    code = "assessment_not_found"


class CoAuthorNotFound(NotFound):
    code = "co_author_not_found"


class CourseAlreadyExists(Conflict):
    code = "course_exists"


class CourseNotEditable(Conflict):
    code = "course_not_editable"


class CourseNotSubmittable(Conflict):
    code = "course_not_submittable"


class CourseIncomplete(RuleViolation):
    code = "course_incomplete"


class CourseNotApproved(Conflict):
    code = "course_not_approved"


class CourseNotPublished(Conflict):
    code = "course_not_published"


class CourseNotDeletable(Conflict):
    code = "course_not_deletable"


class CourseDeleted(CourseNotFound):
    """A deleted draft is gone for everyone, its authors included (its history stays in the log)."""


class RevisionInProgress(Conflict):
    code = "revision_in_progress"


class InvalidCourse(RuleViolation):
    code = "invalid_course"


# Review
class ReviewNotFound(NotFound):
    code = "review_not_found"


class ReviewClosed(Conflict):
    code = "review_closed"


class ReviewerNotAssigned(Conflict):
    code = "reviewer_not_assigned"


class SelfApproval(Forbidden):
    code = "self_approval"


# Enrollment
class EnrollmentNotFound(NotFound):
    code = "enrollment_not_found"


class AlreadyEnrolled(Conflict):
    code = "already_enrolled"


class CourseFull(Conflict):
    code = "course_full"


class PrerequisitesMissing(Conflict):
    code = "prerequisites_missing"

    def __init__(self, missing: Sequence[tuple[UUID, str]]) -> None:
        """`missing`: the (course id, title) of each course still to complete."""
        self.missing = tuple(missing)
        names = "; ".join(f"{title} ({course_id})" for course_id, title in self.missing)
        super().__init__(f"complete these courses first: {names}")


class NotEnrolled(Conflict):
    code = "not_enrolled"


class InvalidAnswers(RuleViolation):
    code = "invalid_answers"


class EnrollmentNotArchivable(Conflict):
    code = "enrollment_not_archivable"


class InvalidFeedback(RuleViolation):
    code = "invalid_feedback"


# Cohorts
class CohortNotFound(NotFound):
    code = "cohort_not_found"


class CohortAlreadyExists(Conflict):
    code = "cohort_exists"


class InvalidCohort(RuleViolation):
    code = "invalid_cohort"


class AlreadyInCohort(Conflict):
    code = "already_in_cohort"


class NotInCohort(NotFound):
    code = "not_in_cohort"


class TrainerNotAssigned(NotFound):
    code = "trainer_not_assigned"


# Learning paths
class LearningPathNotFound(NotFound):
    code = "learning_path_not_found"


class LearningPathExists(Conflict):
    code = "learning_path_exists"


class InvalidLearningPath(RuleViolation):
    code = "invalid_learning_path"


# Lab sessions
class InvalidLab(RuleViolation):
    code = "invalid_lab"


class LessonHasNoLab(NotFound):
    code = "lesson_has_no_lab"


class LabSessionNotFound(NotFound):
    code = "lab_session_not_found"


class LabSessionState(Conflict):
    """The session is not in a state that allows the request (e.g. run while paused)."""

    code = "lab_session_state"


class LabQuotaExceeded(Conflict):
    code = "lab_quota_exceeded"
