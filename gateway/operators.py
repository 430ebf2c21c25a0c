"""Who may read the operations endpoints: `/projections` (read-model lag) is for operators, a
platform admin or whoever holds `CW_METRICS_TOKEN`; `/metrics` is open unless that token is set,
then it needs it (Prometheus sends it as `authorization: bearer_token`). `/ready` answers anyone
with each service's status, and operators also with why a service is down and the read models'
lag."""

from __future__ import annotations

import hmac
from typing import Any, cast

from litestar import Request

from commands.errors import PermissionDenied
from gateway.auth import Authenticator
from gateway.scope import header
from infra.settings import Settings
from infra.tokens import InvalidToken
from schemas.roles import is_platform_admin


def holds_metrics_token(request: Request[Any, Any, Any], settings: Settings) -> bool:
    token = settings.metrics_token
    presented = header(request.scope, b"authorization") or ""
    if token is None or not presented.startswith("Bearer "):
        return False
    return hmac.compare_digest(presented[7:].encode(), token.get_secret_value().encode())


def require_metrics_reader(request: Request[Any, Any, Any], settings: Settings) -> None:
    if settings.metrics_token is not None and not holds_metrics_token(request, settings):
        raise InvalidToken("/metrics needs the metrics token (CW_METRICS_TOKEN) as a bearer token")


async def require_operator(request: Request[Any, Any, Any], settings: Settings) -> None:
    """A platform admin's access token, or the metrics token; else 401 (no token) or 403."""
    if holds_metrics_token(request, settings):
        return
    auth: Authenticator = request.app.state.auth
    caller = await auth.caller(request)
    if not is_platform_admin(caller.roles):
        raise PermissionDenied("read-model lag is for operators: a platform admin or the metrics token")


def is_operator_now(request: Request[Any, Any, Any], settings: Settings) -> bool:
    """Whether the caller is an operator, decided with no I/O (for `/ready`, which never waits):
    the metrics token, or a platform admin's valid, unrevoked access token."""
    if holds_metrics_token(request, settings):
        return True
    auth: Authenticator = request.app.state.auth
    caller = auth.caller_now(cast("dict[str, Any]", request.scope))
    return caller is not None and is_platform_admin(caller.roles)
