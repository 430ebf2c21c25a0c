"""Markdown (CommonMark with pipe tables, through markdown-it-py) and plain text."""

from __future__ import annotations

import re

from genpipeline.extraction.document import NEVER, Block, BlockKind, Document, Stop
from genpipeline.extraction.extractor import MARKDOWN, TEXT, Extractor
from genpipeline.extraction.lines import Line, blocks_from_lines

_HEADING_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")
_LETTERED = re.compile(r"^\(([a-z])\)\s+")
_MARKUP = re.compile(r"\*\*|\*|__|`")


class MarkdownExtractor(Extractor):
    """Headings give sections; ordered list items are steps ("6 step 4", "6 step 5 (a)")."""

    media_types = frozenset({MARKDOWN})

    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        from markdown_it import MarkdownIt

        tokens = MarkdownIt("commonmark").enable("table").parse(data.decode("utf-8"))
        blocks: list[Block] = []
        section = title = ""
        lists: list[list[int | str]] = []  # per open list: [kind, items seen]
        row: list[str] = []
        pending_heading = in_cell = False
        for token in tokens:
            kind = token.type
            if kind == "heading_open":
                pending_heading = True
            elif kind in {"ordered_list_open", "bullet_list_open"}:
                lists.append(["ordered" if kind == "ordered_list_open" else "bullet", 0])
            elif kind in {"ordered_list_close", "bullet_list_close"}:
                lists.pop()
            elif kind == "list_item_open":
                lists[-1][1] = int(lists[-1][1]) + 1
            elif kind == "tr_open":
                row = []
            elif kind in {"th_open", "td_open"}:
                in_cell = True
            elif kind in {"th_close", "td_close"}:
                in_cell = False
            elif kind == "tr_close":
                blocks.append(Block("table_row", " | ".join(c for c in row if c), section, title, None))
            elif kind == "inline":
                text = " ".join(_MARKUP.sub("", token.content).split())
                if in_cell:
                    row.append(text)
                elif pending_heading:
                    pending_heading = in_cell = False
                    m = _HEADING_NUMBER.match(text)
                    section, title = (m.group(1), m.group(2)) if m else (section, text)
                    blocks.append(Block("heading", text, section, title, None))
                elif text:
                    block_kind, cite, shown = _list_item(text, lists, section)
                    blocks.append(Block(block_kind, shown, cite, title, None))
        return Document.assemble(name, MARKDOWN, None, blocks)


def _list_item(text: str, lists: list[list[int | str]], section: str) -> tuple[BlockKind, str, str]:
    ordered = [int(n) for kind, n in lists if kind == "ordered"]
    if not ordered:
        return ("item" if lists else "paragraph"), section, text
    cite = f"{section} step {ordered[0]}" if section else f"step {ordered[0]}"
    for n in ordered[1:]:
        cite += f" ({chr(ord('a') + n - 1)})"
    if len(lists) > 1 and (m := _LETTERED.match(text)):
        cite += f" ({m.group(1)})"
    shown = text if _LETTERED.match(text) else f"{ordered[-1]}. {text}"
    return "step", cite, shown


class TextExtractor(Extractor):
    """Plain text: numbered lines, bullets and paragraphs recognised by their shape."""

    media_types = frozenset({TEXT})

    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        raw = data.decode("utf-8").splitlines()
        lines = [Line(text, None, gap_before=i > 0 and not raw[i - 1].strip()) for i, text in enumerate(raw)]
        return Document.assemble(name, TEXT, None, blocks_from_lines(lines))
