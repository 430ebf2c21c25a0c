"""Command payloads are validated by msgspec before any handler runs; errors name the field."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.routes import ROUTES
from schemas import commands as c


def decode(cls: type[c.Command], raw: bytes) -> c.Command:
    return msgspec.json.decode(raw, type=cls)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"title": "", "cefr_level": "B1", "category": "x"}', "$.title"),
        (b'{"title": "T", "cefr_level": "D9", "category": "x"}', "$.cefr_level"),
        (b'{"title": "T", "cefr_level": "B1", "category": "x", "capacity": 0}', "$.capacity"),
        (b'{"title": "T", "cefr_level": "B1", "category": "x", "course_id": "nope"}', "$.course_id"),
        (b'{"title": "T", "cefr_level": "B1", "category": "x", "colour": "red"}', "colour"),
        (b'{"title": 5, "cefr_level": "B1", "category": "x"}', "$.title"),
    ],
)
def test_bad_create_course_payload_names_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        decode(c.CreateCourse, raw)
    assert field in str(info.value)


def test_missing_required_field_is_named() -> None:
    with pytest.raises(msgspec.ValidationError, match="cefr_level"):
        decode(c.CreateCourse, b'{"title": "T", "category": "x"}')


def test_malformed_json_is_a_decode_error_not_a_crash() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode(c.CreateCourse, b'{"title": ')


def test_quiz_answers_out_of_range_are_refused() -> None:
    raw = (
        b'{"course_id": "7b0e1c52-7d0e-4c39-9a55-2f3d1d5c9a10", "lesson_id":'
        b' "7b0e1c52-7d0e-4c39-9a55-2f3d1d5c9a11", "assessment_id": "q", "answers": {"a": [99]}}'
    )
    with pytest.raises(msgspec.ValidationError, match=r"answers"):
        decode(c.SubmitQuiz, raw)


@given(st.binary(max_size=200))
def test_any_bytes_either_decode_or_raise_a_msgspec_error(raw: bytes) -> None:
    for cls in ROUTES:
        try:
            decode(cls, raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass


def test_every_routed_command_has_a_json_schema() -> None:
    schemas, _ = msgspec.json.schema_components(list(ROUTES))
    assert len(schemas) == len(ROUTES)
