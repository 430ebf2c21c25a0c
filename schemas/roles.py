"""The role vocabulary: every role a caller can hold, named here and nowhere else."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, get_args

# Roles an organisation admin grants to a member, within that organisation.
MemberRole = Literal["org_admin", "course_manager", "instructor", "trainer", "student", "sales", "auditor"]
# Platform admin is a property of the user, granted only by another platform admin (or the
# bootstrap). Platform auditor too, granted and revoked by a platform admin: it reads the audit
# of every organisation and the whole log, and changes nothing. Every caller holds "anyone",
# signed in or not; it is never granted or shown.
# "lab_runner" is held by the lab runner's own commands only (what a sandbox did); no token
# carries it.
Role = Literal[MemberRole, "platform_admin", "platform_auditor", "anyone", "lab_runner"]

MEMBER_ROLES: tuple[MemberRole, ...] = get_args(MemberRole)
PLATFORM_ADMIN: Role = "platform_admin"
PLATFORM_AUDITOR: Role = "platform_auditor"
ANYONE: Role = "anyone"
LAB_RUNNER: Role = "lab_runner"
ROLES: tuple[Role, ...] = (PLATFORM_ADMIN, PLATFORM_AUDITOR, *MEMBER_ROLES)  # the roles an access token may carry


def is_platform_admin(roles: Collection[str]) -> bool:
    """Platform admins act in every organisation."""
    return PLATFORM_ADMIN in roles
