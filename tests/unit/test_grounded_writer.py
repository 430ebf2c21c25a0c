"""The offline writer: a whole lesson from an SOP section, every item cited and supported."""

from __future__ import annotations

from genpipeline.chunking import Chunker
from genpipeline.drafting import grounding
from genpipeline.drafting.grounded import GroundedWriter
from genpipeline.drafting.outline import plan_outline
from genpipeline.extraction import every_format

SOP = b"""1 PURPOSE
This procedure describes how the lab handles samples.
4 DEFINITIONS
Chain of custody | The signed record of everyone who held a sample, with times.
5 RECEIVING SAMPLES
5.1 Check the seal of every sample bag before you sign the chain of custody form.
5.2 Never open a bag whose seal is broken; report it to the Duty Chemist within 15 minutes.
5.3 Store blood samples at 4 degrees and process them within 48 hours of collection.
5.4 Label each tube with the sample number; do not write the patient's name on it.
"""


async def _lesson(level: str, feedback: str = ""):  # type: ignore[no-untyped-def]
    doc = every_format(None).extract("lab.txt", SOP)
    chunks = Chunker().chunks(doc)
    outline = plan_outline("Lab", [("lab.txt", chunks)])
    plan = outline.modules[0].lessons[-1]
    return doc, plan, await GroundedWriter().write(plan, chunks, level, feedback)


async def test_a_lesson_has_every_part_and_teaches_the_limits() -> None:
    doc, plan, lesson = await _lesson("B1")
    assert plan.title == "Receiving Samples"
    assert lesson.objectives and lesson.explanation and lesson.example and lesson.exercises and lesson.quiz
    explained = " ".join(s.text for s in lesson.explanation)
    assert "within 15 minutes" in explained and "within 48 hours" in explained
    assert (
        any(v.term.lower() == "custody" or "custody" in v.term.lower() for v in lesson.vocabulary) or lesson.vocabulary
    )
    for question in lesson.quiz:
        (right,) = question.correct
        assert question.options[right] in question.citations[0].quote
    for text, citations in lesson.items():
        assert citations, text
        assert grounding.check(text, [c.quote for c in citations]).ok
        for c in citations:
            assert doc.text[c.start : c.end] == c.quote


async def test_lower_levels_get_shorter_sentences_and_a_measured_level() -> None:
    _, _, b2 = await _lesson("B2")
    _, _, a2 = await _lesson("A2")
    assert len(a2.explanation) > len(b2.explanation)  # "...broken; report it..." becomes two sentences
    assert a2.cefr_target == "A2" and a2.cefr_measured in {"A1", "A2", "B1", "B2", "C1", "C2"}


async def test_purpose_statements_make_no_lesson() -> None:
    doc = every_format(None).extract("lab.txt", SOP)
    outline = plan_outline("Lab", [("lab.txt", Chunker().chunks(doc))])
    assert [lesson.title for lesson in outline.modules[0].lessons] == ["Receiving Samples"]


async def test_the_lesson_becomes_valid_course_content_with_its_sources() -> None:
    import msgspec

    from genpipeline.drafting.content import lesson_content, review_notes
    from schemas.commands import LessonContent

    _, _, lesson = await _lesson("B1")
    content = lesson_content(lesson)
    again = msgspec.json.decode(msgspec.json.encode(content), type=LessonContent)  # the command's own limits
    titles = [m.title for m in again.materials]
    assert titles[:3] == ["Explanation", "Key vocabulary", "Dialogue"] and titles[-1] == "Sources"
    sources = again.materials[-1].body
    assert "[1] lab.txt, section 5.1, characters " in sources and ': "5.1 Check the seal' in sources
    assert again.assessments[0].questions and all("[" in q.prompt for q in again.assessments[0].questions)
    assert "measured" in review_notes(lesson)


async def test_the_items_and_their_sources_read_back_from_the_content_as_a_query_returns_it() -> None:
    import msgspec

    from genpipeline.drafting.content import lesson_content, read_lesson

    doc, _, lesson = await _lesson("A2")
    read = read_lesson(msgspec.json.decode(msgspec.json.encode(lesson_content(lesson))))
    wanted = [(text, [(c.document, c.start, c.end) for c in cites]) for text, cites in lesson.items()]
    assert [(text, [(s.document, s.start, s.end) for s in refs]) for text, refs in read.items] == wanted
    for _, refs in read.items:
        assert all(" ".join(doc.text[s.start : s.end].split()) == s.quote for s in refs)
    assert read.readable == [s.text for s in (*lesson.objectives, *lesson.explanation)] + [
        d.text for d in lesson.example
    ]
    assert read.glossed == [v.term for v in lesson.vocabulary]
