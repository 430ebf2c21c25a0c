"""What an SOP document is: its type, told by its content and never by its name.

PDF, DOCX, HTML, Markdown, plain text, and PNG or JPEG (a scanned page). A DOCX is a ZIP whose
parts name a Word document; text is UTF-8 with no control characters but layout ones; it is HTML
when it opens as an HTML page does (`<!DOCTYPE html>` or `<html>`, after an XML declaration or
comments), and Markdown when a line has Markdown's own structure (a heading, a fence, a link, a
table rule).
"""

from __future__ import annotations

import io
import re
import zipfile

from domain import errors

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
PNG = "image/png"
JPEG = "image/jpeg"
HTML = "text/html"
MEDIA_TYPES = (PDF, DOCX, HTML, MARKDOWN, TEXT, PNG, JPEG)

_WORD_MAIN = b"wordprocessingml.document.main+xml"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HTML = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE | re.DOTALL
)
_MARKDOWN = re.compile(r"^(#{1,6} \S|```|~~~|\|?\s*:?-{3,}:?\s*\||.*\]\([^)\s]+\))", re.MULTILINE)


def media_type_of(content: bytes) -> str | None:
    """The document's media type, or None when it is none of the accepted ones."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return DOCX if _is_word(content) else None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not text.strip() or _CONTROL.search(text):
        return None
    if is_html(text):
        return HTML
    return MARKDOWN if _MARKDOWN.search(text) else TEXT


def is_html(text: str) -> bool:
    """Whether the text opens as an HTML page does (a page, not Markdown with some tags in it)."""
    return bool(_HTML.match(text[:4096]))


def _is_word(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            names = set(z.namelist())
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                return False
            with z.open("[Content_Types].xml") as part:
                return _WORD_MAIN in part.read(65536)  # bounded: a part may be a zip bomb
    # What zipfile raises on a file that only looks like a zip: corrupt or truncated
    # (BadZipFile, OSError, EOFError), encrypted (RuntimeError), or compressed with a method it
    # does not implement (NotImplementedError). Each means "not a Word document we can read".
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
        return False


class UnsupportedDocument(errors.RuleViolation):
    code = "unsupported_document"


class DocumentTooLarge(errors.RuleViolation):
    code = "document_too_large"


class UploadMismatch(errors.RuleViolation):
    """The uploaded object is not what the client declared (size or sha256)."""

    code = "upload_mismatch"


class UploadNotFound(errors.NotFound):
    """No upload under that id: never made, already completed, expired or swept."""

    code = "upload_not_found"
