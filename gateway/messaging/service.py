"""The NATS messaging API: request/reply on `<prefix>.api.v1.>` for machine clients.

Built on nats-py's `nats.micro`: one service, `coursewright`, whose endpoints share the queue
group `cw-api`, so any number of gateway processes answer and a client never knows which did;
discovery and per-endpoint stats come with it (`$SRV.PING|INFO|STATS`). Every request goes
through the same decision as HTTP: the caller from the bearer token, the authorisation table,
the command bus (idempotent under `Idempotency-Key`), the read-model queries, and the problem
map of `gateway.problems`.

nats.micro hands an endpoint's requests to its handler one at a time; the handler here only
starts the request's own task and returns, so up to `MAX_IN_FLIGHT` requests of a process are
answered side by side (and their commits share the store's group commits) instead of one after
another. Beyond that, the endpoint waits for a slot and NATS holds the rest. nats.micro's own
per-endpoint stats therefore see only the hand-over (its requests counted, no error, a processing
time of nothing); each endpoint's `data` in `$SRV.STATS` is ours instead (`EndpointData`), kept by
a `Tally` on the request's own task: answered, errors by status, the last problem, the time from
receipt to reply, in flight.

A reply carries `Cw-Status` (the HTTP status the same answer would have) and JSON: the answer,
or on error the problem document, as over HTTP (a body that does not fit its schema gets one
`errors[]` entry per field, with its JSON pointer). An error also carries nats.micro's headers,
`Nats-Service-Error` (the detail) and `Nats-Service-Error-Code` (the status, a number as nats.micro
clients read it: nats.js turns any other code into 400). Header names are matched regardless of
case: NATS keeps each name as its sender spelled it, and clients differ (`authorization`,
`Authorization`). A subject nothing serves gets NATS's immediate no-responders answer, never a
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from nats.aio.client import Client as NATS
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import EndpointConfig, EndpointStats, Service

from commands.context import Context
from domain.ids import new_id
from gateway.auth import Caller
from gateway.idempotency import BodyTooLarge
from gateway.problems import MEDIA_TYPE, problem_of
from gateway.services import Services
from gateway.validation import body_problems
from infra.logging import bound_contextvars, get_logger
from infra.tokens import InvalidToken

log = get_logger(__name__)

SERVICE = "coursewright"
VERSION = "1.0.0"
QUEUE_GROUP = "cw-api"
API_VERSION = "v1"
STATUS_HEADER = "Cw-Status"
MAX_IN_FLIGHT = 256  # requests one process answers at once
_encode = msgspec.json.Encoder().encode


def api_subject(prefix: str, subject: str) -> str:
    return f"{prefix}.api.{API_VERSION}.{subject}"


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: who asks, the decoded payload, its command context."""

    caller: Caller
    payload: Any
    ctx: Context
    max_reply: int = 1024 * 1024  # the largest message the connection may publish
    headers: Mapping[str, str] = field(default_factory=dict)  # the request's


Run = Callable[[Services, Call], Awaitable[msgspec.Struct]]


class Headers(Mapping[str, str]):
    """A request's headers, looked up by name regardless of case (`Authorization`,
    `authorization` and `AUTHORIZATION` are one header, as in HTTP)."""

    def __init__(self, raw: Mapping[str, str] | None) -> None:
        self._by_name = {name.lower(): value for name, value in (raw or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


class InvalidBody(msgspec.ValidationError):
    """A request body that does not fit its schema, with every problem found (`errors[]`)."""

    def __init__(self, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.errors = errors


class EndpointData(msgspec.Struct, kw_only=True):
    """An endpoint's own figures since its process started: its `data` in `$SRV.STATS`
    (nats.micro's counters there see only the hand-over to the request's task)."""

    answered: Annotated[int, Meta(description="requests answered, with the answer or a problem")]
    errors: Annotated[int, Meta(description="of those, the ones answered with a problem")]
    errors_by_status: Annotated[
        dict[str, int], Meta(description='the same, by the problem\'s status ({"404": 2, "503": 1})')
    ]
    last_error: Annotated[
        str, Meta(description='the last problem\'s status, type and title ("" before any; never its detail)')
    ]
    processing_time: Annotated[
        int, Meta(description="ns from receipt to the reply sent, summed over the requests answered")
    ]
    average_processing_time: Annotated[int, Meta(description="ns from receipt to reply, per request answered")]
    in_flight: Annotated[int, Meta(description="requests received and not answered yet (waiting for a slot too)")]
    unanswered: Annotated[int, Meta(description="requests whose reply could not be sent")]


class Tally:
    """One endpoint's counters, bumped on each request's task (a few integer operations)."""

    __slots__ = ("answered", "by_status", "errors", "in_flight", "last_error", "processing_time", "unanswered")

    def __init__(self) -> None:
        self.answered = self.errors = self.processing_time = self.in_flight = self.unanswered = 0
        self.by_status: dict[int, int] = {}
        self.last_error = ""

    def ok(self, received: int) -> None:
        self.answered += 1
        self.processing_time += time.perf_counter_ns() - received

    def problem(self, received: int, status: int, kind: str) -> None:
        self.ok(received)
        self.errors += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.last_error = kind

    def data(self) -> EndpointData:
        return EndpointData(
            answered=self.answered,
            errors=self.errors,
            errors_by_status={str(status): n for status, n in sorted(self.by_status.items())},
            last_error=self.last_error,
            processing_time=self.processing_time,
            average_processing_time=self.processing_time // self.answered if self.answered else 0,
            in_flight=self.in_flight,
            unanswered=self.unanswered,
        )


# Headers of the problem map worth a NATS client's while (the rest are HTTP's own).
_PASSED_ON = ("Retry-After",)


@dataclass(frozen=True)
class Endpoint:
    """One subject of the API: what it takes, what it answers, and how."""

    subject: str  # below `<prefix>.api.v1.`, e.g. "orders.place"
    request: type[msgspec.Struct]
    reply: type[msgspec.Struct]
    run: Run
    summary: str
    status: int = 200  # of a success

    @property
    def name(self) -> str:
        """The endpoint's name in nats.micro (letters, digits, dashes)."""
        return self.subject.replace(".", "-").replace("_", "-")


class MessagingApi:
    """The service and its endpoints; `start` subscribes them on a connection."""

    def __init__(
        self, services: Services, endpoints: list[Endpoint], authenticate: Callable[[str], Awaitable[Caller]]
    ) -> None:
        self.services = services
        self.prefix = services.settings.subject_prefix
        self.max_payload = services.settings.max_body_bytes
        self.endpoints = endpoints
        self.authenticate = authenticate
        self.service: Service | None = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._in_flight: set[asyncio.Task[None]] = set()
        self.max_reply = 1024 * 1024
        self.tallies = {endpoint.name: Tally() for endpoint in endpoints}

    async def start(self, nc: NATS) -> Service:
        self.max_reply = nc.max_payload
        service = await add_service(
            nc,
            name=SERVICE,
            version=VERSION,
            description="Coursewright's messaging API for machine clients",
            queue_group=QUEUE_GROUP,
            # Several systems may share a NATS server, each with its own subject prefix.
            metadata={"prefix": self.prefix},
            stats_handler=self._stats_data,
        )
        for endpoint in self.endpoints:
            await service.add_endpoint(
                EndpointConfig(
                    name=endpoint.name,
                    subject=api_subject(self.prefix, endpoint.subject),
                    handler=self._handler(endpoint),
                    metadata={"request": endpoint.request.__name__, "reply": endpoint.reply.__name__},
                )
            )
        self.service = service
        return service

    async def stop(self) -> None:
        """Stop taking requests, then let those under way finish and answer."""
        if self.service is not None:
            await self.service.stop()
            self.service = None
        if self._in_flight:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _stats_data(self, stats: EndpointStats) -> dict[str, Any] | None:
        """An endpoint's `data` in `$SRV.STATS` (nats.micro asks when a STATS request comes)."""
        tally = self.tallies.get(stats.name)
        return None if tally is None else msgspec.to_builtins(tally.data())

    def _handler(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[None]]:
        """What nats.micro calls: start the request's task (once a slot is free) and return."""
        tally = self.tallies[endpoint.name]
        answer = self._answerer(endpoint, tally)

        def done(task: asyncio.Task[None]) -> None:
            self._in_flight.discard(task)
            self._slots.release()
            tally.in_flight -= 1
            if not task.cancelled() and (error := task.exception()) is not None:  # the reply could not go
                tally.unanswered += 1
                log.warning("nats_api.reply_failed", subject=endpoint.subject, error=repr(error))

        async def hand_over(request: Request) -> None:
            received = time.perf_counter_ns()
            tally.in_flight += 1
            try:
                await self._slots.acquire()
            except BaseException:  # the service stopped meanwhile
                tally.in_flight -= 1
                raise
            task = asyncio.create_task(answer(request, received))
            self._in_flight.add(task)
            task.add_done_callback(done)

        return hand_over

    def _answerer(self, endpoint: Endpoint, tally: Tally) -> Callable[[Request, int], Coroutine[Any, Any, None]]:
        decoder = msgspec.json.Decoder(endpoint.request)

        async def handle(request: Request, received: int) -> None:
            """Answer the request received at `received` (perf_counter_ns), counted in `tally`."""
            headers = Headers(request.headers)
            request_id = headers.get("Cw-Request-Id") or str(new_id())
            with bound_contextvars(correlation_id=request_id, subject=endpoint.subject):
                try:
                    answer = await self._answer(endpoint, decoder, request, headers, request_id)
                except Exception as exc:
                    errors = exc.errors if isinstance(exc, InvalidBody) else None
                    problem, extra = problem_of(exc, request.subject, request_id, errors=errors)
                    if problem.status >= 500 and problem.status != 503:
                        log.exception("nats_api.unhandled_error")
                    reply_headers = {STATUS_HEADER: str(problem.status), "Content-Type": MEDIA_TYPE}
                    reply_headers |= {name: extra[name] for name in _PASSED_ON if name in extra}
                    await request.respond_error(
                        str(problem.status), problem.detail, data=_encode(problem), headers=reply_headers
                    )
                    # The type and title name the problem; its detail may quote the request.
                    tally.problem(received, problem.status, f"{problem.status} {problem.type}: {problem.title}")
                    return
                await request.respond(
                    _encode(answer), headers={STATUS_HEADER: str(endpoint.status), "Content-Type": "application/json"}
                )
                tally.ok(received)

        return handle

    async def _answer(
        self,
        endpoint: Endpoint,
        decoder: msgspec.json.Decoder[Any],
        request: Request,
        headers: Headers,
        request_id: str,
    ) -> msgspec.Struct:
        if len(request.data) > self.max_payload:
            raise BodyTooLarge(f"the request has {len(request.data)} bytes; the API takes {self.max_payload}")
        token = headers.get("Authorization", "")
        scheme, _, value = token.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken("an Authorization: Bearer <access token> header is required")
        caller = await self.authenticate(value.strip())
        payload = _decode(decoder, endpoint.request, request.data or b"{}")
        key = headers.get("Idempotency-Key")
        ctx = Context(
            actor_id=caller.user_id,
            org_id=caller.org_id,
            roles=frozenset({"anyone", *caller.roles}),
            correlation_id=request_id,
            causation_id=headers.get("Cw-Causation-Id"),
            idempotency_key=key or None,
            bind_key=True,  # a client's key: bound to its request
        )
        return await endpoint.run(self.services, Call(caller, payload, ctx, self.max_reply, headers))


def _decode(decoder: msgspec.json.Decoder[Any], declared: type[msgspec.Struct], body: bytes) -> Any:
    """The request's payload; a body that does not fit gets every one of its problems, as over HTTP."""
    try:
        return decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        errors = body_problems(declared, body) or [{"pointer": "", "detail": str(e)}]
        whole = len(errors) == 1 and not errors[0]["pointer"]  # not JSON, not an object, or a rule of the whole
        raise InvalidBody(errors[0]["detail"] if whole else "the body has invalid fields", errors) from e
