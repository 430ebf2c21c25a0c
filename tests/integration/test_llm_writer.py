"""The litellm path against an OpenAI-compatible server the test starts: prompt, JSON
validation with retry, citations mapped to exact spans, grounding applied."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from genpipeline.chunking import Chunker
from genpipeline.drafting.draft import LessonPlan
from genpipeline.drafting.llm_writer import InvalidReply, LlmWriter
from genpipeline.extraction import every_format
from infra.errors import Unavailable
from infra.llm import LiteLlmChatModel
from tests.openai_server import OpenAiServer

SOP = b"""3.2 Cold store entry
3.2.1 Wear the insulated jacket and gloves before you enter the cold store.
3.2.2 Never stay inside for more than 20 minutes at a time.
3.2.3 The Shift Lead must check the door alarm every morning before 07:00.
"""


@pytest.fixture
async def server() -> AsyncIterator[OpenAiServer]:
    made = OpenAiServer()
    await made.start()
    yield made
    await made.stop()


def _lesson_inputs() -> tuple[LessonPlan, list]:  # type: ignore[type-arg]
    doc = every_format(None).extract("cold.txt", SOP)
    chunks = Chunker().chunks(doc)
    plan = LessonPlan("Cold store entry", "3.2", tuple(c.key for c in chunks), "cold store entry")
    return plan, chunks


async def test_a_lesson_through_litellm_is_cited_and_grounded(server: OpenAiServer) -> None:
    model = LiteLlmChatModel("openai/test-model", api_base=f"http://127.0.0.1:{server.port}/v1", api_key="test")
    plan, chunks = _lesson_inputs()
    lesson = await LlmWriter(model).write(plan, chunks, "A2")
    assert len(server.requests) == 2  # broken JSON first, then the retry with the error
    assert "not valid" in server.requests[1]["messages"][-1]["content"]
    assert "Cold store entry" in server.requests[0]["messages"][1]["content"]
    texts = [s.text for s in lesson.explanation]
    assert "Never stay inside for more than 20 minutes at a time." in " ".join(texts)
    doc_text = every_format(None).extract("cold.txt", SOP).text
    for _, citations in lesson.items():
        assert citations
        for c in citations:
            assert doc_text[c.start : c.end] == c.quote
    assert len(lesson.quiz) == 1  # the question whose answer index is out of range is refused
    assert lesson.cefr_target == "A2" and lesson.cefr_measured


async def test_a_model_that_never_answers_valid_json_fails_clearly() -> None:
    bad = OpenAiServer(always_invalid=True)
    base = await bad.start()
    try:
        plan, chunks = _lesson_inputs()
        with pytest.raises(InvalidReply, match="3 attempts"):
            await LlmWriter(LiteLlmChatModel("openai/x", api_base=base, api_key="k")).write(plan, chunks, "B1")
        assert len(bad.requests) == 3
    finally:
        await bad.stop()


async def test_an_unreachable_model_is_unavailable() -> None:
    plan, chunks = _lesson_inputs()
    model = LiteLlmChatModel("openai/x", api_base="http://127.0.0.1:9/v1", api_key="k", timeout=5)
    with pytest.raises(Unavailable):
        await LlmWriter(model).write(plan, chunks, "B1")
