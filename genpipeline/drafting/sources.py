"""Source sentences: retrieved chunks cut into sentences that an item can cite exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass

from genpipeline.chunking import Chunk
from genpipeline.drafting.draft import Citation

_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(£$])")
_LEADING_NUMBER = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|\(?[a-z]\)|\d{1,2}\)|\u2022)\s+")
_WORD = re.compile(r"[a-z0-9£$%]+(?:[.,:'][a-z0-9]+)*")


@dataclass(frozen=True)
class Sentence:
    text: str  # as in the document
    chunk: Chunk
    start: int  # span in the document text
    end: int
    section: str
    page: int | None
    kind: str  # the block kind it came from: step, paragraph, item, table_row

    @property
    def plain(self) -> str:
        """Without the step number in front ("6.4.1 ", "a) ")."""
        return _LEADING_NUMBER.sub("", self.text)

    def citation(self) -> Citation:
        return Citation(self.chunk.key, self.chunk.document, self.page, self.section, self.start, self.end, self.text)


def sentences_of(chunk: Chunk) -> list[Sentence]:
    """The chunk's sentences (table rows whole), each with its span and its block's citation."""
    out: list[Sentence] = []
    for part in chunk.parts:
        if part.kind == "heading":
            continue
        if part.kind == "table_row":
            out.append(Sentence(part.text, chunk, part.start, part.end, part.section, part.page, part.kind))
            continue
        offset = part.start
        for piece in _BREAK.split(part.text):
            at = part.text.find(piece, offset - part.start)
            start = part.start + at
            out.append(Sentence(piece, chunk, start, start + len(piece), part.section, part.page, part.kind))
            offset = start + len(piece)
    return out


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())
