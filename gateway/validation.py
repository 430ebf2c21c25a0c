"""Every problem of a JSON request body at once, each with its JSON pointer (RFC 6901).

msgspec stops at the first invalid field; a client fixing a form wants them all. When a body
fails, it is checked again field by field against the same declaration, so the messages are
msgspec's own and cannot drift from the validation that refused the body.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request
from litestar.utils.scope.state import ScopeState

BODY_REQUIRED = "a JSON body is required"
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_STEP = re.compile(r"\.(?P<name>[^.\[]+)|\[(?P<index>\d+)\]")
_PARAM = re.compile(r"\{(?P<name>\w+):(?P<kind>\w+)\}")
_PARSERS = {"uuid": "a UUID", "int": "an integer"}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _located(message: str, pointer: str) -> dict[str, str]:
    """msgspec's message of a value at `pointer`, its own `- at $...` path joined to the pointer."""
    found = _AT.search(message)
    if found is None:
        return {"pointer": pointer, "detail": message}
    steps = [m["name"] if m["name"] is not None else m["index"] for m in _STEP.finditer(found["path"])]
    return {"pointer": pointer + "".join(f"/{_escape(s)}" for s in steps), "detail": message[: found.start()]}


def body_problems(declared: type[msgspec.Struct], raw: bytes) -> list[dict[str, str]]:
    """The problems of `raw` as a body of `declared`: one for an empty or non-JSON body, else one
    per missing, unknown or invalid field; empty when the body is valid."""
    if not raw.strip():
        return [{"pointer": "", "detail": BODY_REQUIRED}]
    try:
        value: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        return [{"pointer": "", "detail": f"the body is not JSON: {e}"}]
    if not isinstance(value, dict):
        return [{"pointer": "", "detail": "the body must be a JSON object"}]
    fields = {f.encode_name: f for f in msgspec.structs.fields(declared)}
    problems: list[dict[str, str]] = []
    for name, field in fields.items():
        pointer = f"/{_escape(name)}"
        if name not in value:
            if field.required:
                problems.append({"pointer": pointer, "detail": "a required field is missing"})
            continue
        try:
            msgspec.json.decode(msgspec.json.encode(value[name]), type=field.type)
        except msgspec.ValidationError as e:
            problems.append(_located(str(e), pointer))
    if declared.__struct_config__.forbid_unknown_fields:
        problems += [{"pointer": f"/{_escape(k)}", "detail": "unknown field"} for k in value if k not in fields]
    if not problems:  # valid field by field, refused as a whole (e.g. __post_init__)
        try:
            msgspec.json.decode(raw, type=declared)
        except msgspec.ValidationError as e:
            problems.append(_located(str(e), ""))
    return problems


def request_body_problems(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    """The body's problems when the route takes a JSON body declared as a Struct, else none."""
    handler = request.scope.get("route_handler")
    data = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    declared = data.annotation if data is not None else None
    if not (isinstance(declared, type) and issubclass(declared, msgspec.Struct)):
        return []
    raw = ScopeState.from_scope(request.scope).body  # what the failed parse read
    return body_problems(declared, raw if isinstance(raw, bytes) else b"")


@functools.lru_cache(maxsize=4)
def _templates(paths: tuple[str, ...]) -> list[re.Pattern[str]]:
    """Each route path as a pattern that takes any segment where the route takes a typed one."""
    patterns = []
    for path in paths:
        parts, last = [], 0
        for m in _PARAM.finditer(path):
            parts += [re.escape(path[last : m.start()]), f"(?P<{m['name']}__{m['kind']}>[^/]+)"]
            last = m.end()
        parts.append(re.escape(path[last:]))
        patterns.append(re.compile("".join(parts) + "/?"))
    return patterns


def malformed_path(route_paths: Iterable[str], path: str) -> str | None:
    """Why no route matched `path` when one would have but for a malformed typed parameter (an
    id that is not a UUID, a version that is not an integer); None when no route is near."""
    for pattern in _templates(tuple(sorted(route_paths))):
        found = pattern.fullmatch(path)
        if found is None:
            continue
        for group, value in found.groupdict().items():
            name, kind = group.rsplit("__", 1)
            if kind in _PARSERS and not _parses(kind, value):
                return f"{name} {value!r} is malformed: it must be {_PARSERS[kind]}"
    return None


def _parses(kind: str, value: str) -> bool:
    if kind == "int":
        return value.lstrip("-").isdigit()
    try:
        UUID(value)
    except ValueError:
        return False
    return True
