"""A unit of work: loads aggregates, tracks them, and appends what they recorded in one commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from commands import codec
from commands.context import Context
from commands.ports import Ports
from commands.shared_views import SharedViews
from domain import errors
from domain.aggregate import Aggregate
from domain.certificate import Certificate, CertificateNotFound
from domain.cohort import Cohort
from domain.course import Course
from domain.enrollment import Enrollment
from domain.lab import LabSession
from domain.order import Order, OrderNotFound
from domain.path import LearningPath
from domain.review import Review
from infra.eventlog import Commit, EventEnvelope, EventMeta, EventStore, NewEvent, StreamWrite, encode, wire_name
from infra.eventlog.hashing import GENESIS, uuid_text
from infra.mail import Mail
from schemas.access import Reach
from schemas.results import CommandResult

A = TypeVar("A", bound=Aggregate)

_NOT_FOUND: dict[type[Aggregate], type[errors.NotFound]] = {
    Course: errors.CourseNotFound,
    Review: errors.ReviewNotFound,
    Enrollment: errors.EnrollmentNotFound,
    LabSession: errors.LabSessionNotFound,
    Order: OrderNotFound,
    Cohort: errors.CohortNotFound,
    LearningPath: errors.LearningPathNotFound,
    Certificate: CertificateNotFound,
}


class Session:
    """One decision. Every stream it loads and does not write is listed in the commit's reads,
    so the commit fails with a conflict if any of them moved on meanwhile.

    An optimistic session reads nothing from the database: it takes the streams this process
    holds (`EventStore.cached_streams`) and takes any other stream to be empty. That is safe
    because the commit validates every stream it decided on; a decision that does not end in
    a commit (a refusal, or nothing to change) has not been validated, and `speculated` tells
    the caller to take it again with a fresh read.

    `view` gives an aggregate the decision only reads: changing it is refused at `prepare`, or
    at once for a view shared with other decisions (`shared`, `commands.shared_views`).

    `reach` is how far the caller's permission for this command goes (`schemas.access`).

    Handlers reach the outside world through `ports`; mail they `send` waits in `outbox`, and the
    users whose sign-ins they `end_signins` of wait in `signins_ended`, until the bus has committed
    this decision (a refused or retried decision sends nothing and ends nothing).
    """

    def __init__(
        self,
        store: EventStore,
        ctx: Context,
        ports: Ports,
        *,
        reach: Reach,
        optimistic: bool = False,
        shared: SharedViews | None = None,
    ) -> None:
        self.store = store
        self.ctx = ctx
        self.reach = reach
        self.ports = ports
        self.now = ports.clock.now()
        self.outbox: list[Mail] = []
        self.signins_ended: list[UUID] = []  # users whose sign-ins end once committed
        self.optimistic = optimistic
        self.shared = shared  # views of stored streams shared with other decisions
        self.speculated = False  # decided on state that was not read from the database
        self._fetched: dict[UUID, list[EventEnvelope]] = {}  # streams read (or held), not replayed
        self._tracked: dict[UUID, Aggregate] = {}
        self._views: dict[UUID, Aggregate] = {}  # read only
        self._links: dict[UUID, bytes] = {}  # hash of each loaded stream's last event

    async def load(self, cls: type[A], stream_id: UUID) -> A:
        """The aggregate (blank if its stream is empty); another organisation's reads as missing."""
        (agg,) = await self.load_many([(cls, stream_id)])
        return agg

    async def load_many(self, wanted: list[tuple[type[A], UUID]]) -> list[A]:
        await self.prefetch(wanted)
        out: list[A] = []
        for cls, sid in wanted:
            agg = self._tracked.get(sid)
            if agg is None:
                agg = self._tracked[sid] = self._replay(cls, sid)
                stored = self._fetched[sid]
                self._links[sid] = bytes.fromhex(stored[-1].hash) if stored else GENESIS
            if not isinstance(agg, cls):
                raise _NOT_FOUND.get(cls, errors.NotFound)(f"{cls.__name__} {sid} not found")
            out.append(agg)
        return out

    async def view(self, cls: type[A], stream_id: UUID) -> A:
        """The aggregate for reading only (a change to it is refused); validated at commit like
        every read. An aggregate this session loaded for writing is returned as it is."""
        await self.prefetch([(cls, stream_id)])
        agg = self._tracked.get(stream_id) or self._views.get(stream_id)
        if agg is None:
            stored = self._fetched[stream_id]
            if self.shared is not None and stored:
                agg = self.shared.view(cls, stream_id, stored, lambda: self._replay(cls, stream_id))
            else:
                agg = self._replay(cls, stream_id)
            self._views[stream_id] = agg
        if not isinstance(agg, cls):
            raise _NOT_FOUND.get(cls, errors.NotFound)(f"{cls.__name__} {stream_id} not found")
        return agg

    def _replay(self, cls: type[A], stream_id: UUID) -> A:
        stored = self._fetched[stream_id]
        events = [codec.decode(e.event_type, e.payload) for e in stored]
        return cls.replay(stream_id, events, stored[-1].position if stored else 0)

    async def prefetch(self, wanted: Sequence[tuple[type[Aggregate], UUID]]) -> None:
        """Read several streams in one round trip; later loads of them cost nothing."""
        missing = [sid for _, sid in wanted if sid not in self._fetched and sid not in self._tracked]
        if not missing:
            return
        if self.optimistic:
            held = self.store.cached_streams(missing)
            self._fetched.update((sid, held.get(sid, [])) for sid in missing)
            self.speculated = True
        else:
            self._fetched.update(await self.store.read_streams(missing))

    async def existing(self, cls: type[A], stream_id: UUID) -> A:
        """The aggregate, which must exist and belong to the caller's organisation."""
        agg = await self.load(cls, stream_id)
        self.require_visible(agg)
        return agg

    def require_visible(self, agg: Aggregate) -> None:
        org = getattr(agg, "org_id", None)
        if not agg.exists or (org is not None and org != self.ctx.org_id and self.reach is not Reach.PLATFORM):
            raise _NOT_FOUND.get(type(agg), errors.NotFound)(f"{type(agg).__name__} {agg.id} not found")

    def send(self, mail: Mail) -> None:
        """Send `mail` once this decision is committed."""
        self.outbox.append(mail)

    def end_signins(self, user_id: UUID) -> None:
        """End every sign-in of the user once this decision is committed, whichever edge (HTTP,
        NATS, the CLI) sent it: their refresh and access tokens stop working."""
        self.signins_ended.append(user_id)

    def track(self, agg: A) -> A:
        """Add a new aggregate (one whose stream does not exist yet) to this unit of work."""
        self._tracked.setdefault(agg.id, agg)
        return agg

    def prepare(
        self, primary: Aggregate, kind: str, data: dict[str, Any] | None = None
    ) -> tuple[Commit | None, CommandResult]:
        """Collect pending events (the primary aggregate's first) and the reply.

        The commit is None when nothing changed: the reply then names the current version.
        """
        order = [primary, *(a for a in self._tracked.values() if a is not primary)]
        writes = []
        reads = []
        new_id = self.ports.ids.new_id
        for view in self._views.values():
            if view.pending:
                raise RuntimeError(f"{type(view).__name__} {view.id} was changed through a read-only view")
            if view.id not in self._tracked:
                reads.append((view.id, view.stored_version))
        for agg in order:
            if not agg.pending:
                reads.append((agg.id, agg.stored_version))
                continue
            expected = agg.stored_version
            events = [NewEvent(new_id(), wire_name(type(e)), encode(e)) for e in agg.collect()]
            link = self._links.get(agg.id, GENESIS)
            writes.append(StreamWrite(agg.id, agg.stream_type, expected, events, link))
        reply = CommandResult(
            id=uuid_text(primary.id),
            kind=kind,
            version=primary.version,
            position=max([a.last_position for a in (*self._tracked.values(), *self._views.values())], default=0),
            data=data or {},
        )
        if not writes:
            return None, reply
        ctx = self.ctx
        meta = EventMeta(
            occurred_at=self.now,
            correlation_id=ctx.correlation_id,
            actor_id=uuid_text(ctx.actor_id),
            org_id=uuid_text(ctx.org_id),
            causation_id=ctx.causation_id,
        )
        return Commit(writes, meta, reply=reply, reads=reads), reply
