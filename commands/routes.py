"""The one mapping from command type to its handler (who may send it: `schemas.access.COMMANDS`)."""

from __future__ import annotations

from commands import courses, enrollments, identity, labs, seals
from commands.bus import Handler
from schemas import commands as c
from schemas import identity as i
from schemas import labs as lab
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
    lab.SetLessonLab: labs.set_lesson_lab,
    lab.StartLab: labs.start_lab,
    lab.WriteLabFiles: labs.write_lab_files,
    lab.RunLab: labs.run_lab,
    lab.GradeLab: labs.grade_lab,
    lab.PauseLab: labs.pause_lab,
    lab.ResumeLab: labs.resume_lab,
    lab.StopLab: labs.stop_lab,
    lab.RecordLabRun: labs.record_lab_run,
    lab.RecordLabGrade: labs.record_lab_grade,
    lab.EndLab: labs.end_lab,
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
}
