"""OCR of a scanned page with Tesseract, and a plain error when Tesseract is missing."""

from __future__ import annotations

import asyncio
import threading

import pytest
from PIL import Image

from genpipeline.extraction import Document, Extraction, every_format, extract_in_thread
from genpipeline.extraction.pdf import PdfExtractor
from infra.ocr import OcrLine, OcrUnavailable, TesseractOcr, tidy_line
from tests.sop_samples import facts, sample

SCAN = "bank-account-opening-kyc-scanned.pdf"


@pytest.fixture(scope="module")
def scanned() -> Document:
    """The scanned sample, OCR'd once for the module (two pages, 10-20 s on a busy machine)."""
    return every_format(TesseractOcr()).extract(SCAN, sample(SCAN))


def test_a_scanned_pdf_is_read_by_ocr_with_its_sections(scanned: Document) -> None:
    doc = scanned
    assert doc.ocr_pages == (1, 2)
    flat = [" ".join(b.text.split()).lower() for b in doc.blocks]
    for fact in facts(SCAN):
        sentence = " ".join(fact.source_sentence.split()).lower()
        holders = [doc.blocks[i] for i, text in enumerate(flat) if sentence in text]
        assert holders, fact.id
        assert holders[0].section.startswith(fact.section.split()[0]), (fact.id, holders[0].section)


def test_missing_tesseract_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(OcrUnavailable, match="apt-get install tesseract-ocr"):
        TesseractOcr()


def test_ruled_tables_come_out_row_by_row(scanned: Document) -> None:
    rows = [b.text for b in scanned.blocks if b.kind == "table_row"]
    assert "Situation | Contact | Timeframe" in rows
    assert "Suspected false or altered ID | Branch Manager | Immediately" in rows


def test_speckle_tokens_are_dropped_and_words_kept() -> None:
    assert tidy_line("Screen every applicant . ; _ against the list ~") == "Screen every applicant against the list"
    assert tidy_line("$10,000 | Branch Manager & BSA/AML - 5%") == "$10,000 | Branch Manager & BSA/AML - 5%"
    assert tidy_line("\u00a2 CIP: the minimum identity") == "\u2022 CIP: the minimum identity"


def test_the_scanned_sample_is_read_at_its_scan_resolution_to_98_percent_of_its_words(scanned: Document) -> None:
    import pypdfium2 as pdfium

    from genpipeline.evaluation import word_accuracy
    from genpipeline.extraction.pdf import scan_dpi
    from tests.sop_samples import samples_dir

    document = pdfium.PdfDocument(sample(SCAN))
    text_layer = pdfium.PdfDocument(sample("hotel-front-desk-check-in-check-out.pdf"))
    try:
        assert [scan_dpi(page, 300) for page in document] == [200, 200]  # 1700 px over 8.5 in
        assert scan_dpi(text_layer[0], 300) == 300  # no scan on it: the default
    finally:
        document.close()
        text_layer.close()
    truth = (samples_dir() / "bank-account-opening-kyc-scanned.groundtruth.txt").read_text().splitlines()
    assert word_accuracy("\n".join(line for line in truth if not line.startswith("#")), scanned.text) >= 0.98


def test_a_scanned_page_sent_as_an_image_is_read_by_ocr() -> None:
    import io

    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(sample(SCAN))
    try:
        png = io.BytesIO()
        document[0].render(scale=200 / 72, grayscale=True).to_pil().save(png, format="PNG")
    finally:
        document.close()
    doc = every_format(TesseractOcr()).extract("page-1.png", png.getvalue())
    assert (doc.media_type, doc.pages, doc.ocr_pages) == ("image/png", 1, (1,))
    assert "the Customer Identification Program (CIP) and Know Your Customer (KYC) checks" in doc.text
    assert any(b.section for b in doc.blocks)  # its numbered sections, as in the PDF


class CountedOcr(TesseractOcr):
    """Tesseract, counting the pages it began and finished."""

    def __init__(self) -> None:
        super().__init__()
        self.begun = self.finished = 0
        self.lock = threading.Lock()
        self.reading = threading.Event()  # a page has begun

    def read(self, image: Image.Image) -> list[OcrLine]:
        with self.lock:
            self.begun += 1
        self.reading.set()
        try:
            return super().read(image)
        finally:
            with self.lock:
                self.finished += 1


async def test_a_cancelled_extraction_stops_its_ocr_and_ends_after_it() -> None:
    """The job waiting for an extraction is cancelled (its order was): the OCR begins no other
    page, and the waiting task ends only once the page in hand is done, so none runs on after it."""
    ocr = CountedOcr()
    extraction = Extraction([PdfExtractor(ocr, ocr_workers=1)])  # two pages, one after the other
    task = asyncio.create_task(extract_in_thread(extraction, SCAN, sample(SCAN)))
    assert await asyncio.to_thread(ocr.reading.wait, 300)  # a guard against a hang
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (ocr.begun, ocr.finished) == (1, 1)
