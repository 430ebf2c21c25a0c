"""The auditors' subjects of the messaging API (`audit.*`): the questions `/audit` answers over
HTTP, through the same `AuditView` (the authorisation table, the organisation's reach, a
platform auditor's grant checked live).

Replies fit one NATS message: a history page is cut short (its `next_after` says where to go on)
rather than exceed the connection's largest payload, and an export, whose size has no bound, is
written to the object store and answered with a presigned URL, its size and its SHA-256.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import msgspec

from domain import errors
from gateway.audit.access import Auditor, AuditView, open_view
from gateway.audit.export import InclusionProof, export_lines
from gateway.audit.history import HistoryPage
from gateway.audit.replay import State
from gateway.audit.service import Difference
from gateway.messaging.service import Call, Endpoint
from gateway.services import Services
from infra.eventlog.audit import Verification
from infra.eventlog.reader import Match
from schemas import audit as a

EXPORTS = "audit/exports/"  # the object store's folder of exports fetched over NATS
# What a reply may take of a NATS message besides the events (headers, the page's other fields).
_REPLY_MARGIN = 16 * 1024
_encode = msgspec.json.Encoder().encode


class AuditVerification(Verification, kw_only=True):
    """What a verification found (named apart from a certificate's verification in the AsyncAPI
    document)."""


class Unanswerable(errors.RuleViolation):
    """The question names too much or too little (both a stream and an organisation, say)."""

    code = "invalid_audit_request"


async def _view(services: Services, call: Call) -> AuditView:
    caller = call.caller
    return await open_view(services.audit, services.store, Auditor(caller.user_id, caller.org_id, caller.roles))


def fit(page: HistoryPage, max_bytes: int) -> HistoryPage:
    """The page cut to the events that fit in `max_bytes` (at least one), the cursor moved back."""
    room, kept = max_bytes - _REPLY_MARGIN, 0
    for e in page.events:
        room -= len(_encode(e)) + 1
        if room < 0 and kept:
            break
        kept += 1
    if kept == len(page.events):
        return page
    events = page.events[:kept]
    return HistoryPage(stream_id=page.stream_id, streams=page.streams, events=events, next_after=events[-1].position)


async def _history(services: Services, call: Call) -> HistoryPage:
    q: a.AuditHistory = call.payload
    match = Match(event_types=tuple(q.types), actor_id=q.actor, since=q.since, until=q.until)
    view = await _view(services, call)
    page = await view.history(q.stream_id, match, after=q.after, limit=q.limit, linked=q.linked)
    return fit(page, call.max_reply)


async def _state(services: Services, call: Call) -> State:
    q: a.AuditState = call.payload
    return await (await _view(services, call)).state(q.stream_id, q.at)


async def _diff(services: Services, call: Call) -> Difference:
    q: a.AuditDiff = call.payload
    return await (await _view(services, call)).diff(q.stream_id, q.before, q.after)


async def _verify(services: Services, call: Call) -> Verification:
    q: a.AuditVerify = call.payload
    view = await _view(services, call)
    if q.stream_id is not None and q.org_id is not None:
        raise Unanswerable("name a stream, an organisation, or neither (the whole log), not both")
    if q.stream_id is not None:
        return await view.verify_stream(q.stream_id)
    if q.org_id is not None:
        return await view.verify_organisation(q.org_id)
    return await view.verify_log()


async def _proof(services: Services, call: Call) -> InclusionProof:
    q: a.AuditProof = call.payload
    return await (await _view(services, call)).proof(q.position)


async def _export(services: Services, call: Call) -> a.ExportReady:
    q: a.AuditExport = call.payload
    if (q.stream_id is None) == (q.org_id is None):
        raise Unanswerable("name a stream or an organisation to export")
    view = await _view(services, call)
    found = await (view.export_stream(q.stream_id) if q.stream_id is not None else view.export_organisation(q.org_id))  # type: ignore[arg-type]
    data = b"".join(export_lines(found))
    digest = hashlib.sha256(data).hexdigest()
    documents = services.ports.documents  # the SOP documents' object store holds the exports too
    key = f"{EXPORTS}{digest}.jsonl"
    await documents.blobs.put(key, data, "application/x-ndjson")
    expiry: timedelta = documents.url_expiry
    return a.ExportReady(
        url=await documents.blobs.download_url(key, expiry),
        expires_at=services.ports.clock.now() + expiry,
        sha256=digest,
        size=len(data),
        events=found.manifest.events,
        streams=len(found.manifest.heads),
        seals=len(found.manifest.seals),
    )


async def sweep_exports(services: Services, now: datetime) -> int:
    """Delete exports whose URL has expired (a new request writes them again); returns how many."""
    documents = services.ports.documents
    stale = [b for b in await documents.blobs.list(EXPORTS) if b.modified < now - 2 * documents.url_expiry]
    for blob in stale:
        await documents.blobs.delete(blob.key)
    return len(stale)


def audit_endpoints() -> list[Endpoint]:
    return [
        Endpoint("audit.history", a.AuditHistory, HistoryPage, _history, "A stream's events in order, one page"),
        Endpoint("audit.at", a.AuditState, State, _state, "A stream's state at a version or time, replayed"),
        Endpoint("audit.diff", a.AuditDiff, Difference, _diff, "What changed between two versions or times"),
        Endpoint(
            "audit.verify", a.AuditVerify, AuditVerification, _verify, "Verify a stream, an organisation or the log"
        ),
        Endpoint("audit.proof", a.AuditProof, InclusionProof, _proof, "An event's inclusion proof under its seal"),
        Endpoint("audit.export", a.AuditExport, a.ExportReady, _export, "Export as JSON Lines: a presigned URL"),
    ]
