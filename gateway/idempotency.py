"""Idempotency-Key for the POSTs that are not commands (sign-in, token refresh, sign-out, resets).

Commands keep their first reply in the event store, in the same transaction as their events
(commands/bus.py). The identity endpoints change state outside the event log (refresh-token
rotation, revocations), so their first answer is kept here, in Redis, for the same 24 hours.
A key lives in the namespace of the credential that sent it (the bearer token, or for sign-in
the client's address) and is bound to its first request: a retry with the same key, route and
body (JSON compared whatever its spelling) gets the same answer; the same key on another route
or with another body is refused (422 `idempotency_key_reused`, as for commands); a retry while
the first is still running gets 409. Refusals are raised as errors, so gateway/problems.py
answers them like any other.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPDisconnectEvent, HTTPRequestEvent, Message, Receive, Scope, Send

from commands.errors import IdempotencyKeyReused
from domain.errors import Conflict, RuleViolation
from gateway.scope import header
from infra.availability import Availability

REPLAY = "replay_by_idempotency_key"  # route opt: answers are kept under the Idempotency-Key
UNKEPT = "idempotency_key_unkept"  # answers given without keeping them are counted under this
_KEPT_HEADERS = {b"content-type", b"location", b"retry-after"}


class RequestInProgress(Conflict):
    code = "request_in_progress"


class BodyTooLarge(RuleViolation):
    code = "request_entity_too_large"


class _Kept(msgspec.Struct):
    body_hash: str
    status: int
    headers: list[tuple[str, str]]
    body: str  # base64
    route: str = ""  # the path it was first sent to ("" in answers kept before routes were)


async def _send_whole(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class IdempotencyMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(
        self, *, redis: Any | None, namespace: str, ttl_seconds: int, max_body: int, redis_health: Availability
    ) -> None:
        self.redis = redis
        self.redis_health = redis_health  # while Redis is down, answers are not kept (nor tried)
        self.max_body = max_body
        self.namespace = namespace
        self.ttl = ttl_seconds

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        key = header(scope, b"idempotency-key")
        if (
            self.redis is None
            or key is None
            or scope.get("method") != "POST"
            or handler is None
            or not handler.opt.get(REPLAY)
        ):
            await next_app(scope, receive, send)
            return
        if not self.redis_health.worth_trying():
            self.redis_health.skipped(UNKEPT)
            await next_app(scope, receive, send)
            return
        body = await _read_body(receive, self.max_body)
        if body is None:
            raise BodyTooLarge("the request body is too large")
        # The header bytes as sent (header() decodes them as latin-1).
        who = (header(scope, b"authorization") or "").encode("latin-1") or (scope.get("client") or ("?",))[0].encode()
        ident = hashlib.sha256(b"\x1f".join([who, key.encode("latin-1")])).hexdigest()
        route, body_hash = scope["path"], hashlib.sha256(_canonical(body)).hexdigest()
        slot, lock = f"{self.namespace}:idem:{ident}", f"{self.namespace}:idem-lock:{ident}"
        try:
            kept = await self.redis.get(slot)
            if kept is None and not await self.redis.set(lock, b"1", nx=True, ex=30):
                raise RequestInProgress("a request with this key is running")
        except Exception as e:  # Redis down: answer without replay rather than not at all
            self.redis_health.failed(e, UNKEPT)
            await next_app(scope, _replay_body(body), send)
            return
        self.redis_health.answered()
        if kept is not None:
            first = msgspec.json.decode(kept, type=_Kept)
            if first.route and first.route != route:
                raise IdempotencyKeyReused(f"this Idempotency-Key was first used on POST {first.route}")
            if first.body_hash != body_hash:
                raise IdempotencyKeyReused("this Idempotency-Key was first used with another body")
            replay = [(k.encode(), v.encode()) for k, v in first.headers] + [(b"idempotent-replayed", b"true")]
            await _send_whole(send, first.status, replay, base64.b64decode(first.body))
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k.decode(), v.decode()) for k, v in message.get("headers", []) if k.lower() in _KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                captured["body"].extend(message.get("body", b""))
            await send(message)

        try:
            await next_app(scope, _replay_body(body), capture)
            if captured["status"] < 500:  # a server error is not an answer worth repeating
                kept_now = _Kept(
                    body_hash,
                    captured["status"],
                    captured["headers"],
                    base64.b64encode(bytes(captured["body"])).decode(),
                    route,
                )
                await self.redis.set(slot, msgspec.json.encode(kept_now), ex=self.ttl)
        finally:
            try:
                await self.redis.delete(lock)
            except Exception as e:
                self.redis_health.failed(e, UNKEPT)


def _canonical(body: bytes) -> bytes:
    """A JSON body in one spelling (keys sorted, no spaces); any other body as it came."""
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="deterministic")
    except msgspec.DecodeError:
        return body


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> HTTPRequestEvent | HTTPDisconnectEvent:
        nonlocal sent
        if not sent:
            sent = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)
        return HTTPDisconnectEvent(type="http.disconnect")

    return receive
