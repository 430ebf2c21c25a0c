"""The gateway without I/O: the app builds cleanly, errors map to statuses, bodies follow commands."""

from __future__ import annotations

import warnings
from unittest.mock import MagicMock
from uuid import uuid4

import msgspec
import pytest

from commands.errors import PermissionDenied, TooMuchContention
from domain import errors
from domain.identity import EmailTaken, InvalidResetToken
from gateway import app as gateway_app
from gateway.bootstrap import Root
from gateway.dispatch import body, command_of
from gateway.problems import classify
from gateway.services import Services
from infra.errors import RecordRejected, Unavailable
from infra.settings import Settings
from infra.tokens import InvalidToken, TokenReused
from schemas import commands as c
from tests.conftest import make_settings
from tests.ports import make_ports


def services(settings: Settings) -> Services:
    """The gateway's services from a root that was never started: building the app does no I/O."""
    return Root(settings, make_ports()).services()


def test_our_routes_build_without_a_single_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_app, "query_routes", lambda: [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = gateway_app.create_app(services(make_settings("postgresql://nowhere/none")))
    paths = {route.path for route in app.routes}
    assert {"/courses", "/auth/login", "/organisations/{org_id:uuid}/members", "/ready"} <= paths


def test_prod_refuses_the_development_secret() -> None:
    with pytest.raises(RuntimeError, match="CW_JWT_SECRET"):
        gateway_app.create_app(services(make_settings("postgresql://x/y", env="prod")))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidToken("x"), 401),
        (TokenReused("x", MagicMock()), 401),
        (PermissionDenied("x"), 403),
        (errors.SelfApproval("x"), 403),
        (errors.CourseNotFound("x"), 404),
        (EmailTaken("x"), 409),
        (TooMuchContention("x"), 409),
        (errors.InvalidCourse("x"), 422),
        (InvalidResetToken("x"), 422),
        (RecordRejected("x"), 422),
        (Unavailable("postgres"), 503),
        (msgspec.ValidationError("x"), 400),
        (ValueError("x"), 500),
    ],
)
def test_each_error_family_has_one_status(error: Exception, status: int) -> None:
    assert classify(error)[0] == status


def test_contention_and_outages_say_when_to_retry() -> None:
    assert classify(TooMuchContention("x"))[2]["Retry-After"] == "1"
    assert classify(Unavailable("nats"))[1:] == ("nats_unavailable", {"Retry-After": "5"})


def test_a_body_is_its_command_less_the_path() -> None:
    AddLesson = body(c.AddLesson, "course_id", "module_id")
    fields = {f.name for f in msgspec.structs.fields(AddLesson)}
    assert fields == {"title", "duration_minutes", "lesson_id", "index"}
    data = msgspec.json.decode(b'{"title": "Checks"}', type=AddLesson)
    cmd = command_of(c.AddLesson, data, course_id=uuid4(), module_id=uuid4())
    assert isinstance(cmd, c.AddLesson) and cmd.duration_minutes == 15
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"title": "x", "course_id": "00000000-0000-0000-0000-000000000000"}', type=AddLesson)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"title": ""}', type=AddLesson)
