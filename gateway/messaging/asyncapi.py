"""The messaging API's AsyncAPI 3 document, generated from the endpoints and their msgspec
schemas (requests, replies, the problem document) and the order events the API documents."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.order import Order
from gateway.messaging.push import push_subject
from gateway.messaging.service import API_VERSION, QUEUE_GROUP, SERVICE, STATUS_HEADER, VERSION, Endpoint, api_subject
from gateway.problems import Problem
from infra.eventlog.catalogue import wire_name
from schemas.envelope import EventEnvelope

_REF = "#/components/schemas/{name}"


def _key(subject: str) -> str:
    return subject.replace(".", "_")


def asyncapi(prefix: str, endpoints: list[Endpoint]) -> dict[str, Any]:
    """The document, for the API under subject prefix `prefix`."""
    types: list[Any] = [Problem, EventEnvelope]
    for e in endpoints:
        types += [e.request, e.reply]
    by_name = {wire_name(e): e for e in Order.events}
    order_events = sorted(by_name)
    types += [by_name[n] for n in order_events]
    _, components = msgspec.json.schema_components(list(dict.fromkeys(types)), ref_template=_REF)
    headers = {
        "type": "object",
        "properties": {
            "Authorization": {"type": "string", "description": "Bearer <access token>"},
            "Idempotency-Key": {
                "type": "string",
                "description": "the same request again gets the first answer; another body, subject or caller gets 422",
            },
            "Cw-Request-Id": {"type": "string", "description": "correlation id (one is made when absent)"},
        },
    }
    reply_headers = {
        "type": "object",
        "properties": {
            STATUS_HEADER: {"type": "string", "description": "the HTTP status the same answer would have"},
            "Nats-Service-Error-Code": {"type": "string", "description": "the status again, on errors (nats.micro)"},
        },
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {
        "Problem": {
            "name": "Problem",
            "contentType": "application/problem+json",
            "headers": reply_headers,
            "payload": {"$ref": _REF.format(name="Problem")},
        },
    }
    for e in endpoints:
        key = _key(e.subject)
        for schema, schema_headers in ((e.request, headers), (e.reply, reply_headers)):
            ref = {"$ref": _REF.format(name=schema.__name__)}
            messages.setdefault(schema.__name__, {"name": schema.__name__, "headers": schema_headers, "payload": ref})
        channels[key] = {
            "address": api_subject(prefix, e.subject),
            "description": e.summary,
            "messages": {"request": {"$ref": f"#/components/messages/{e.request.__name__}"}},
        }
        channels[key + "_reply"] = {
            "address": None,  # the requester's inbox
            "messages": {
                "reply": {"$ref": f"#/components/messages/{e.reply.__name__}"},
                "problem": {"$ref": "#/components/messages/Problem"},
            },
        }
        operations[key] = {
            "action": "receive",
            "summary": e.summary,
            "channel": {"$ref": f"#/channels/{key}"},
            "bindings": {"nats": {"queue": QUEUE_GROUP}},
            "reply": {
                "address": {"location": "$message.header#/reply_to"},
                "channel": {"$ref": f"#/channels/{key}_reply"},
            },
        }
    for name in order_events:
        key = f"event_{name}"
        messages[name] = {"name": name, "payload": {"$ref": _REF.format(name="EventEnvelope")}, "summary": name}
        channels[key] = {
            "address": f"{prefix}.evt.order.{name}",
            "description": f"{name} events of every order (JetStream); the payload's `payload` is {name}",
            "messages": {"event": {"$ref": f"#/components/messages/{name}"}},
        }
        operations[key] = {"action": "send", "channel": {"$ref": f"#/channels/{key}"}}
        push = f"push_{name}"
        channels[push] = {
            "address": push_subject(prefix, "{org_id}", name),
            "description": f"{name} events of the organisation's orders, pushed as they happen (at least once: "
            "drop an event id seen before; after a reconnect read the order to catch up). The NATS server's "
            "permissions give a machine client its own organisation's subjects only.",
            "parameters": {"org_id": {"description": "the organisation's id (a UUID)"}},
            "messages": {"event": {"$ref": f"#/components/messages/{name}"}},
        }
        operations[push] = {
            "action": "send",
            "summary": f"{name} of one of the organisation's orders",
            "channel": {"$ref": f"#/channels/{push}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{SERVICE} messaging API",
            "version": VERSION,
            "description": f"Request/reply on {prefix}.api.{API_VERSION}.> (nats.micro service {SERVICE!r}); "
            f"each organisation's order events pushed on {push_subject(prefix, '{org_id}', '>')}.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": components,
            "messages": messages,
            "messageTraits": {"reply": {"headers": reply_headers}},
        },
    }


def subjects(document: dict[str, Any]) -> set[str]:
    """The request subjects a document names (the reply and event channels left out)."""
    return {
        c["address"]
        for key, c in document["channels"].items()
        if c["address"] and not key.startswith(("event_", "push_")) and not key.endswith("_reply")
    }
