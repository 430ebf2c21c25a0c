"""The one authorisation table: every command has a permission, and reach follows the roles."""

from __future__ import annotations

from commands.routes import ROUTES
from domain.identity import GRANTABLE
from schemas import commands as c
from schemas import identity as i
from schemas.access import COMMANDS, QUERIES, Query, Reach
from schemas.roles import MEMBER_ROLES, ROLES, Role


def test_every_routed_command_has_exactly_one_permission() -> None:
    assert set(COMMANDS) == set(ROUTES)
    assert set(QUERIES) == set(Query)


def test_platform_admins_reach_everything_and_no_role_reaches_nothing() -> None:
    for permission in [*COMMANDS.values(), *QUERIES.values()]:
        assert permission.reach({"platform_admin"}) is Reach.PLATFORM
    assert COMMANDS[c.CreateCourse].reach(set()) is Reach.NONE
    assert COMMANDS[i.RegisterUser].reach({"anyone"}) is Reach.ORGANISATION


def test_instructors_reach_only_their_own_drafts_managers_the_organisations() -> None:
    edit = COMMANDS[c.EditCourse]
    expected: dict[Role, Reach] = {
        "org_admin": Reach.ORGANISATION,
        "course_manager": Reach.ORGANISATION,
        "instructor": Reach.OWN,
        "trainer": Reach.NONE,
        "student": Reach.NONE,
        "sales": Reach.NONE,
        "auditor": Reach.NONE,
    }
    assert {role: edit.reach({role}) for role in MEMBER_ROLES} == expected
    assert edit.reach({"instructor", "course_manager"}) is Reach.ORGANISATION


def test_students_learn_for_themselves_trainers_for_others() -> None:
    enrol = COMMANDS[c.Enrol]
    assert enrol.reach({"student"}) is Reach.OWN
    assert enrol.reach({"trainer"}) is Reach.ORGANISATION
    assert enrol.reach({"instructor"}) is Reach.NONE


def test_progress_of_students_reaches_by_role() -> None:
    progress = QUERIES[Query.STUDENT_PROGRESS]
    assert progress.reach({"instructor"}) is Reach.OWN
    # Trainers see the students of the cohorts they train only (projections/queries/privacy.py).
    assert progress.reach({"trainer"}) is Reach.OWN
    assert {r for r in ROLES if progress.reach({r}) is Reach.ORGANISATION} == {"org_admin", "course_manager"}
    assert progress.reach({"student"}) is Reach.NONE  # their own progress is MY_COURSES


def test_platform_auditors_audit_every_organisation_and_change_nothing() -> None:
    audit = QUERIES[Query.AUDIT]
    assert audit.reach({"platform_auditor"}) is Reach.PLATFORM
    assert audit.reach({"auditor"}) is Reach.ORGANISATION
    assert audit.reach({"auditor", "platform_auditor"}) is Reach.PLATFORM
    for role in MEMBER_ROLES:
        if role != "auditor":
            assert audit.reach({role}) is Reach.NONE, role
    # Read-only: no command, and no other query than the audit, is open to a platform auditor.
    assert [cmd for cmd, p in COMMANDS.items() if p.reach({"platform_auditor"}) is not Reach.NONE] == [
        cmd for cmd, p in COMMANDS.items() if "anyone" in p.roles
    ]
    for query, permission in QUERIES.items():
        if query is not Query.AUDIT and "anyone" not in permission.roles:
            assert permission.reach({"platform_auditor"}) is Reach.NONE, query
    assert COMMANDS[i.GrantPlatformAuditor].reach({"platform_auditor"}) is Reach.NONE
    assert COMMANDS[i.GrantPlatformAuditor].reach({"org_admin"}) is Reach.NONE
    assert "platform_auditor" in ROLES


def test_the_domain_grants_exactly_the_member_roles_of_the_vocabulary() -> None:
    """The domain checks a member's roles itself and may import nothing of ours, so it holds the
    member roles as a set of names; they are the vocabulary's, no more and no fewer."""
    assert set(MEMBER_ROLES) == GRANTABLE
