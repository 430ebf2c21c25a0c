"""Chunks: under the token budget, whole sentences, exact spans, one section each."""

from __future__ import annotations

import re

from genpipeline.chunking import Chunker, approximate_tokens
from genpipeline.extraction import every_format
from tests.sop_samples import facts, sample

DOCX = "customer-support-phone-complaints-escalations.docx"


def test_chunks_are_exact_spans_under_budget_within_one_section() -> None:
    doc = every_format(None).extract(DOCX, sample(DOCX))
    chunks = Chunker(max_tokens=120).chunks(doc)
    assert len(chunks) > 10
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert len({p.section_title for p in chunk.parts if p.kind != "heading"}) <= 1
        assert approximate_tokens(chunk.text) <= 120 or len(chunk.parts) == 1
    for fact in facts(DOCX):
        holder = [c for c in chunks if " ".join(fact.source_sentence.split()) in " ".join(c.text.split())]
        assert len(holder) == 1, fact.id  # a sentence is never cut between chunks


def test_a_long_block_is_split_between_sentences_only() -> None:
    sentences = [f"Rule {n} says that the operator must check item {n} before the shift starts." for n in range(40)]
    doc = every_format(None).extract("long.txt", ("7.1 Checks\n" + " ".join(sentences)).encode())
    chunks = Chunker(max_tokens=60).chunks(doc)
    assert len(chunks) > 5
    for chunk in chunks:
        assert approximate_tokens(chunk.text) <= 60 + approximate_tokens("7.1 Checks")
        assert re.search(r"(shift starts\.|Checks)$", chunk.text), chunk.text
        assert doc.text[chunk.start : chunk.end] == chunk.text
    assert {c.section for c in chunks} == {"7.1"}
