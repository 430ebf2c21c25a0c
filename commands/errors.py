"""Errors the command layer adds to the domain's own."""

from __future__ import annotations

from domain.errors import Conflict, DomainError, Forbidden, RuleViolation


class PermissionDenied(Forbidden):
    code = "permission_denied"


class NotAnAuthor(PermissionDenied):
    """The caller's role may change courses, but not this one: they do not write it."""

    code = "not_an_author"


class InvalidCoAuthor(RuleViolation):
    code = "invalid_co_author"


class InvalidTrainer(RuleViolation):
    code = "invalid_trainer"


class TooMuchContention(Conflict):
    """The aggregate kept changing under us; the caller may retry later."""

    code = "concurrent_modification"


class UnknownCommand(DomainError):
    code = "unknown_command"


class IdempotencyKeyReused(RuleViolation):
    """An Idempotency-Key came back with another request than the one it was first sent with
    (another body, another command or route, another caller): refused, never answered with the
    first request's reply (draft-ietf-httpapi-idempotency-key-header: 422)."""

    code = "idempotency_key_reused"
