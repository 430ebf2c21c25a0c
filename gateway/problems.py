"""Every error becomes an RFC 9457 problem+json here: the one place HTTP statuses are chosen."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from commands.errors import TooMuchContention, UnknownCommand
from domain.errors import Conflict, DomainError, Forbidden, NotFound, PrerequisitesMissing, RuleViolation
from gateway.idempotency import BodyTooLarge
from gateway.validation import BODY_REQUIRED, malformed_path, request_body_problems
from infra.errors import ConcurrencyError, RecordRejected, Unavailable
from infra.logging import get_logger
from infra.tokens import InvalidToken

log = get_logger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem detail; `code` is our stable machine-readable name of the problem."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    code: str = ""
    instance: str = ""
    request_id: str = ""
    errors: list[dict[str, Any]] = []


def classify(exc: Exception) -> tuple[int, str, dict[str, str]]:
    """(status, code, extra headers) of an error: the single mapping from our errors to HTTP."""
    match exc:
        case InvalidToken():
            return 401, exc.code, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        case TooMuchContention():
            return 409, exc.code, {"Retry-After": "1"}
        case BodyTooLarge():
            return 413, exc.code, {}
        case NotFound():
            return 404, exc.code, {}
        case Forbidden():
            return 403, exc.code, {}
        case Conflict():
            return 409, exc.code, {}
        case RuleViolation():
            return 422, exc.code, {}
        case UnknownCommand():
            return 400, exc.code, {}
        case DomainError():
            return 422, exc.code, {}
        case ConcurrencyError():
            return 409, "concurrent_modification", {"Retry-After": "1"}
        case RecordRejected():
            return 422, "record_rejected", {}
        case Unavailable():
            return 503, f"{exc.service}_unavailable", {"Retry-After": "5"}
        case msgspec.ValidationError() | msgspec.DecodeError():
            return 400, "invalid_request", {}
        case ValidationException():
            return 400, "invalid_request", {}
        case HTTPException():
            headers = {k: str(v) for k, v in (exc.headers or {}).items()}
            if exc.status_code == 429:
                headers.setdefault("Retry-After", headers.get("RateLimit-Reset", "60"))
            code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
            return exc.status_code, code, headers
        case _:
            return 500, "internal_error", {}


def _detail(exc: Exception, status: int) -> str:
    if status == 500:
        return "an unexpected error occurred; it was logged with this request id"
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    return str(exc)


def problem_of(
    exc: Exception,
    instance: str,
    request_id: str,
    *,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> tuple[Problem, dict[str, str]]:
    """The problem document of an error and its extra headers, for either edge (HTTP or NATS);
    an edge that knows more of the request passes its own `detail` and `errors`."""
    status, code, headers = classify(exc)
    detail = detail or _detail(exc, status)
    if errors is None:
        errors = []
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
            errors = [e for e in exc.extra if isinstance(e, dict)]
        elif isinstance(exc, PrerequisitesMissing):
            errors = [{"course_id": str(course_id), "title": title} for course_id, title in exc.missing]
    problem = Problem(
        type=f"urn:coursewright:problem:{code}",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        instance=instance,
        request_id=request_id,
        errors=errors,
    )
    return problem, headers


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """The app's exception handler for every exception."""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None
    if isinstance(exc, ValidationException) and (body_errors := request_body_problems(request)):
        errors = list(body_errors)
        detail = BODY_REQUIRED if body_errors[0]["detail"] == BODY_REQUIRED else "the body has invalid fields"
    elif classify(exc)[0] == 404 and not isinstance(exc, DomainError):  # the router found no route
        detail = malformed_path((route.path for route in request.app.routes), request.url.path)
    problem, headers = problem_of(exc, request.url.path, request_id, detail=detail, errors=errors)
    if problem.status >= 500 and problem.status != 503:
        log.exception("http.unhandled_error", path=request.url.path)
    return Response(problem, status_code=problem.status, headers=headers, media_type=MEDIA_TYPE)


def _spec(status: int, description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type=MEDIA_TYPE,
        generate_examples=False,
        examples=[
            Example(
                summary=HTTPStatus(status).phrase,
                value={
                    "type": "urn:coursewright:problem:example",
                    "title": HTTPStatus(status).phrase,
                    "status": status,
                    "detail": description,
                    "code": "example",
                },
            )
        ],
    )


PUBLIC_PROBLEMS: dict[int, ResponseSpec] = {
    400: _spec(400, "Malformed JSON, wrong types, unknown fields or a bad header"),
    401: _spec(401, "Wrong email or password, or an invalid, used or revoked refresh token"),
    404: _spec(404, "No such resource in the caller's organisation"),
    405: _spec(405, "The method is not allowed on this path"),
    409: _spec(409, "The resource's state forbids this now"),
    413: _spec(413, "The body is too large"),
    415: _spec(415, "The body is not JSON"),
    422: _spec(422, "A business rule rejects the request"),
    429: _spec(429, "Too many requests; see Retry-After"),
    503: _spec(503, "A backing service is unavailable; try again"),
}
# An upload's route, which measures the body before it reads it.
UPLOAD_PROBLEMS: dict[int, ResponseSpec] = {411: _spec(411, "The upload has no Content-Length")}
PROBLEMS: dict[int, ResponseSpec] = {
    **PUBLIC_PROBLEMS,
    401: _spec(401, "Missing, malformed, tampered, expired or revoked access token"),
    403: _spec(403, "The caller's roles do not allow this"),
}
