"""The messaging API's AsyncAPI document as third-party tooling reads it: valid against the
official AsyncAPI 3.0.0 JSON Schema, every `$ref` resolving, payload schemas in AsyncAPI's
dialect (draft-07), and values of the API fitting them. A deliberately broken copy is refused."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.messaging.asyncapi import LAB_OUTPUT_KEY, STATS_KEY, asyncapi, draft7, servers
from gateway.messaging.endpoints import endpoints
from gateway.messaging.service import EndpointData, Tally
from gateway.problems import Problem
from labrunner.service import END_HEADER
from schemas.commands import SealLog
from schemas.results import CommandResult
from tests.asyncapi_spec import dangling_refs, resolve, spec_errors, value_errors


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi("cw", endpoints(), "nats://user:secret@nats-1:4222, nats://nats-2")


def test_the_document_is_valid_asyncapi_3_0_0(document: dict[str, Any]) -> None:
    assert spec_errors(document) == []
    assert dangling_refs(document) == []


def test_each_request_operation_names_its_request_and_its_replies(document: dict[str, Any]) -> None:
    for key, operation in document["operations"].items():
        channel = resolve(document, operation["channel"]["$ref"])
        for message in operation["messages"]:  # a subset of its channel's, as the specification wants
            assert message["$ref"].startswith(operation["channel"]["$ref"] + "/messages/"), key
        if operation["action"] == "receive" and key != STATS_KEY:
            reply = operation["reply"]
            assert resolve(document, reply["channel"]["$ref"])["address"] is None  # the requester's inbox
            names = {resolve(document, resolve(document, m["$ref"])["$ref"])["name"] for m in reply["messages"]}
            assert "Problem" in names and len(names) == 2, key
            assert channel["address"].startswith("cw.api.v1.")
            assert operation["bindings"]["nats"]["queue"] == "cw-api"


def test_the_stats_request_and_its_endpoint_data_are_documented(document: dict[str, Any]) -> None:
    operation = document["operations"][STATS_KEY]
    assert resolve(document, operation["channel"]["$ref"])["address"] == "$SRV.STATS.coursewright"
    (reply,) = operation["reply"]["messages"]
    payload = resolve(document, resolve(document, resolve(document, reply["$ref"])["$ref"])["payload"]["$ref"])
    endpoint = resolve(document, payload["properties"]["endpoints"]["items"]["$ref"])
    (data,) = (s for s in endpoint["properties"]["data"]["anyOf"] if "$ref" in s)
    fields = resolve(document, data["$ref"])["properties"]
    assert set(fields) == set(EndpointData.__struct_fields__)
    assert all(f.get("description") for f in fields.values())  # each field says what it counts
    figures = msgspec.to_builtins(Tally().data())
    assert value_errors(document, "#/components/schemas/EndpointData", figures) == []
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert [f for f in fields if f"`{f}`" not in readme] == []  # the README names each field too


def test_the_lab_run_output_stream_is_a_channel(document: dict[str, Any]) -> None:
    """labs.run_lab's `Cw-Output-Subject` stream: raw output chunks, then the empty end mark."""
    operation = document["operations"][LAB_OUTPUT_KEY]
    assert operation["action"] == "send"
    channel = resolve(document, operation["channel"]["$ref"])
    assert channel["address"] is None and "Cw-Output-Subject" in channel["description"]
    messages = {m: resolve(document, ref["$ref"]) for m, ref in channel["messages"].items()}
    names = [resolve(document, resolve(document, r["$ref"])["$ref"])["name"] for r in operation["messages"]]
    assert names == ["LabOutputChunk", "LabOutputEnd"]
    chunk, end = "#/components/messages/LabOutputChunk", "#/components/messages/LabOutputEnd"
    assert value_errors(document, f"{chunk}/payload", "3\n4\n") == []
    assert value_errors(document, f"{end}/payload", "") == []
    assert value_errors(document, f"{end}/headers", {END_HEADER: "1"}) == []
    assert value_errors(document, f"{end}/headers", {}) != []  # the end mark is its header
    assert messages["chunk"]["contentType"] == "application/octet-stream"  # the process's bytes, not JSON
    run_lab = document["operations"]["labs_run_lab"]
    assert LAB_OUTPUT_KEY in run_lab["description"]
    assert "Cw-Output-Subject" in resolve(document, "#/components/schemas/ApiRequestHeaders")["properties"]


def test_the_servers_are_nats_without_credentials(document: dict[str, Any]) -> None:
    assert document["servers"] == servers("nats://user:secret@nats-1:4222, nats://nats-2")
    assert [(s["host"], s["protocol"]) for s in document["servers"].values()] == [
        ("nats-1:4222", "nats"),
        ("nats-2:4222", "nats"),
    ]
    assert "user:secret" not in json.dumps(document) and "servers" not in asyncapi("cw", endpoints())


def test_a_tuple_is_a_draft_7_tuple(document: dict[str, Any]) -> None:
    """msgspec writes 2020-12's `prefixItems` + `items: false`; draft-07 (AsyncAPI's dialect)
    ignores `prefixItems` and reads `items: false` as "no item": a seal's heads could not be sent."""
    assert "prefixItems" not in str(document)
    heads = document["components"]["schemas"]["SealLog"]["properties"]["heads"]["items"]
    assert heads["additionalItems"] is False and len(heads["items"]) == 4
    assert draft7({"prefixItems": [{"type": "string"}]}) == {"items": [{"type": "string"}]}
    seal = SealLog(
        sequence=1, first_position=1, last_position=2, root="r", previous="p", heads=[(str(uuid.uuid4()), 1, 2, "h")],
        public_key="k", signature="s", digest="d",
    )  # fmt: skip
    message = "#/components/messages/SealLog/payload"
    assert value_errors(document, message, msgspec.json.decode(msgspec.json.encode(seal))) == []
    too_long = msgspec.json.decode(msgspec.json.encode(seal)) | {"heads": [["s", 1, 2, "h", "more"]]}
    assert value_errors(document, message, too_long) != []


def test_replies_and_events_fit_their_documented_schemas(document: dict[str, Any]) -> None:
    result = CommandResult(id=uuid.uuid4(), kind="order", version=1, position=7)
    reply = "#/components/messages/CommandResult"
    assert value_errors(document, reply + "/payload", msgspec.to_builtins(result)) == []
    assert value_errors(document, reply + "/headers", {"Cw-Status": "202", "Content-Type": "application/json"}) == []
    problem = Problem(title="Conflict", status=409, code="order_not_cancellable", detail="no")
    headers = {"Cw-Status": "409", "Nats-Service-Error": "no", "Nats-Service-Error-Code": "409"}
    assert value_errors(document, "#/components/messages/Problem/payload", msgspec.to_builtins(problem)) == []
    assert value_errors(document, "#/components/messages/Problem/headers", headers) == []
    wrong = headers | {"Nats-Service-Error-Code": "order_not_cancellable"}  # what nats.js would read as 400
    assert value_errors(document, "#/components/messages/Problem/headers", wrong) != []
    event = document["components"]["messages"]["OrderPlaced"]["payload"]
    assert event["allOf"][1]["properties"]["payload"] == {"$ref": "#/components/schemas/Placed"}


def _wrong_action(d: dict[str, Any]) -> None:
    d["operations"]["orders_place"]["action"] = "reply"


def _wrong_type(d: dict[str, Any]) -> None:
    d["components"]["schemas"]["PlaceOrder"]["properties"]["title"]["type"] = "text"


def _openapi_discriminator(d: dict[str, Any]) -> None:
    d["components"]["schemas"]["Problem"]["discriminator"] = {"propertyName": "code"}


def _channel_without_address_key(d: dict[str, Any]) -> None:
    d["channels"]["orders_place"]["adress"] = d["channels"]["orders_place"].pop("address")


def _json_schema_defs(d: dict[str, Any]) -> None:
    d["channels"]["orders_place"]["messages"]["request"] = {"$ref": "#/$defs/PlaceOrder"}


def _reply_to_a_missing_channel(d: dict[str, Any]) -> None:
    d["operations"]["orders_place"]["reply"]["channel"] = {"$ref": "#/channels/orders_place_answer"}


@pytest.mark.parametrize(
    "breaks",
    [_wrong_action, _wrong_type, _openapi_discriminator, _channel_without_address_key],
)
def test_a_document_breaking_the_specification_is_refused(
    document: dict[str, Any], breaks: Callable[[dict[str, Any]], None]
) -> None:
    broken = copy.deepcopy(document)
    breaks(broken)
    assert spec_errors(broken) != []


@pytest.mark.parametrize("breaks", [_json_schema_defs, _reply_to_a_missing_channel])
def test_a_reference_to_nothing_is_refused(document: dict[str, Any], breaks: Callable[[dict[str, Any]], None]) -> None:
    broken = copy.deepcopy(document)
    breaks(broken)
    assert len(dangling_refs(broken)) == 1
