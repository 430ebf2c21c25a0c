"""structlog setup: JSON in production, console in dev; correlation id on every line; no secret
on any line."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import msgspec
import structlog
from structlog.contextvars import bind_contextvars, merge_contextvars, reset_contextvars

__all__ = [
    "bind_contextvars",
    "bound_contextvars",
    "configure_logging",
    "get_logger",
    "redact_secrets",
    "shared_processors",
]

REDACTED = "[redacted]"
# A key naming a secret: passwords, tokens of every kind, API keys, signing keys, credentials.
_SECRET_KEY = re.compile(r"passw(or)?d|passphrase|token|secret|api_?key|authori[sz]ation|credential|cookie", re.I)
_verdicts: dict[str, bool] = {}  # key -> names a secret; the keys are the code's, so few
# The password of a URL (a DSN in an error message): scheme://user:PASSWORD@host.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class bound_contextvars:
    """Bind `values` to the log context for the block, then restore what was there.

    structlog's own `bound_contextvars` copies the whole context to remember it; resetting the
    tokens `bind_contextvars` returns restores the same values for a fraction of the cost (this
    runs for every command). A class, not a generator: entering and leaving cost less.
    """

    __slots__ = ("tokens", "values")

    def __init__(self, **values: Any) -> None:
        self.values = values

    def __enter__(self) -> None:
        self.tokens = bind_contextvars(**self.values)

    def __exit__(self, *_: object) -> None:
        reset_contextvars(**self.tokens)


def _ensure_correlation(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # A line outside any request or event still names the field, so queries never miss it.
    event_dict.setdefault("correlation_id", None)
    return event_dict


def _is_secret(key: str) -> bool:
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = _verdicts[key] = _SECRET_KEY.search(key) is not None
    return verdict


def _redacted(values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if _is_secret(key):
            values[key] = REDACTED
        elif isinstance(value, str):
            if "://" in value:
                values[key] = _URL_PASSWORD.sub(r"\1***@", value)
        elif isinstance(value, dict):
            values[key] = _redacted(dict(value))
    return values


def redact_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Replace the value of every key that names a secret (at any depth) with `[redacted]`, and
    the password of any URL with `***`: a secret logged by mistake never reaches the output."""
    return _redacted(event_dict)


def _json_line(event_dict: dict[str, Any], default: Any = None) -> bytes:
    """One JSON object; anything msgspec cannot encode is written as its repr."""
    return msgspec.json.encode(event_dict, enc_hook=default or repr)


def _json_text(event_dict: dict[str, Any], default: Any = None) -> str:
    return _json_line(event_dict, default).decode()


def shared_processors() -> list[Any]:
    """What every line goes through before it is rendered, ours and the standard library's."""
    return [
        merge_contextvars,
        redact_secrets,
        _ensure_correlation,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


# Libraries that warn once per retry about an outage infra.availability reports once per outage
# (psycopg's pool: every failed reconnection and discarded connection): heard from at ERROR only.
RETRYING_LIBRARIES = ("psycopg.pool",)


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Configure structlog and route stdlib logging through it."""
    shared = shared_processors()
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # JSON lines are bytes from msgspec, written as they are (structlog's fast path).
        logger_factory=(
            structlog.BytesLoggerFactory(sys.stderr.buffer) if json else structlog.PrintLoggerFactory(sys.stderr)
        ),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=_json_text) if json else renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in RETRYING_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.ERROR, root.level))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
