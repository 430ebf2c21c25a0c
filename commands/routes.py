"""The one mapping from command type to its handler (who may send it: `schemas.access.COMMANDS`)."""

from __future__ import annotations

from commands import courses, enrollments, identity, orders, seals
from commands.bus import Handler
from schemas import commands as c
from schemas import identity as i
from schemas import orders as o
from schemas.commands import Command

ROUTES: dict[type[Command], Handler] = {
    c.CreateCourse: courses.create_course,
    c.EditCourse: courses.edit_course,
    c.DeleteCourse: courses.delete_course,
    c.AddCoAuthor: courses.add_co_author,
    c.RemoveCoAuthor: courses.remove_co_author,
    c.AddModule: courses.add_module,
    c.RenameModule: courses.rename_module,
    c.ReorderModules: courses.reorder_modules,
    c.RemoveModule: courses.remove_module,
    c.AddLesson: courses.add_lesson,
    c.EditLesson: courses.edit_lesson,
    c.ReorderLessons: courses.reorder_lessons,
    c.RemoveLesson: courses.remove_lesson,
    c.SetLessonContent: courses.set_lesson_content,
    c.RestoreLessonContent: courses.restore_lesson_content,
    c.SubmitCourse: courses.submit_course,
    c.StartRevision: courses.start_revision,
    c.AssignReviewer: courses.assign_reviewer,
    c.CommentOnReview: courses.comment_on_review,
    c.ApproveCourse: courses.approve_course,
    c.RejectCourse: courses.reject_course,
    c.PublishCourse: courses.publish_course,
    c.ArchiveCourse: courses.archive_course,
    c.Enrol: enrollments.enrol,
    c.CompleteLesson: enrollments.complete_lesson,
    c.SubmitQuiz: enrollments.submit_quiz,
    c.DropEnrollment: enrollments.drop_enrollment,
    i.RegisterUser: identity.register_user,
    i.ChangePassword: identity.change_password,
    i.UpdateProfile: identity.update_profile,
    i.RequestPasswordReset: identity.request_password_reset,
    i.ResetPassword: identity.reset_password,
    i.GrantPlatformAdmin: identity.grant_platform_admin,
    i.CreateOrganisation: identity.create_organisation,
    i.RenameOrganisation: identity.rename_organisation,
    i.AddMember: identity.add_member,
    i.RemoveMember: identity.remove_member,
    c.SealLog: seals.seal_log,
    o.PlaceOrder: orders.place_order,
    o.AddDocument: orders.add_document,
    o.BeginDocumentUpload: orders.begin_document_upload,
    o.CompleteDocumentUpload: orders.complete_document_upload,
    o.RemoveDocument: orders.remove_document,
    o.AcceptDocuments: orders.accept_documents,
    o.CancelOrder: orders.cancel_order,
    o.RetryOrder: orders.retry_order,
    o.DeliverOrder: orders.deliver_order,
    o.StartGeneration: orders.start_generation,
    o.AdvanceGeneration: orders.advance_generation,
    o.RecordDraft: orders.record_draft,
    o.FailGeneration: orders.fail_generation,
}
