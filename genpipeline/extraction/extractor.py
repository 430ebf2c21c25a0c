"""The extractor port, content sniffing, and the one entry point that never lets a parser crash."""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from io import BytesIO

from domain.documents import is_html
from genpipeline.extraction.document import NEVER, Document, ExtractionError, Stop
from infra.errors import InfraError

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
HTML = "text/html"
PNG = "image/png"
JPEG = "image/jpeg"


class Extractor(ABC):
    """Turns the bytes of one document type into blocks with their provenance."""

    media_types: frozenset[str]

    @abstractmethod
    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        """The document's blocks; raises ExtractionError for a document it cannot read, and
        ExtractionStopped once `stop` is set (where it reads page by page)."""


def sniff(name: str, data: bytes) -> str:
    """The media type, judged by content (the name only tells Markdown from plain text, and an HTML
    fragment without `<html>` from text)."""
    if not data:
        raise ExtractionError(name, "the file is empty (0 bytes)")
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except zipfile.BadZipFile as e:
            raise ExtractionError(name, "a damaged ZIP archive, not a readable DOCX") from e
        raise ExtractionError(name, "a ZIP archive that is not a Word document")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ExtractionError(name, "not a supported type (PDF, DOCX, HTML, Markdown, text, PNG, JPEG)") from e
    if "\x00" in text:
        raise ExtractionError(name, "binary content, not text")
    lowered = name.lower()
    if is_html(text.removeprefix("\ufeff")) or (lowered.endswith((".html", ".htm")) and text.lstrip().startswith("<")):
        return HTML
    return MARKDOWN if lowered.endswith((".md", ".markdown")) else TEXT


class Extraction:
    """Chooses the extractor by content and turns any parser failure into ExtractionError.

    Parsers of untrusted files fail in their own ways (struct errors, KeyError, zlib errors, ...):
    catching everything here is what keeps one poison document from crashing the worker.
    """

    def __init__(self, extractors: list[Extractor], *, max_bytes: int = 50 * 1024 * 1024) -> None:
        self.by_type = {t: e for e in extractors for t in e.media_types}
        self.max_bytes = max_bytes

    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        if len(data) > self.max_bytes:
            raise ExtractionError(name, f"too large ({len(data)} bytes; the limit is {self.max_bytes})")
        media_type = sniff(name, data)
        extractor = self.by_type.get(media_type)
        if extractor is None:
            raise ExtractionError(name, f"no extractor for {media_type} is configured")
        try:
            return extractor.extract(name, data, stop)
        except (ExtractionError, InfraError):
            raise  # a missing OCR engine is the machine's fault, not the document's
        except Exception as e:
            raise ExtractionError(name, f"unreadable {media_type}: {type(e).__name__}: {e}") from e
