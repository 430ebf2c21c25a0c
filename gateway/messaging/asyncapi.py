"""The messaging API's AsyncAPI 3.0.0 document, generated from the endpoints and their msgspec
schemas (requests, replies, the problem document) and the order events the API documents.

It is checked against the official AsyncAPI 3.0.0 JSON Schema (tests/data/asyncapi/) and its
`$ref`s are resolved by the unit tests; third-party tooling (`@asyncapi/parser`, `asyncapi
validate`) reads it without an error or a warning. Payload schemas are msgspec's, in AsyncAPI's
schema dialect (a superset of JSON Schema draft-07): msgspec writes JSON Schema 2020-12, so a
tuple's `prefixItems` become draft-07's `items` list. Each schema is a component, referenced as
`#/components/schemas/<name>` (msgspec's names: a class's, qualified by its module when two
classes share one).

NATS request/reply: a request operation is `receive` on the endpoint's subject (the service's
point of view), its reply goes to the requester's inbox (NATS's reply subject, so the reply
channel's address is null: it is the requester's own), as the answer or the problem document.
`labs.run_lab`'s output stream, sent to the subject its request names in `Cw-Output-Subject`, is a
channel of its own: the runner's raw output bytes chunk by chunk (no JSON: what the lab's process
wrote), then an empty message with the `Cw-Lab-End` header.
nats.micro's `$SRV.STATS.coursewright` is documented too, its reply's schema generated from
`ServiceStats`, whose endpoints' `data` are the service's own figures (`EndpointData`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from domain.order import Order
from gateway.messaging.endpoints import OUTPUT_HEADER
from gateway.messaging.push import push_subject
from gateway.messaging.service import (
    API_VERSION,
    QUEUE_GROUP,
    SERVICE,
    STATUS_HEADER,
    VERSION,
    Endpoint,
    EndpointData,
    api_subject,
)
from gateway.problems import MEDIA_TYPE, Problem
from infra.eventlog.catalogue import wire_name
from labrunner.service import END_HEADER
from schemas.envelope import EventEnvelope, Headers

_REF = "#/components/schemas/{name}"
STATS_KEY = "srv_stats"
RUN_LAB = "labs.run_lab"
LAB_OUTPUT_KEY = "labs_run_lab_output"


class EndpointStats(msgspec.Struct, kw_only=True):
    """One endpoint in nats.micro's STATS reply. Its own counters see only the hand-over of a
    request to its task (no error, no processing time): `data` has the service's figures."""

    name: str
    subject: str
    queue_group: str
    num_requests: int
    num_errors: int
    last_error: str | None
    processing_time: int
    average_processing_time: int
    data: EndpointData | None


class ServiceStats(msgspec.Struct, kw_only=True):
    """nats.micro's answer to `$SRV.STATS.coursewright` (one per service process)."""

    type: str  # io.nats.micro.v1.stats_response
    name: str
    id: str
    version: str
    started: str
    metadata: dict[str, str]
    endpoints: list[EndpointStats]


_NATS_BINDING = "0.1.0"

_STRING = {"type": "string"}
REQUEST_HEADERS = {
    "type": "object",
    "description": "Header names are matched regardless of case.",
    "properties": {
        "Authorization": _STRING | {"description": "`Bearer <access token or API key>`"},
        "Idempotency-Key": _STRING
        | {
            "description": "the same request again gets the first answer; another body, subject or caller gets 422",
        },
        "Cw-Request-Id": _STRING | {"description": "correlation id (one is made when absent)"},
        "Cw-Causation-Id": _STRING | {"description": "the id of what caused this request, kept with its events"},
        OUTPUT_HEADER: _STRING
        | {
            "description": f"{RUN_LAB} only: an `_INBOX.` subject the run's output is published to as it comes, "
            f"then an empty message with a `{END_HEADER}` header (channel `{LAB_OUTPUT_KEY}`)",
            "pattern": "^_INBOX\\.",
        },
    },
    "required": ["Authorization"],
}
_STATUS_CODE = "^[1-5][0-9]{2}$"
_STATUS = {
    STATUS_HEADER: _STRING | {"description": "the HTTP status the same answer would have", "pattern": _STATUS_CODE}
}
REPLY_HEADERS = {
    "type": "object",
    "properties": _STATUS | {"Content-Type": _STRING | {"const": "application/json"}},
    "required": [STATUS_HEADER],
}
PROBLEM_HEADERS = {
    "type": "object",
    "properties": _STATUS
    | {
        "Content-Type": _STRING | {"const": MEDIA_TYPE},
        "Nats-Service-Error": _STRING | {"description": "the problem's detail (nats.micro)"},
        "Nats-Service-Error-Code": _STRING
        | {"description": "the status again, as nats.micro clients read it", "pattern": _STATUS_CODE},
        "Retry-After": _STRING | {"description": "seconds after which the same request may succeed (409, 503)"},
    },
    "required": [STATUS_HEADER, "Nats-Service-Error", "Nats-Service-Error-Code"],
}
EVENT_HEADERS = {
    "type": "object",
    "properties": {
        Headers.MSG_ID: _STRING | {"format": "uuid", "description": "the event id: drop an event seen before"},
        Headers.POSITION: _STRING | {"pattern": "^[0-9]+$", "description": "the event's position in the log"},
        "Cw-Order-Id": _STRING | {"format": "uuid", "description": "the order's id (pushed events)"},
    },
    "required": [Headers.MSG_ID, Headers.POSITION],
}
LAB_OUTPUT_END_HEADERS = {
    "type": "object",
    "properties": {END_HEADER: _STRING | {"const": "1", "description": "the run's output has all been sent"}},
    "required": [END_HEADER],
}
_HEADERS = {
    "ApiRequestHeaders": REQUEST_HEADERS,
    "LabOutputEndHeaders": LAB_OUTPUT_END_HEADERS,
    "ApiReplyHeaders": REPLY_HEADERS,
    "ApiProblemHeaders": PROBLEM_HEADERS,
    "OrderEventHeaders": EVENT_HEADERS,
}


def _key(subject: str) -> str:
    return subject.replace(".", "_")


def _name(ref: dict[str, str]) -> str:
    return ref["$ref"].removeprefix(_REF.format(name=""))


def draft7(schema: Any) -> Any:
    """A msgspec JSON Schema (2020-12) in AsyncAPI's schema dialect (draft-07): a tuple's
    `prefixItems` (with `items: false` for "no more") become draft-07's `items` list (with
    `additionalItems: false`); draft-07 reads `items: false` alone as "no item at all"."""
    if isinstance(schema, list):
        return [draft7(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: draft7(v) for k, v in schema.items()}
    if "prefixItems" in out:
        rest = out.pop("items", True)
        out["items"] = out.pop("prefixItems")
        if rest is not True:
            out["additionalItems"] = rest
    return out


def servers(nats_url: str) -> dict[str, Any]:
    """The AsyncAPI servers of a NATS URL (`nats://host:port`, several comma-separated), without
    credentials."""
    found = {}
    for i, url in enumerate(u.strip() for u in nats_url.split(",") if u.strip()):
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        host = f"{parts.hostname or '127.0.0.1'}:{parts.port or 4222}"
        found["nats" if i == 0 else f"nats{i + 1}"] = {
            "host": host,
            "protocol": "nats",
            "description": "a NATS server machine clients connect to (CW_PUBLIC_NATS_URL, else CW_NATS_URL)",
        }
    return found


def asyncapi(prefix: str, endpoints: list[Endpoint], nats_url: str | None = None) -> dict[str, Any]:
    """The document, for the API under subject prefix `prefix` (with its server when `nats_url`
    is given)."""
    by_name = {wire_name(e): e for e in Order.events}
    order_events = sorted(by_name)
    types: list[Any] = [Problem, EventEnvelope, ServiceStats]
    for e in endpoints:
        types += [e.request, e.reply]
    types += [by_name[n] for n in order_events]
    types = list(dict.fromkeys(types))
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    ref_of: dict[Any, dict[str, str]] = dict(zip(types, refs, strict=True))
    if clash := set(components) & set(_HEADERS):
        raise ValueError(f"a schema is named as a headers schema: {sorted(clash)}")
    schemas = {name: draft7(schema) for name, schema in components.items()} | _HEADERS
    headers = {name: {"$ref": _REF.format(name=name)} for name in _HEADERS}

    messages: dict[str, Any] = {
        "Problem": {
            "name": "Problem",
            "title": "Problem",
            "summary": "The error's problem document (RFC 9457), as over HTTP",
            "contentType": MEDIA_TYPE,
            "headers": headers["ApiProblemHeaders"],
            "payload": ref_of[Problem],
        },
    }
    requests: set[str] = set()
    replies: set[str] = set()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for e in endpoints:
        key = _key(e.subject)
        request, reply = _name(ref_of[e.request]), _name(ref_of[e.reply])
        requests.add(request)
        replies.add(reply)
        messages.setdefault(
            request,
            {
                "name": request,
                "title": e.request.__name__,
                "summary": e.summary,
                "contentType": "application/json",
                "headers": headers["ApiRequestHeaders"],
                "payload": ref_of[e.request],
            },
        )
        messages.setdefault(
            reply,
            {
                "name": reply,
                "title": e.reply.__name__,
                "summary": f"The answer (`{STATUS_HEADER}` 2xx)",
                "contentType": "application/json",
                "headers": headers["ApiReplyHeaders"],
                "payload": ref_of[e.reply],
            },
        )
        channels[key] = {
            "address": api_subject(prefix, e.subject),
            "title": e.subject,
            "description": e.summary,
            "messages": {"request": {"$ref": f"#/components/messages/{request}"}},
        }
        channels[f"{key}_reply"] = {
            "address": None,
            "title": f"{e.subject} reply",
            "description": "The requester's inbox: the NATS reply subject of its request (a client's `request()` "
            "makes one).",
            "messages": {
                "reply": {"$ref": f"#/components/messages/{reply}"},
                "problem": {"$ref": "#/components/messages/Problem"},
            },
        }
        streams = (
            f" With `{OUTPUT_HEADER}`, the run's output goes first to `{LAB_OUTPUT_KEY}`."
            if e.subject == RUN_LAB
            else ""
        )
        operations[key] = {
            "action": "receive",
            "title": e.subject,
            "summary": e.summary,
            "description": f"Answers `{STATUS_HEADER}: {e.status}` and {e.reply.__name__}, or a Problem.{streams}",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/request"}],
            "bindings": {"nats": {"queue": QUEUE_GROUP, "bindingVersion": _NATS_BINDING}},
            "reply": {
                "channel": {"$ref": f"#/channels/{key}_reply"},
                "messages": [
                    {"$ref": f"#/channels/{key}_reply/messages/reply"},
                    {"$ref": f"#/channels/{key}_reply/messages/problem"},
                ],
            },
        }
    if both := requests & replies:
        raise ValueError(f"a schema is both a request and a reply: {sorted(both)}")

    for name in order_events:
        messages[name] = {
            "name": name,
            "title": name,
            "summary": f"An order's {name} event: its envelope, whose `payload` is {by_name[name].__name__}",
            "contentType": "application/json",
            "headers": headers["OrderEventHeaders"],
            "payload": {
                "allOf": [
                    ref_of[EventEnvelope],
                    {
                        "type": "object",
                        "properties": {"event_type": {"const": name}, "payload": ref_of[by_name[name]]},
                    },
                ]
            },
        }
        key = f"event_{name}"
        channels[key] = {
            "address": f"{prefix}.evt.order.{name}",
            "title": f"{name} (JetStream)",
            "description": f"{name} events of every order, on JetStream",
            "messages": {"event": {"$ref": f"#/components/messages/{name}"}},
        }
        operations[key] = _sent(
            key, f"{name} (JetStream)", f"{name} of any order, appended to the log and published", ["event"]
        )
        push = f"push_{name}"
        channels[push] = {
            "address": push_subject(prefix, "{org_id}", name),
            "title": f"{name} (pushed to its organisation)",
            "description": f"{name} events of the organisation's orders, pushed as they happen (at least once: "
            "drop an event id seen before; after a reconnect read the order to catch up). The NATS server's "
            "permissions give a machine client its own organisation's subjects only.",
            "parameters": {"org_id": {"description": "the organisation's id (a UUID)"}},
            "messages": {"event": {"$ref": f"#/components/messages/{name}"}},
        }
        operations[push] = _sent(push, f"{name} (pushed)", f"{name} of one of the organisation's orders", ["event"])
    if any(e.subject == RUN_LAB for e in endpoints):
        _lab_output(channels, operations, messages, headers["LabOutputEndHeaders"])
    messages["ServiceStats"] = {
        "name": "ServiceStats",
        "title": "ServiceStats",
        "summary": "nats.micro's STATS of one service process; each endpoint's `data` is the service's own figures",
        "contentType": "application/json",
        "payload": ref_of[ServiceStats],
    }
    channels[STATS_KEY] = {
        "address": f"$SRV.STATS.{SERVICE}",
        "title": "$SRV.STATS",
        "description": f"nats.micro's stats request (`$SRV.STATS.{SERVICE}.<id>` for one process): every process "
        "answers; the request's body is empty.",
        "messages": {"request": {"payload": {"type": "string", "maxLength": 0}}},
    }
    channels[f"{STATS_KEY}_reply"] = {
        "address": None,
        "title": "$SRV.STATS reply",
        "description": "The requester's inbox.",
        "messages": {"reply": {"$ref": "#/components/messages/ServiceStats"}},
    }
    operations[STATS_KEY] = {
        "action": "receive",
        "title": "$SRV.STATS",
        "summary": "Each process's per-endpoint figures: `data` counts the requests answered, the errors by "
        "status, the last problem, the time from receipt to reply (ns) and the requests in flight",
        "channel": {"$ref": f"#/channels/{STATS_KEY}"},
        "messages": [{"$ref": f"#/channels/{STATS_KEY}/messages/request"}],
        "reply": {
            "channel": {"$ref": f"#/channels/{STATS_KEY}_reply"},
            "messages": [{"$ref": f"#/channels/{STATS_KEY}_reply/messages/reply"}],
        },
    }
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{SERVICE} messaging API",
            "version": VERSION,
            "description": f"Request/reply on `{prefix}.api.{API_VERSION}.>` (nats.micro service `{SERVICE}`, "
            f"queue group `{QUEUE_GROUP}`); each organisation's order events pushed on "
            f"`{push_subject(prefix, '{org_id}', '>')}`.",
        },
        "defaultContentType": "application/json",
    }
    if nats_url:
        document["servers"] = servers(nats_url)
    return document | {
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _lab_output(
    channels: dict[str, Any], operations: dict[str, Any], messages: dict[str, Any], end_headers: dict[str, str]
) -> None:
    """labs.run_lab's output stream: chunks, then the end mark, to the subject the request names."""
    messages["LabOutputChunk"] = {
        "name": "LabOutputChunk",
        "title": "Lab output chunk",
        "summary": "The next bytes the run's process wrote (stdout and stderr as they came), as the sandbox gave "
        "them: not JSON, and a chunk may end inside a UTF-8 character; all chunks together are at most the "
        "lab's output limit, the `output` of the run's reply when it keeps one",
        "contentType": "application/octet-stream",
        "payload": {"type": "string", "minLength": 1},
    }
    messages["LabOutputEnd"] = {
        "name": "LabOutputEnd",
        "title": "Lab output end",
        "summary": f"The run's output has all been sent (empty, with `{END_HEADER}`); the request's reply follows",
        "contentType": "application/octet-stream",
        "headers": end_headers,
        "payload": {"type": "string", "maxLength": 0},
    }
    channels[LAB_OUTPUT_KEY] = {
        "address": None,
        "title": f"{RUN_LAB} output",
        "description": f"The subject a {RUN_LAB} request names in its `{OUTPUT_HEADER}` header (an `_INBOX.` "
        "subject of the requester's: subscribe to it before the request). Without the header nothing is sent "
        "here.",
        "messages": {
            "chunk": {"$ref": "#/components/messages/LabOutputChunk"},
            "end": {"$ref": "#/components/messages/LabOutputEnd"},
        },
    }
    operations[LAB_OUTPUT_KEY] = _sent(
        LAB_OUTPUT_KEY,
        f"{RUN_LAB} output",
        "A run's output as it comes: chunks, in order, then the end mark, before the run's reply",
        ["chunk", "end"],
    )


def subjects(document: dict[str, Any]) -> set[str]:
    """The request subjects a document names (the reply and event channels left out)."""
    return {
        c["address"]
        for key, c in document["channels"].items()
        if c["address"] and not key.startswith(("event_", "push_", STATS_KEY)) and not key.endswith("_reply")
    }


def _sent(channel: str, title: str, summary: str, messages: list[str]) -> dict[str, Any]:
    """The operation of what the service sends on `channel`: those of its messages, in order."""
    return {
        "action": "send",
        "title": title,
        "summary": summary,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in messages],
    }
