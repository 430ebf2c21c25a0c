"""Log lines never carry a secret, whatever a caller passed."""

from __future__ import annotations

import logging

import structlog
from structlog.testing import capture_logs

from infra.logging import REDACTED, configure_logging, get_logger, redact_secrets, shared_processors


def test_secret_named_keys_are_redacted_at_any_depth_and_the_rest_kept() -> None:
    line = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "token": "t1",
            "new_password": "p1",
            "refresh_token": "t2",
            "API_KEY": "k1",
            "authorization": "Bearer t3",
            "passed": True,
            "headers": {"cookie": "c1", "accept": "application/json"},
            "error": "postgresql://app:hunter2@db:5432/cw refused",
            "count": 3,
        },
    )
    assert line == {
        "event": "x",
        "token": REDACTED,
        "new_password": REDACTED,
        "refresh_token": REDACTED,
        "API_KEY": REDACTED,
        "authorization": REDACTED,
        "passed": True,
        "headers": {"cookie": REDACTED, "accept": "application/json"},
        "error": "postgresql://app:***@db:5432/cw refused",
        "count": 3,
    }


def test_every_line_goes_through_the_redaction() -> None:
    with capture_logs(processors=shared_processors()) as lines:
        get_logger("test").warning("auth.oops", password="hunter2", user="ada")
    assert lines[0]["password"] == REDACTED and lines[0]["user"] == "ada"


def test_a_pools_retries_are_not_a_warning_each() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        assert not logging.getLogger("psycopg.pool").isEnabledFor(logging.WARNING)
        assert logging.getLogger("psycopg.pool").isEnabledFor(logging.ERROR)
        assert logging.getLogger("psycopg").isEnabledFor(logging.WARNING)
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level
        logging.getLogger("psycopg.pool").setLevel(logging.NOTSET)
