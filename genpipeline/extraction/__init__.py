"""Document extraction: every supported format to blocks that can be cited."""

from __future__ import annotations

from genpipeline.extraction.document import Block, Document, ExtractionError
from genpipeline.extraction.docx import DocxExtractor
from genpipeline.extraction.extractor import Extraction, Extractor, sniff
from genpipeline.extraction.html import HtmlExtractor
from genpipeline.extraction.image import ImageExtractor
from genpipeline.extraction.markdown import MarkdownExtractor, TextExtractor
from genpipeline.extraction.pdf import PdfExtractor
from infra.ocr import OcrEngine

__all__ = ["Block", "Document", "Extraction", "ExtractionError", "Extractor", "every_format", "sniff"]


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
