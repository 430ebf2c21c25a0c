"""Extraction: each format keeps its section numbers and pages; poison documents fail cleanly."""

from __future__ import annotations

import io
import re

import pytest

from genpipeline.extraction import Document, ExtractionError, every_format
from tests.sop_samples import SOP_HTML, empty_docx, facts, sample

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


def test_html_headings_lists_and_tables_keep_their_sections_and_spans() -> None:
    doc = every_format(None).extract("QA-SOP-014.html", SOP_HTML.encode())
    assert doc.media_type == "text/html" and doc.pages is None
    got = [(b.kind, b.section, b.section_title, b.text) for b in doc.blocks]
    title = "QA-SOP-014 Cold Room Entry and Stock Rotation"
    assert got == [
        ("heading", "", title, title),
        ("table_row", "", title, "Document No. | QA-SOP-014 | Revision | 3.1"),
        ("heading", "1", "Scope", "1. Scope"),
        (
            "paragraph",
            "1",
            "Scope",
            "This procedure applies to every person who enters the walk-in cold room (store 2).",
        ),
        ("heading", "2", "Responsibilities", "2. Responsibilities"),
        ("item", "2", "Responsibilities", "\u2022 The shift supervisor keeps the entry log."),
        ("item", "2", "Responsibilities", "\u2022 Stock handlers rotate stock."),
        ("heading", "3", "Entry", "3. Entry"),
        ("paragraph", "3", "Entry", "Never enter alone after 22:00."),
        ("step", "3 step 1", "Entry", "1. Put on the insulated gloves and jacket."),
        ("step", "3 step 2", "Entry", "2. Sign the entry log with the time of entry."),
        ("step", "3 step 2 (a)", "Entry", "(a) Write the room temperature shown on the display;"),
        ("step", "3 step 2 (b)", "Entry", "(b) report any reading above 5 \u00b0C."),
        ("step", "3 step 4", "Entry", "4. Never stay inside longer than 20 minutes."),
        ("heading", "3.1", "Temperature limits", "3.1 Temperature limits"),
        ("table_row", "3.1", "Temperature limits", "Product | Maximum | Action"),
        ("table_row", "3.1", "Temperature limits", "Dairy | 5 \u00b0C | Move to store 1"),
        ("table_row", "3.1", "Temperature limits", "Fresh meat | 3 \u00b0C | Call the QA manager"),
        ("heading", "4", "Stock rotation", "4. Stock rotation"),
        ("step", "4.1", "Stock rotation", "4.1 Oldest stock is placed at the front of the shelf."),
        ("step", "4.1 (a)", "Stock rotation", "a) Check the use-by date of every case."),
        ("paragraph", "4", "Stock rotation", "Uncontrolled when printed"),
    ]
    text = doc.text
    assert all(text[b.start : b.end] == b.text for b in doc.blocks)
    assert "track(" not in text and "navy" not in text and "Intranet home" not in text


def test_html_is_told_by_content_and_a_fragment_by_its_name() -> None:
    page = b"\xef\xbb\xbf<!-- export -->\n<HTML><BODY><H2>2.1 Gloves</H2><P>Wear them.</P></BODY></HTML>"
    assert every_format(None).extract("page.txt", page).media_type == "text/html"
    fragment = b"<h2>5. Waste</h2><ol><li>Bag it.</li></ol>"
    assert [b.section for b in every_format(None).extract("waste.htm", fragment).blocks] == ["5", "5 step 1"]
    # The same fragment named as text stays text: the name alone never makes a document HTML it does not open as.
    assert every_format(None).extract("waste.txt", fragment).media_type == "text/plain"
    with pytest.raises(ExtractionError, match="no text"):
        every_format(None).extract(
            "blank.html", b"<!DOCTYPE html><html><head><title>x</title></head><body></body></html>"
        )


def test_plain_text_numbered_headings_give_sections() -> None:
    text = (
        b"COLD ROOM ENTRY\n\n1. Scope\nThis procedure applies to the walk-in cold room.\n\n"
        b"2. Responsibilities\n2.1 Supervisors\nThe shift supervisor keeps the entry log.\n\n"
        b"2.2 Handlers\n2.2.1 Rotate the stock every morning.\n- Oldest stock goes to the front.\n"
    )
    doc = every_format(None).extract("cold-room.txt", text)
    got = [(b.kind, b.section, b.section_title, b.text) for b in doc.blocks]
    assert got == [
        ("paragraph", "", "", "COLD ROOM ENTRY"),
        ("heading", "1", "Scope", "1. Scope"),
        ("paragraph", "1", "Scope", "This procedure applies to the walk-in cold room."),
        ("heading", "2", "Responsibilities", "2. Responsibilities"),
        ("heading", "2.1", "Supervisors", "2.1 Supervisors"),
        ("paragraph", "2.1", "Supervisors", "The shift supervisor keeps the entry log."),
        ("heading", "2.2", "Handlers", "2.2 Handlers"),
        ("step", "2.2.1", "Handlers", "2.2.1 Rotate the stock every morning."),
        ("item", "2.2.1", "Handlers", "\u2022 Oldest stock goes to the front."),
    ]
    assert all(doc.text[b.start : b.end] == b.text for b in doc.blocks)


def test_pdf_tables_are_looked_for_only_on_pages_ruled_for_one() -> None:
    from genpipeline.extraction.pdf import ruled_pages

    # Pages 3 and 4 of the hotel SOP carry only the header's and footer's rules: pdfplumber never parses them.
    assert ruled_pages(sample(PDF), list(range(7))) == [0, 1, 4, 5, 6]
