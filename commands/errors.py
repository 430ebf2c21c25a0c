"""Errors the command layer adds to the domain's own."""

from __future__ import annotations

from domain.errors import Conflict, DomainError, Forbidden


class PermissionDenied(Forbidden):
    code = "permission_denied"


class TooMuchContention(Conflict):
    """The aggregate kept changing under us; the caller may retry later."""

    code = "concurrent_modification"


class UnknownCommand(DomainError):
    code = "unknown_command"
