"""From HTTP to the command bus: request bodies derived from the commands, the command context,
and the 201/202 answer with id, version, position and Location."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.handlers import HTTPRouteHandler

from commands.context import Context
from gateway.auth import NO_ORG, Caller
from gateway.idempotency import REPLAY
from gateway.problems import PROBLEMS, PUBLIC_PROBLEMS
from gateway.ratelimit import STRICT
from gateway.scope import header
from gateway.services import Services
from schemas.commands import Command
from schemas.results import CommandResult
from schemas.roles import ANYONE, Role

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@functools.cache
def body(command: type[msgspec.Struct], *path_fields: str) -> type[msgspec.Struct]:
    """The JSON body of `command` (or another request) over HTTP: its fields less those named
    by the path.

    Derived from the command's one declaration, so validation and the OpenAPI schema follow it.
    """
    fields: list[Any] = []
    for f in msgspec.structs.fields(command):
        if f.name in path_fields:
            continue
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, f.type))
    return msgspec.defstruct(
        f"{command.__name__}Body",
        fields,
        kw_only=True,
        frozen=True,
        forbid_unknown_fields=True,
        module=__name__,
    )


def command_of(command: type[Command], data: msgspec.Struct | None, **path: Any) -> Command:
    """The command from its body (already validated) and the path's fields."""
    values = msgspec.structs.asdict(data) if data is not None else {}
    return command(**values, **path)


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    key = header(request.scope, b"idempotency-key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise ValidationException("Idempotency-Key must be 1 to 200 visible ASCII characters")
    return key


def context(
    request: Request[Any, Any, Any],
    caller: Caller | None,
    *,
    actor: UUID | None = None,
) -> Context:
    """The command context: the caller (or `actor` for anonymous commands), the request id as
    correlation id, and the Idempotency-Key."""
    roles: frozenset[Role] = frozenset({ANYONE})
    if caller is not None:
        roles = roles | caller.roles
    causation = header(request.scope, b"x-causation-id")
    return Context(
        actor_id=actor or (caller.user_id if caller else NO_ORG),
        org_id=caller.org_id if caller else NO_ORG,
        roles=roles,
        correlation_id=str(request.scope.get("state", {}).get("request_id") or ""),
        causation_id=causation if causation and _KEY.match(causation) else None,
        idempotency_key=idempotency_key(request),
        bind_key=True,  # a client's key: bound to its request
    )


async def dispatch(
    services: Services,
    request: Request[Any, Any, Any],
    caller: Caller | None,
    command: Command,
    *,
    status: int = 202,
    location: Callable[[CommandResult], str] | None = None,
    actor: UUID | None = None,
) -> Response[CommandResult]:
    result = await services.bus.handle(command, context(request, caller, actor=actor))
    headers = {"Location": location(result)} if location else {}
    return Response(result, status_code=status, headers=headers)


async def require_json(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: a handler that reads a body takes JSON only (else 415), or
    multipart/form-data only when its body is declared so (a document upload)."""
    scope = request.scope
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return
    data = scope["route_handler"].parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    multipart = getattr(data.kwarg_definition, "media_type", None) == RequestEncodingType.MULTI_PART
    wanted = "multipart/form-data" if multipart else "application/json"
    content_type = header(scope, b"content-type")
    if content_type is None:
        if header(scope, b"content-length") not in (None, "0", ""):
            raise ClientException(f"send the body as {wanted}", status_code=415)
        return
    media = content_type.split(";", 1)[0].strip().lower()
    accepted = media == wanted if multipart else media == wanted or media.endswith("+json")
    if not accepted:
        raise ClientException(f"send the body as {wanted}", status_code=415)


def route(
    decorator: type[HTTPRouteHandler],
    path: str,
    *,
    summary: str,
    status: int = 202,
    public: bool = False,
    strict: bool = False,
    replay: bool = False,
    **kwargs: Any,
) -> HTTPRouteHandler:
    """A documented route: its problems, its security, and whether its limit is per address."""
    return decorator(
        path,
        summary=summary,
        description=kwargs.pop("description", None) or summary + ".",
        status_code=status,
        responses={**(PUBLIC_PROBLEMS if public else PROBLEMS), **kwargs.pop("problems", {})},
        security=kwargs.pop("security", None if public else [{"BearerToken": []}]),
        opt={STRICT: strict, REPLAY: replay},
        **kwargs,
    )


# The two dependencies every handler may name (provided by create_app).
ServicesDep = NamedDependency[Services]
CallerDep = NamedDependency[Caller]
