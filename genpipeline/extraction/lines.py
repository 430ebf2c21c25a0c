"""From the lines of a paged document (a PDF's text layer, OCR output) to cited blocks.

Such text has no markup: headings, numbered steps ("6.4.1"), lettered sub-steps ("a)") and
bullets are recognised by their numbers and shape, and wrapped lines are joined back into the
sentence they belong to. Running headers and footers (the same line on most pages) are dropped.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

from genpipeline.extraction.document import Block

# "6.4.1 Text", "6. Text", "6) Text"; a bare "5 minutes." is the tail of a wrapped line.
_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})+|\d{1,2}(?=[.)]))[.)]?\s+(\S.*)$")
_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")  # set apart by layout: "1  PURPOSE"
_GLUED_HEADING = re.compile(r"^(\d{1,2})\.([A-Z][A-Z ]{2,})\.?$")  # OCR's "2.SCOPE."
_LETTER = re.compile(r"^\(?([a-z])\)\s+(\S.*)$")
# Bullets as printed (•, ▪, ●, hyphens and dashes) and as OCR misreads them (¢, *, +, °, «, »); PDF fonts may
# map them to \x7f.
_BULLET = re.compile(r"^[\u2022\u25aa\u25cf\x7f\u00a2*+\u00b0\u00bb\u00ab\u2013\-]\s+(\S.*)$")
_SENTENCE_END = re.compile(r"[.:;!?)\"']$")
_FURNITURE_KEY = re.compile(r"[^a-z]+")
_PAGE_OF = re.compile(r"\bpage \d+ of \d+\b", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    text: str
    page: int | None
    gap_before: bool = False  # a paragraph break precedes it (known from layout, when known)
    heading: bool | None = None  # set by layout (font size); None: decide from the text
    table_row: bool = False  # already a whole table row: never joined with neighbours


def drop_running_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """Remove headers and footers: lines that recur (digits aside) on more than half of the
    pages, and lines at a page's top or bottom much like one at another page's top or bottom
    (OCR reads the same footer a little differently on each page)."""
    if len(pages) < 2:
        return pages
    seen = Counter(key for page in pages for key in {_furniture_key(line.text) for line in page})
    limit = len(pages) / 2
    edges = [{_furniture_key(line.text) for line in page[:2] + page[-2:]} for page in pages]
    kept = []
    for n, page in enumerate(pages):
        others = [key for m, keys in enumerate(edges) if m != n for key in keys]
        kept.append(
            [
                line
                for i, line in enumerate(page)
                if seen[_furniture_key(line.text)] <= limit
                and not (
                    _at_edge(i, len(page))
                    and (_PAGE_OF.search(line.text) or _like_any(_furniture_key(line.text), others))
                )
            ]
        )
    return kept


def _at_edge(index: int, length: int) -> bool:
    return index < 2 or index >= length - 2


def _like_any(key: str, others: list[str]) -> bool:
    return len(key) >= 12 and any(
        0.8 <= len(o) / len(key) <= 1.25 and difflib.SequenceMatcher(None, key, o).ratio() >= 0.7 for o in others
    )


def _furniture_key(text: str) -> str:
    return _FURNITURE_KEY.sub("", text.lower())


def blocks_from_lines(lines: list[Line]) -> list[Block]:
    """Group lines into headings, steps, sub-steps, items, paragraphs and table rows."""
    builder = _Builder()
    for line in lines:
        builder.add(line)
    return builder.finish()


@dataclass(frozen=True)
class _Guess:
    """A numbered line taken for a heading by its shape alone, and what it replaced."""

    section: str
    title: str
    number: str
    text: str
    page: int | None


class _Builder:
    def __init__(self) -> None:
        self.guess: _Guess | None = None
        self.blocks: list[Block] = []
        self.section = ""
        self.title = ""
        self.step = ""  # the number of the step a lettered sub-step belongs to
        self.open: list[str] = []  # lines of the block being built
        self.kind = "paragraph"
        self.cite = ""
        self.page: int | None = None

    def add(self, line: Line) -> None:
        text = " ".join(line.text.split())
        if not text:
            return
        if line.table_row:
            self._start("table_row", self.section, line.page, text)
            self._close()
            return
        if self.guess is not None:
            guess, self.guess = self.guess, None
            if text[0].islower() and not line.gap_before:
                # The "heading" was the first line of a wrapped step: "4.2.1 Lock the door and".
                self.blocks.pop()
                self.section, self.title = guess.section, guess.title
                self.step = guess.number
                self._start("step", guess.number, guess.page, guess.text)
        heading = self._heading(text, line)
        if heading is not None:
            number, title = heading
            self._close()
            if line.heading is None:
                self.guess = _Guess(self.section, self.title, number, text, line.page)
            self.section, self.title, self.step = number, title, ""
            self.blocks.append(Block("heading", text, number, title, line.page))
            return
        if m := _NUMBER.match(text):
            self.step = m.group(1)
            self._start("step", self.step, line.page, text)
        elif (m := _LETTER.match(text)) and (self.step or self.section):
            self._start("step", f"{self.step or self.section} ({m.group(1)})", line.page, text)
        elif m := _BULLET.match(text):
            self._start("item", self.step or self.section, line.page, f"\u2022 {m.group(1)}")
        elif self.open and not line.gap_before and not self._ends_paragraph():
            self.open.append(text)
        else:
            self._start("paragraph", self.section, line.page, text)

    def _heading(self, text: str, line: Line) -> tuple[str, str] | None:
        if m := _GLUED_HEADING.match(text):
            return m.group(1), m.group(2).title()
        if line.heading is None and (m := _HEADING.match(text)) and m.group(2).isupper() and len(text) < 80:
            return m.group(1), m.group(2).strip(" .")  # "1 PURPOSE": a bare number before capitals
        m = (_HEADING if line.heading else _NUMBER).match(text)
        if m is None or line.heading is False:
            return None
        number, title = m.group(1), m.group(2).strip(" .")
        if line.heading:
            return number, title
        # Without layout: a short numbered line without closing punctuation, beginning a capital.
        short = len(title.split()) <= 8 and not _SENTENCE_END.search(m.group(2)) and title[:1].isupper()
        deeper_than_step = bool(self.step) and number.count(".") > self.step.count(".")
        return (number, title) if short and not deeper_than_step else None

    def _ends_paragraph(self) -> bool:
        return bool(_SENTENCE_END.search(self.open[-1])) and self.kind == "paragraph"

    def _start(self, kind: str, cite: str, page: int | None, text: str) -> None:
        self._close()
        self.kind, self.cite, self.page, self.open = kind, cite, page, [text]

    def _close(self) -> None:
        if self.open:
            text = " ".join(self.open)
            self.blocks.append(Block(self.kind, text, self.cite, self.title, self.page))  # type: ignore[arg-type]
        self.open = []

    def finish(self) -> list[Block]:
        self._close()
        return self.blocks
