"""Hypothesis strategies: any value of a declared event type, and valid lesson content."""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints
from uuid import UUID

from hypothesis import strategies as st

from domain.content import Assessment, Exercise, LessonContent, Material, Question

TIMEZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])


@functools.cache
def of_type(tp: Any) -> st.SearchStrategy[Any]:
    """Any value of a type as events declare them: scalars, unions, tuples, dicts, dataclasses."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers()
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(max_size=30)
    if tp is bytes:
        return st.binary(max_size=30)
    if tp is UUID:
        return st.uuids()
    if tp is datetime:
        # JSON offsets carry whole minutes: the only ones an event can hold after a round trip.
        return st.datetimes(timezones=TIMEZONES)
    if tp is date:
        return st.dates()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(tp)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, types.UnionType):
        return st.one_of([of_type(a) for a in args])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(of_type(args[0]), max_size=3).map(tuple)
        return st.tuples(*(of_type(a) for a in args))
    if origin in (list, set, frozenset):
        return st.lists(of_type(args[0]), max_size=3).map(origin)
    if origin is dict:
        return st.dictionaries(of_type(args[0]), of_type(args[1]), max_size=3)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp)
        fields = {f.name: of_type(hints[f.name]) for f in dataclasses.fields(tp) if f.init}
        return st.builds(tp, **fields)
    raise TypeError(f"no strategy for {tp!r}: teach tests/unit/strategies.py this type")


# -- valid lesson content (also within the wire schema's limits) -----------------------------

titles = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
words = st.text(max_size=60)


@st.composite
def questions(draw: st.DrawFn, qid: str) -> Question:
    n = draw(st.integers(2, 5))
    correct = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    return Question(
        id=qid,
        prompt=draw(words),
        options=tuple(draw(st.lists(words, min_size=n, max_size=n))),
        correct=tuple(correct),
        points=draw(st.integers(1, 5)),
    )


@st.composite
def assessments(draw: st.DrawFn, aid: str | None = None) -> Assessment:
    qids = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=4, unique=True))
    return Assessment(
        id=aid if aid is not None else draw(st.text("xyz123", min_size=1, max_size=4)),
        title=draw(titles),
        questions=tuple(draw(questions(q)) for q in qids),
        pass_mark=draw(st.sampled_from([0.25, 0.5, 0.7, 1.0]) | st.floats(0.01, 1.0)),
        max_attempts=draw(st.none() | st.integers(1, 3)),
    )


materials = st.builds(
    Material,
    kind=st.sampled_from(["text", "video", "link", "file", "code"]),
    title=titles,
    body=words,
    url=st.sampled_from(["", "https://example.org/a"]),
)
exercises = st.builds(Exercise, prompt=words, answer=words, hints=st.lists(words, max_size=2).map(tuple))


@st.composite
def contents(draw: st.DrawFn) -> LessonContent:
    """A document `LessonContent.validate` accepts."""
    quizzes = draw(st.lists(assessments(), max_size=2, unique_by=lambda a: a.id))
    content = LessonContent(
        objectives=tuple(draw(st.lists(words, max_size=3))),
        materials=tuple(draw(st.lists(materials, max_size=3))),
        exercises=tuple(draw(st.lists(exercises, max_size=2))),
        assessments=tuple(quizzes),
    )
    if not (content.objectives or content.materials or content.exercises or content.assessments):
        content = dataclasses.replace(content, objectives=("Understand the topic",))
    return content
