"""Every aggregate of the domain: the event catalogue and the docs are built from this list."""

from __future__ import annotations

from domain.aggregate import Aggregate
from domain.certificate import Certificate
from domain.cohort import Cohort
from domain.course import Course
from domain.enrollment import Enrollment
from domain.identity import EmailAddress, Organisation, PlatformAdmins, User
from domain.inbox import Inbox
from domain.lab import LabSession
from domain.order import Order
from domain.path import LearningPath, PathRequirements
from domain.review import Review
from domain.seal import LogSeals
from domain.seats import CourseSeats

AGGREGATES: tuple[type[Aggregate], ...] = (
    Course,
    Review,
    Enrollment,
    CourseSeats,
    User,
    EmailAddress,
    Organisation,
    PlatformAdmins,
    Order,
    LogSeals,
    LabSession,
    Cohort,
    LearningPath,
    PathRequirements,
    Certificate,
    Inbox,
)
