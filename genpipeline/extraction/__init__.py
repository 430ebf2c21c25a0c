"""Document extraction: every supported format to blocks that can be cited."""

from __future__ import annotations

import asyncio

from genpipeline.extraction.document import Block, Document, ExtractionError, ExtractionStopped, Stop
from genpipeline.extraction.docx import DocxExtractor
from genpipeline.extraction.extractor import Extraction, Extractor, sniff
from genpipeline.extraction.html import HtmlExtractor
from genpipeline.extraction.image import ImageExtractor
from genpipeline.extraction.markdown import MarkdownExtractor, TextExtractor
from genpipeline.extraction.pdf import PdfExtractor
from infra.ocr import OcrEngine

__all__ = [
    "Block",
    "Document",
    "Extraction",
    "ExtractionError",
    "ExtractionStopped",
    "Extractor",
    "every_format",
    "extract_in_thread",
    "sniff",
]


def every_format(ocr: OcrEngine | None, *, max_bytes: int = 50 * 1024 * 1024) -> Extraction:
    """PDF (OCR for pages without text when `ocr` is given), DOCX, HTML, Markdown, plain text,
    and scanned pages sent as PNG or JPEG (OCR)."""
    extractors = [
        PdfExtractor(ocr),
        DocxExtractor(),
        HtmlExtractor(),
        MarkdownExtractor(),
        TextExtractor(),
        ImageExtractor(ocr),
    ]
    return Extraction(extractors, max_bytes=max_bytes)


async def extract_in_thread(extraction: Extraction, name: str, data: bytes) -> Document:
    """`extraction.extract` in a thread (parsing and OCR are CPU-bound: the event loop stays
    responsive). Cancelled, it tells the extraction to stop at its next page and waits for the
    thread to end before it gives the cancellation back: no OCR runs on after its job is gone."""
    stop = Stop()
    work = asyncio.ensure_future(asyncio.to_thread(extraction.extract, name, data, stop))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait([work])  # the page in hand is finished; no other is begun
        if not work.cancelled():
            work.exception()  # its outcome (ExtractionStopped, or a document) is moot
        raise
