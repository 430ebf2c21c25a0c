"""The one mapping from command type to handler and the roles allowed to send it."""

from __future__ import annotations

from commands import courses, enrollments, identity
from commands.bus import Route
from schemas import commands as c
from schemas import identity as i
from schemas.commands import Command
from schemas.identity import ANYONE, Role

AUTHORS: frozenset[Role] = frozenset({"instructor", "course_manager", "org_admin"})
MANAGERS: frozenset[Role] = frozenset({"course_manager", "org_admin"})
REVIEWERS: frozenset[Role] = frozenset({"course_manager"})
DISCUSSANTS: frozenset[Role] = frozenset({"course_manager", "instructor", "org_admin"})
LEARNERS: frozenset[Role] = frozenset({"student", "trainer", "org_admin"})
SELF_SERVICE: frozenset[Role] = frozenset({ANYONE})  # the handler decides: own account only
ORG_ADMINS: frozenset[Role] = frozenset({"org_admin"})
PLATFORM_ADMINS: frozenset[Role] = frozenset({"platform_admin"})

ROUTES: dict[type[Command], Route] = {
    c.CreateCourse: Route(courses.create_course, AUTHORS),
    c.EditCourse: Route(courses.edit_course, AUTHORS),
    c.DeleteCourse: Route(courses.delete_course, AUTHORS),
    c.AddModule: Route(courses.add_module, AUTHORS),
    c.RenameModule: Route(courses.rename_module, AUTHORS),
    c.ReorderModules: Route(courses.reorder_modules, AUTHORS),
    c.RemoveModule: Route(courses.remove_module, AUTHORS),
    c.AddLesson: Route(courses.add_lesson, AUTHORS),
    c.EditLesson: Route(courses.edit_lesson, AUTHORS),
    c.ReorderLessons: Route(courses.reorder_lessons, AUTHORS),
    c.RemoveLesson: Route(courses.remove_lesson, AUTHORS),
    c.SetLessonContent: Route(courses.set_lesson_content, AUTHORS),
    c.RestoreLessonContent: Route(courses.restore_lesson_content, AUTHORS),
    c.SubmitCourse: Route(courses.submit_course, AUTHORS),
    c.StartRevision: Route(courses.start_revision, AUTHORS),
    c.AssignReviewer: Route(courses.assign_reviewer, MANAGERS),
    c.CommentOnReview: Route(courses.comment_on_review, DISCUSSANTS),
    c.ApproveCourse: Route(courses.approve_course, REVIEWERS),
    c.RejectCourse: Route(courses.reject_course, REVIEWERS),
    c.PublishCourse: Route(courses.publish_course, MANAGERS),
    c.ArchiveCourse: Route(courses.archive_course, MANAGERS),
    c.Enrol: Route(enrollments.enrol, LEARNERS),
    c.CompleteLesson: Route(enrollments.complete_lesson, LEARNERS),
    c.SubmitQuiz: Route(enrollments.submit_quiz, LEARNERS),
    c.DropEnrollment: Route(enrollments.drop_enrollment, LEARNERS),
    i.RegisterUser: Route(identity.register_user, SELF_SERVICE),
    i.ChangePassword: Route(identity.change_password, SELF_SERVICE),
    i.UpdateProfile: Route(identity.update_profile, SELF_SERVICE),
    i.RequestPasswordReset: Route(identity.request_password_reset, SELF_SERVICE),
    i.ResetPassword: Route(identity.reset_password, SELF_SERVICE),
    i.GrantPlatformAdmin: Route(identity.grant_platform_admin, PLATFORM_ADMINS),
    i.CreateOrganisation: Route(identity.create_organisation, PLATFORM_ADMINS),
    i.RenameOrganisation: Route(identity.rename_organisation, ORG_ADMINS),
    i.AddMember: Route(identity.add_member, ORG_ADMINS),
    i.RemoveMember: Route(identity.remove_member, ORG_ADMINS),
}
