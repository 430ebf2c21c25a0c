"""What extraction yields: a document's text as ordered blocks, each with its provenance."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["heading", "paragraph", "step", "item", "table_row"]


class ExtractionError(Exception):
    """A document we cannot read (corrupt, encrypted, empty, unsupported); `reason` says which."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class ExtractionStopped(ExtractionError):
    """The extraction was told to stop (its job was cancelled) before it was done."""


class Stop:
    """Set from the event loop when the job an extraction runs for is cancelled; the extraction,
    in its thread, looks at it between pages (OCR) and stops there."""

    def __init__(self) -> None:
        self._set = threading.Event()

    def set(self) -> None:
        self._set.set()

    def check(self, name: str) -> None:
        """Raise ExtractionStopped once set."""
        if self._set.is_set():
            raise ExtractionStopped(name, "stopped: its job was cancelled")


NEVER = Stop()  # the stop of an extraction nobody cancels (never set)


@dataclass(frozen=True)
class Block:
    """One structural unit of a document: a heading, a paragraph, a numbered step, a table row."""

    kind: BlockKind
    text: str
    section: str  # the number a reader cites: "6.4.1", "6.5 step 4 (a)", "" before the first heading
    section_title: str
    page: int | None  # 1-based; None for formats without pages (DOCX, Markdown, text)
    start: int = 0  # character span of `text` in `Document.text`
    end: int = 0


@dataclass(frozen=True)
class Document:
    """An extracted document; `text` is what citations' spans point into."""

    name: str
    media_type: str
    pages: int | None
    blocks: tuple[Block, ...]
    ocr_pages: tuple[int, ...] = ()  # pages whose text came from OCR

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    @classmethod
    def assemble(
        cls,
        name: str,
        media_type: str,
        pages: int | None,
        blocks: list[Block],
        ocr_pages: tuple[int, ...] = (),
    ) -> Document:
        """Number the blocks' spans in reading order; refuses a document with no text."""
        placed: list[Block] = []
        offset = 0
        for b in blocks:
            if not b.text:
                continue
            end = offset + len(b.text)
            placed.append(Block(b.kind, b.text, b.section, b.section_title, b.page, offset, end))
            offset = end + 1  # the newline that joins blocks in `text`
        if not placed:
            raise ExtractionError(name, "no text found in the document")
        return cls(name, media_type, pages, tuple(placed), ocr_pages)
