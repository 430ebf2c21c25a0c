"""The event catalogue: derived from the declarations, and the docs say what the code does."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.codec import CATALOGUE
from domain.aggregates import AGGREGATES
from domain.course import Course
from infra.eventlog import EventCatalogue, UnknownEventType, wire_name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_published_catalogue_is_the_one_the_code_declares() -> None:
    assert DOCS.read_text() == CATALOGUE.markdown(), "run: python -m commands.eventdocs > docs/events.md"


def test_every_declared_event_is_in_the_catalogue_under_its_wire_name() -> None:
    declared = {wire_name(e) for a in AGGREGATES for e in a.events}
    assert set(CATALOGUE) == declared
    assert wire_name(Course.Created) == "CourseCreated"
    assert CATALOGUE.stream_type("CourseCreated") == "course"


def test_an_unknown_event_type_is_named_in_the_error() -> None:
    with pytest.raises(UnknownEventType, match="NoSuchEvent"):
        CATALOGUE.decode("NoSuchEvent", b"{}")


def test_two_event_types_of_the_same_name_are_refused() -> None:
    with pytest.raises(ValueError, match="CourseCreated"):
        EventCatalogue([Course, Course])
