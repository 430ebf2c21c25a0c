"""Every subject of the messaging API: the order endpoints by name, every other command, then the
auditors' questions (`gateway/messaging/audit.py`).

Subjects live under `<prefix>.api.v1.`. The orders' are named for sales systems
(`orders.place`, `orders.documents.begin`, ...); the other read-model questions are in
`gateway/messaging/queries.py`; every other command the HTTP API takes is served as
`<area>.<command_in_snake_case>` (`courses.create_course`), derived from the one mapping of
commands (`commands.routes.ROUTES`), so a new command is served without an edit here.
"""

from __future__ import annotations

import re

import msgspec

from commands.routes import ROUTES
from domain.errors import RuleViolation
from gateway import apikeys
from gateway.audit.sealer import trusted_keys
from gateway.labs_remote import RemoteLabs
from gateway.messaging.audit import audit_endpoints
from gateway.messaging.queries import read_model_endpoints
from gateway.messaging.service import Call, Endpoint
from gateway.orders import document_url
from gateway.services import Services
from labrunner.service import LabDesk
from projections import queries as rq
from projections.queries import certificates as cq
from projections.queries import notifications as nq
from projections.queries import orders as oq
from schemas import apikeys as k
from schemas import certificates as cert
from schemas import labs as lab
from schemas import notifications as n
from schemas import orders as o
from schemas import readmodels as rm
from schemas.commands import Command
from schemas.results import CommandResult

ORDER_COMMANDS: dict[str, tuple[type[Command], str]] = {
    "orders.place": (o.PlaceOrder, "Place an order for a course"),
    "orders.documents.add": (o.AddDocument, "Attach a small SOP document sent in the request (base64)"),
    "orders.documents.begin": (o.BeginDocumentUpload, "Get a presigned URL to PUT a large document to"),
    "orders.documents.complete": (o.CompleteDocumentUpload, "Attach an uploaded document after checking it"),
    "orders.documents.remove": (o.RemoveDocument, "Remove a document before generation starts"),
    "orders.accept": (o.AcceptDocuments, "Declare the documents complete: ready for generation"),
    "orders.cancel": (o.CancelOrder, "Cancel an order before its generation finishes"),
    "orders.retry": (o.RetryOrder, "Retry a failed generation"),
    "orders.deliver": (o.DeliverOrder, "Deliver the order once its course is published"),
    "orders.generation.start": (o.StartGeneration, "Start a generation attempt (the pipeline)"),
    "orders.generation.advance": (o.AdvanceGeneration, "Report the stage generation reached (the pipeline)"),
    "orders.generation.draft": (o.RecordDraft, "Record the course drafted (the pipeline)"),
    "orders.generation.fail": (o.FailGeneration, "Record a failed generation (the pipeline)"),
}
_AREAS = {
    "schemas.commands": "courses",
    "schemas.identity": "identity",
    "schemas.orders": "orders",
    "schemas.labs": "labs",
    "schemas.certificates": "certificates",
    "schemas.notifications": "notifications",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


async def _command(services: Services, call: Call) -> CommandResult:
    return await services.bus.handle(call.payload, call.ctx)


async def _list_orders(services: Services, call: Call) -> o.OrderList:
    q: o.ListOrders = call.payload
    query = oq.OrderFilter(tuple(q.status), q.client, q.placed_from, q.placed_to, q.limit)
    return await oq.list_orders(services.reader, call.caller, query, position=q.position)


async def _get_order(services: Services, call: Call) -> o.OrderDetail:
    q: o.GetOrder = call.payload
    return await oq.order_detail(services.reader, call.caller, q.order_id, position=q.position)


async def _document_url(services: Services, call: Call) -> o.DocumentUrl:
    q: o.GetDocumentUrl = call.payload
    return await document_url(services, call.caller, q.order_id, q.sha256, position=q.position)


async def _list_cohorts(services: Services, call: Call) -> rm.CohortList:
    q: rm.ListCohorts = call.payload
    return await rq.cohorts(services.reader, call.caller, course_id=q.course_id, limit=q.limit, position=q.position)


async def _get_cohort(services: Services, call: Call) -> rm.CohortDetail:
    q: rm.GetCohort = call.payload
    return await rq.cohort_detail(services.reader, call.caller, q.cohort_id, position=q.position)


async def _list_paths(services: Services, call: Call) -> rm.LearningPathList:
    q: rm.ListLearningPaths = call.payload
    return await rq.learning_paths(services.reader, call.caller, position=q.position)


async def _path_progress(services: Services, call: Call) -> rm.PathProgress:
    q: rm.GetPathProgress = call.payload
    return await rq.path_progress(services.reader, call.caller, q.path_id, student_id=q.student_id, position=q.position)


QUERY_ENDPOINTS = [
    Endpoint("cohorts.list", rm.ListCohorts, rm.CohortList, _list_cohorts, "Cohorts the caller sees"),
    Endpoint("cohorts.get", rm.GetCohort, rm.CohortDetail, _get_cohort, "A cohort and its students' progress"),
    Endpoint("paths.list", rm.ListLearningPaths, rm.LearningPathList, _list_paths, "The organisation's paths"),
    Endpoint("paths.progress", rm.GetPathProgress, rm.PathProgress, _path_progress, "A student's path progress"),
]


async def _create_key(services: Services, call: Call) -> k.NewApiKey:
    return await apikeys.create_key(services.store, services.api_keys, call.caller, call.payload)


async def _list_keys(services: Services, call: Call) -> k.ApiKeyList:
    return await apikeys.list_keys(services.store, services.api_keys, call.caller, call.payload)


async def _revoke_key(services: Services, call: Call) -> k.KeyRevoked:
    return await apikeys.revoke_key(services.store, services.api_keys, call.caller, call.payload)


async def _my_certificates(services: Services, call: Call) -> cert.CertificateList:
    q: cert.ListMyCertificates = call.payload
    return await cq.my_certificates(services.reader, call.caller, position=q.position)


async def _verify_certificate(services: Services, call: Call) -> cert.Verification:
    q: cert.VerifyCertificate = call.payload
    return await cq.verify(services.reader, q.code, trusted_keys(services.settings, services.ports.signer))


async def _notifications(services: Services, call: Call) -> n.NotificationFeed:
    q: n.ListNotifications = call.payload
    return await nq.feed(
        services.reader, call.caller, before=q.before, limit=q.limit, unread_only=q.unread, position=q.position
    )


async def _lab(services: Services, call: Call) -> msgspec.Struct:
    """A lab command, to the lab runner (the sandbox is its; the bus alone would record a start
    with no sandbox behind it)."""
    desk, cmd, ctx = services.lab_desk(), call.payload, call.ctx
    match cmd:
        case lab.StartLab():
            return await desk.start(cmd, ctx)
        case lab.WriteLabFiles():
            return await desk.write_files(cmd, ctx)
        case lab.RunLab():
            return await _run_lab(services, desk, cmd, call)
        case lab.GradeLab():
            return await desk.grade(cmd, ctx)
        case lab.PauseLab():
            return await desk.pause(cmd, ctx)
        case lab.ResumeLab():
            return await desk.resume(cmd, ctx)
        case lab.StopLab():
            return await desk.stop(cmd, ctx)
    raise TypeError(f"not a lab request: {type(cmd).__name__}")


OUTPUT_HEADER = "Cw-Output-Subject"


async def _run_lab(services: Services, desk: LabDesk | RemoteLabs, cmd: lab.RunLab, call: Call) -> lab.LabRunView:
    """A run; with `Cw-Output-Subject: _INBOX...` its output is published there chunk by chunk as
    it comes, then an empty message with the `Cw-Lab-End` header, before the reply."""
    subject = call.headers.get(OUTPUT_HEADER)
    if subject is None or services.remote_labs is None:
        return await desk.run(cmd, call.ctx)
    if not subject.startswith("_INBOX.") or not subject.isprintable() or " " in subject:
        raise InvalidOutputSubject(f"{OUTPUT_HEADER} must be an inbox subject (_INBOX....), not {subject!r}")
    sink, end = await services.remote_labs.relay(subject)
    try:
        return await desk.run(cmd, call.ctx, sink)
    finally:
        await end()


class InvalidOutputSubject(RuleViolation):
    code = "invalid_output_subject"


async def _show_lab(services: Services, call: Call) -> lab.LabSessionView:
    q: lab.ShowLab = call.payload
    return await services.lab_desk().show(q.session_id, call.ctx)


# The lab commands the runner serves, and what each answers.
LAB_REPLIES: dict[type[Command], type[msgspec.Struct]] = {
    lab.StartLab: CommandResult,
    lab.WriteLabFiles: CommandResult,
    lab.RunLab: lab.LabRunView,
    lab.GradeLab: lab.GradeView,
    lab.PauseLab: CommandResult,
    lab.ResumeLab: CommandResult,
    lab.StopLab: CommandResult,
}


def endpoints() -> list[Endpoint]:
    """The API's endpoints, in a stable order (the AsyncAPI document lists them so)."""
    named = {command: subject for subject, (command, _) in ORDER_COMMANDS.items()}
    found = [Endpoint(s, c, CommandResult, _command, summary, status=202) for s, (c, summary) in ORDER_COMMANDS.items()]
    found += [
        Endpoint("orders.list", o.ListOrders, o.OrderList, _list_orders, "Orders of the caller's organisation"),
        Endpoint("orders.get", o.GetOrder, o.OrderDetail, _get_order, "One order with its documents and timeline"),
        Endpoint("orders.documents.url", o.GetDocumentUrl, o.DocumentUrl, _document_url, "A presigned download URL"),
        *QUERY_ENDPOINTS,
        *read_model_endpoints(),
        Endpoint(
            "organisations.api_keys.create",
            k.CreateApiKey,
            k.NewApiKey,
            _create_key,
            "Create an API key (org admins); its secret is in this reply only",
            status=201,
        ),
        Endpoint("organisations.api_keys.list", k.ListApiKeys, k.ApiKeyList, _list_keys, "The organisation's API keys"),
        Endpoint("organisations.api_keys.revoke", k.RevokeApiKey, k.KeyRevoked, _revoke_key, "Revoke an API key"),
        Endpoint(
            "certificates.list",
            cert.ListMyCertificates,
            cert.CertificateList,
            _my_certificates,
            "The caller's certificates",
        ),
        Endpoint(
            "certificates.verify",
            cert.VerifyCertificate,
            cert.Verification,
            _verify_certificate,
            "Verify a certificate by its code",
        ),
        Endpoint(
            "notifications.list",
            n.ListNotifications,
            n.NotificationFeed,
            _notifications,
            "The caller's notifications, newest first, with the unread count",
        ),
    ]
    for command in ROUTES:
        if command in named:
            continue
        subject = f"{_AREAS[command.__module__]}.{_snake(command.__name__)}"
        doc = (command.__doc__ or command.__name__).strip().splitlines()[0]
        if command in LAB_REPLIES:
            reply = LAB_REPLIES[command]
            status = 200 if reply is not CommandResult else 201 if command is lab.StartLab else 202
            found.append(Endpoint(subject, command, reply, _lab, doc, status=status))
        else:
            found.append(Endpoint(subject, command, CommandResult, _command, doc, status=202))
    found.append(Endpoint("labs.show", lab.ShowLab, lab.LabSessionView, _show_lab, "A lab session: files, last runs"))
    return found + audit_endpoints()
