"""schemathesis over /schema against the running gateway: no 5xx, no answer that breaks the schema.

Bounded: a few examples per operation, generation only (no shrinking database), so the run stays
within seconds on two cores.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.settings import Settings
from tests.integration.docker_support import docker_url
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS

__all__ = ["docker_url"]
pytestmark = QUERIES_DEPRECATIONS
EXAMPLES = 6
# The command side, identity and probes; the read side (gateway.queries) is issue 4's to fuzz.
OURS = {"auth", "users", "organisations", "courses", "reviews", "enrollments", "cohorts", "paths", "system"}
# These end the fuzzer's own sign-in when an example succeeds, so hypothesis's replay of any
# later example meets a revoked token ("inconsistent results"). They are fuzzed without a token
# below, and their behaviour is tested in tests/integration/test_gateway_identity.py.
ENDS_THE_SIGN_IN = {"POST /auth/password", "POST /auth/logout"}


def _no_future_position(case: Any) -> None:
    """A query's `?position=` beyond the log waits (bounded) and then answers 503 by design
    (`ProjectionBehind`, tested in tests/e2e/test_queries_http.py): the fuzzer leaves it out."""
    if case.query:
        case.query.pop("position", None)


class Server:
    """The gateway in a child process, signed in as an org admin who is also platform admin.

    A process, not a thread: CPython 3.11's AST constructor keeps its recursion depth in state
    shared by all threads, so hypothesis's `ast.parse` here beside the server's own work in a
    thread fails now and then with "AST constructor recursion depth mismatch" (cpython#106905).
    """

    def __init__(self, settings: Settings, docker_url: str) -> None:
        self.settings = settings
        self.docker_url = docker_url
        self.headers: dict[str, str] = {}
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Server:
        s = self.settings
        args = [s.pg_dsn, s.subject_prefix, s.events_stream, self.docker_url]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.fuzz_server", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # the child's first line: where it listens, who we are
        if not line:
            raise RuntimeError(f"the gateway process ended (exit {self._proc.wait(30)})")
        ready = json.loads(line)
        self.url, self.headers = ready["url"], ready["headers"]
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # the child stops when its stdin ends
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)


def _explain(error: BaseException) -> str:
    """The failure and, for hypothesis's "inconsistent results", the first run's own failure."""
    lines = [str(error)[:600]]
    for sub in getattr(error, "exceptions", ()):
        lines.append("  first run: " + "".join(traceback.format_exception(sub))[-1500:])
    return "\n".join(lines)


@pytest.fixture
def server(settings: Settings, docker_url: str) -> Iterator[Server]:
    with Server(settings, docker_url) as s:
        yield s


def test_no_server_errors_and_no_schema_breaking_answers(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not OURS & set(operation.definition.raw.get("tags", [])):
            continue
        if operation.label in ENDS_THE_SIGN_IN:
            continue
        operations += 1

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            _no_future_position(case)
            case.call_and_validate(base_url=server.url, headers=server.headers, checks=checks)

        try:
            exercise()
        except Exception as e:
            failures.append(f"{operation.label}: {_explain(e)}")
    assert operations >= 40
    assert not failures, "\n\n".join(failures)


def test_anonymous_callers_get_problems_not_errors(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not OURS & set(operation.definition.raw.get("tags", [])):
            continue

        @hypothesis.settings(
            max_examples=2,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            _no_future_position(case)
            case.call_and_validate(base_url=server.url, checks=[not_a_server_error, status_code_conformance])

        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            try:
                exercise()
            except AssertionError as e:
                failures.append(f"{operation.label}: {_explain(e)}")
            except Exception as e:
                failures.append(f"{operation.label}: {type(e).__name__} {_explain(e)}")
    assert not failures, "\n\n".join(failures)
