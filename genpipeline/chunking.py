"""Cut an extracted document into retrieval chunks that follow its structure.

A chunk holds whole blocks of one section (a heading travels with what follows it), stays under
the token budget (MiniLM silently cuts input past 256 tokens), and never cuts a sentence; a
block longer than the budget is split between sentences. Each chunk keeps its provenance:
document, page, section number and title, and its character span in the document's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from genpipeline.extraction.document import Block, Document

_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(£$])")


def approximate_tokens(text: str) -> int:
    """Word-piece tokens, estimated: about 4 for every 3 words of English prose."""
    return (len(text.split()) * 4 + 2) // 3


@dataclass(frozen=True)
class Chunk:
    document: str
    index: int  # position in the document, from 0
    text: str  # exactly `Document.text[start:end]`
    section: str  # the first block's citation ("6.4.1", "6.5 step 4 (a)")
    section_title: str
    page: int | None
    start: int
    end: int
    parts: tuple[Block, ...] = ()  # the blocks (or block pieces) it holds, each with its citation

    @property
    def key(self) -> str:
        """Stable within an order: the document name and the chunk's position."""
        return f"{self.document}#{self.index}"

    @property
    def embedding_text(self) -> str:
        """What is embedded: the section title gives a short step its context."""
        return f"{self.section_title}: {self.text}" if self.section_title else self.text


class Chunker:
    def __init__(self, *, max_tokens: int = 200, count_tokens: Callable[[str], int] = approximate_tokens) -> None:
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens

    def chunks(self, document: Document) -> list[Chunk]:
        text = document.text
        out: list[Chunk] = []
        group: list[Block] = []
        used = 0
        for piece in self._pieces(document.blocks):
            cost = self.count_tokens(piece.text)
            starts_section = piece.kind == "heading" or (group and _top(piece) != _top(group[0]))
            if group and (starts_section or used + cost > self.max_tokens) and not _only_headings(group):
                out.append(_chunk(document.name, len(out), text, group))
                group, used = [], 0
            group.append(piece)
            used += cost
        if group:
            out.append(_chunk(document.name, len(out), text, group))
        return out

    def _pieces(self, blocks: tuple[Block, ...]) -> Iterator[Block]:
        """Blocks, with any block over the budget split between its sentences."""
        for block in blocks:
            if self.count_tokens(block.text) <= self.max_tokens:
                yield block
                continue
            offset = block.start
            part: list[str] = []
            for sentence in _sentences(block.text):
                if part and self.count_tokens(" ".join([*part, sentence])) > self.max_tokens:
                    joined = " ".join(part)
                    yield Block(
                        block.kind, joined, block.section, block.section_title, block.page, offset, offset + len(joined)
                    )
                    offset += len(joined) + 1
                    part = []
                part.append(sentence)
            joined = " ".join(part)
            yield Block(
                block.kind, joined, block.section, block.section_title, block.page, offset, offset + len(joined)
            )


def _sentences(text: str) -> list[str]:
    # Splitting on single spaces keeps " ".join(sentences) == text, so spans stay exact.
    return _SENTENCE_BREAK.split(" ".join(text.split(" ")))


def _top(block: Block) -> str:
    return block.section_title


def _only_headings(group: list[Block]) -> bool:
    return all(b.kind == "heading" for b in group)


def _chunk(document: str, index: int, text: str, group: list[Block]) -> Chunk:
    start, end = group[0].start, group[-1].end
    first = next((b for b in group if b.kind != "heading"), group[0])
    return Chunk(
        document, index, text[start:end], first.section, first.section_title, group[0].page, start, end, tuple(group)
    )
