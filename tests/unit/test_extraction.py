"""Extraction: each format keeps its section numbers and pages; poison documents fail cleanly."""

from __future__ import annotations

import io
import re

import pytest

from genpipeline.extraction import Document, ExtractionError, every_format
from tests.sop_samples import empty_docx, facts, sample

PDF = "hotel-front-desk-check-in-check-out.pdf"
DOCX = "customer-support-phone-complaints-escalations.docx"
MD = "warehouse-forklift-inspection-safe-operation.md"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _block_holding(doc: Document, sentence: str) -> tuple[str, int | None]:
    for block in doc.blocks:
        if _flat(sentence) in _flat(block.text):
            return block.section, block.page
    raise AssertionError(f"not extracted: {sentence!r}")


@pytest.fixture(scope="module")
def extraction():  # type: ignore[no-untyped-def]
    return every_format(None)


@pytest.mark.parametrize("file", [PDF, DOCX, MD])
def test_every_fact_is_extracted_whole_under_its_section(extraction, file: str) -> None:  # type: ignore[no-untyped-def]
    doc = extraction.extract(file, sample(file))
    for fact in facts(file):
        section, _ = _block_holding(doc, fact.source_sentence)
        # facts.json cites "6.4.1", "6.5 step 4 (a)", "6.8.4 (a)": the block's citation is that one.
        assert section == fact.section or (fact.section.startswith(section) and section), (fact.id, section)


def test_pdf_blocks_keep_their_pages_and_drop_running_footers(extraction) -> None:  # type: ignore[no-untyped-def]
    doc = extraction.extract(PDF, sample(PDF))
    assert doc.pages == 7
    assert _block_holding(doc, "Every guest aged 16 or over must complete and sign a registration card")[1] == 3
    assert not any("Uncontrolled when printed" in b.text for b in doc.blocks)
    assert not any(re.search(r"Page \d of 7", b.text) for b in doc.blocks)


def test_pdf_tables_come_out_row_by_row(extraction) -> None:  # type: ignore[no-untyped-def]
    doc = extraction.extract(PDF, sample(PDF))
    rows = [b.text for b in doc.blocks if b.kind == "table_row"]
    assert "Document No. | FO-SOP-007 | Revision | 4.0" in rows


def test_docx_numbering_that_word_adds_is_in_the_text(extraction) -> None:  # type: ignore[no-untyped-def]
    doc = extraction.extract(DOCX, sample(DOCX))
    step = next(b for b in doc.blocks if b.section == "6.5 step 4 (a)")
    assert step.text.startswith("a) ")
    assert doc.pages is None and step.page is None


def test_spans_point_into_the_document_text(extraction) -> None:  # type: ignore[no-untyped-def]
    doc = extraction.extract(MD, sample(MD))
    text = doc.text
    assert all(text[b.start : b.end] == b.text for b in doc.blocks)


def test_markdown_and_text_made_here() -> None:
    md = b"# Cold Room\n\n## 3. Entry\n\n1. Wear gloves.\n2. Never stay longer than 20 minutes:\n    - (a) log out;\n"
    doc = every_format(None).extract("cold.md", md)
    assert [(b.section, b.text) for b in doc.blocks if b.kind == "step"] == [
        ("3 step 1", "1. Wear gloves."),
        ("3 step 2", "2. Never stay longer than 20 minutes:"),
        ("3 step 2 (a)", "(a) log out;"),
    ]
    text = b"4.2 Closing\n4.2.1 Lock the door and\ncheck the alarm.\na) Report faults.\n"
    doc = every_format(None).extract("close.txt", text)
    assert [(b.section, b.text) for b in doc.blocks] == [
        ("4.2", "4.2 Closing"),
        ("4.2.1", "4.2.1 Lock the door and check the alarm."),
        ("4.2.1 (a)", "a) Report faults."),
    ]


def _encrypted_pdf() -> bytes:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.pdf", b"", "empty"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "unreadable"),
        ("locked.pdf", _encrypted_pdf(), "encrypted"),
        ("empty.docx", empty_docx(), "no text"),
        ("random.bin", bytes(range(256)) * 4, "not a supported type"),
        ("fake.docx", b"PK\x03\x04 not really a zip", "ZIP"),
        ("blank.md", b"   \n\n", "no text"),
        ("scan.pdf", sample("bank-account-opening-kyc-scanned.pdf"), "no OCR engine"),
    ],
)
def test_poison_documents_raise_one_clear_error(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError) as caught:
        every_format(None).extract(name, data)
    assert reason in caught.value.reason
    assert caught.value.name == name


def test_a_file_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(ExtractionError, match="too large"):
        every_format(None, max_bytes=1000).extract(PDF, sample(PDF))
