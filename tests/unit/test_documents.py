"""Document types are told by content: each accepted type, the look-alikes that are refused, and
no input that makes the sniffer fail."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.documents import DOCX, HTML, JPEG, MARKDOWN, PDF, PNG, TEXT, media_type_of
from tests.unit.test_properties import PROPERTIES


def zip_of(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


WORD_TYPES = (
    b'<Types><Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCX_BYTES = zip_of({"[Content_Types].xml": WORD_TYPES, "word/document.xml": b"<w:document/>"})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", PDF),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (DOCX_BYTES, DOCX),
        (b"# Forklift inspection\n\n1. Check the forks.\n", MARKDOWN),
        (b"Steps:\n\n```\ncode\n```\n", MARKDOWN),
        (b"See [the form](forms/F-12.pdf).", MARKDOWN),
        (b"| step | who |\n|---|---|\n| 1 | driver |\n", MARKDOWN),
        (b"1. Check the forks.\n2. Check the mast.\n#not a heading\n", TEXT),
        ("\ufeffStandard procédure: 5 °C max.\r\n\tIndented.\f".encode(), TEXT),
        (b"<!DOCTYPE html>\n<html><body><h1>1. Scope</h1></body></html>", HTML),
        (b'<?xml version="1.0"?>\n<!-- exported -->\n<HTML lang="en"><p>Wear gloves.</p></HTML>', HTML),
        (b"<div>Markdown may hold a tag</div>\n\n# Heading\n", MARKDOWN),
    ],
)
def test_accepted_types_are_told_by_content(content: bytes, expected: str) -> None:
    assert media_type_of(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"  \n\t ",
        b"MZ\x90\x00\x03 an executable",
        b"text with a NUL \x00 inside",
        b"\xc3\x28 invalid utf-8",
        b"PK\x03\x04 a broken zip",
        zip_of({"word/document.xml": b"<w:document/>"}),  # no content types part
        zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b""}),  # not a Word main part
        zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b""}),
        b"GIF89a\x01\x00",
    ],
)
def test_other_content_is_refused_whatever_it_is_called(content: bytes) -> None:
    assert media_type_of(content) is None


@PROPERTIES
@given(st.binary(max_size=200) | st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=200)))
def test_any_bytes_get_a_type_or_none_and_never_an_error(content: bytes) -> None:
    assert media_type_of(content) in (PDF, DOCX, HTML, MARKDOWN, TEXT, PNG, JPEG, None)


@PROPERTIES
@given(st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=200))
def test_printable_text_is_text_or_markdown(text: str) -> None:
    content = text.encode()
    if text.strip() and not content.startswith((b"%PDF-", b"PK\x03\x04")):
        assert media_type_of(content) in (TEXT, MARKDOWN, HTML)
