"""A scanned page sent as a picture (PNG or JPEG): read by OCR, one page."""

from __future__ import annotations

from io import BytesIO

from genpipeline.extraction.document import NEVER, Document, ExtractionError, Stop
from genpipeline.extraction.extractor import JPEG, PNG, Extractor, sniff
from genpipeline.extraction.lines import Line, blocks_from_lines
from infra.ocr import OcrEngine


class ImageExtractor(Extractor):
    media_types = frozenset({PNG, JPEG})

    def __init__(self, ocr: OcrEngine | None) -> None:
        self.ocr = ocr

    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        if self.ocr is None:
            raise ExtractionError(name, "a scanned image, and no OCR engine is configured")
        from PIL import Image

        with Image.open(BytesIO(data)) as image:
            image.load()
            stop.check(name)
            lines = [Line(line.text, 1, table_row=line.table_row) for line in self.ocr.read(image)]
        return Document.assemble(name, sniff(name, data), 1, blocks_from_lines(lines), (1,))
