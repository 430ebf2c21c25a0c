"""DOCX through docx2python, which resolves Word's automatic numbering ("1)", "a)") into text.

A numbered paragraph is cited as "<heading number> step <n>" with its sub-step letter, the way a
reader of the printed document would cite it ("6.5 step 4 (a)"); tables are read row by row.
DOCX has no fixed pages, so blocks carry no page number.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from genpipeline.extraction.document import NEVER, Block, BlockKind, Document, Stop
from genpipeline.extraction.extractor import DOCX, Extractor

_HEADING_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")
_NUMBERING_PREFIX = re.compile(r"^\s*(?:[0-9]{1,3}|[a-zA-Z]|[ivxlc]{1,6})[.)]\s+")


class DocxExtractor(Extractor):
    media_types = frozenset({DOCX})

    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        from docx2python import docx2python

        with docx2python(BytesIO(data)) as parsed:
            body = parsed.document_pars
        walker = _Walker()
        for element in body:
            walker.element(element)
        return Document.assemble(name, DOCX, None, walker.blocks)


class _Walker:
    """docx2python nests every body element as table -> row -> cell -> paragraphs."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.section = ""
        self.title = ""

    def element(self, rows: list[list[list[Any]]]) -> None:
        paragraphs = [p for row in rows for cell in row for p in cell]
        if not paragraphs or paragraphs[0].lineage[3] in {"hdr", "ftr"}:
            return  # running headers and footers are page furniture
        if paragraphs[0].lineage[1] == "tbl":
            for row in rows:
                cells = [" ".join(" ".join(_text(p).split()) for p in cell).strip() for cell in row]
                if any(cells):
                    self._add("table_row", " | ".join(c for c in cells if c), self.section)
            return
        for p in paragraphs:
            self.paragraph(p)

    def paragraph(self, p: Any) -> None:
        text = " ".join(_text(p).split())
        if not text:
            return
        style = (p.style or "").lower()
        if style.startswith("heading") or style == "title":
            m = _HEADING_NUMBER.match(text)
            self.section, self.title = (m.group(1), m.group(2)) if m else (text, text)
            self._add("heading", text, self.section)
            return
        _, path = p.list_position
        if path:
            cite = f"{self.section} step {path[0]}" if self.section else f"step {path[0]}"
            if len(path) > 1:
                cite += "".join(f" ({_letter(n)})" for n in path[1:])
            self._add("step", _NUMBERING_PREFIX.sub("", text), cite, prefix=_prefix(path))
        elif "list" in style:
            self._add("item", text, self.section)
        else:
            self._add("paragraph", text, self.section)

    def _add(self, kind: BlockKind, text: str, cite: str, prefix: str = "") -> None:
        self.blocks.append(Block(kind, f"{prefix}{text}", cite, self.title, None))


def _text(p: Any) -> str:
    return "".join(str(run.text) for run in p.runs)


def _letter(n: int) -> str:
    return chr(ord("a") + n - 1) if 1 <= n <= 26 else str(n)


def _prefix(path: list[int]) -> str:
    """The number a reader sees before the step: "4) " or "a) "."""
    return f"{path[0]}) " if len(path) == 1 else f"{_letter(path[-1])}) "
