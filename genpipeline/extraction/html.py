"""HTML through lxml's HTML parser (libxml2: forgiving of the tag soup exported SOP pages are).

Headings give sections ("<h2>6.4 Loading</h2>" is section 6.4); ordered list items are steps cited
the way a reader cites them ("6.4 step 3", "6.4 step 3 (a)", honouring `start` and `value`);
bullets are items; tables are read row by row, header row first; a paragraph that begins with a
section number ("6.4.1 The driver ...") is cited by it, and a lettered one after it as its sub-step.
Scripts, styles, forms and navigation are not the document's text. HTML has no pages.
"""

from __future__ import annotations

import re
from typing import Any

from genpipeline.extraction.document import NEVER, Block, BlockKind, Document, Stop
from genpipeline.extraction.extractor import HTML, Extractor

_HEADING_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")
_STEP_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})+)\.?\s+\S")
_LETTERED = re.compile(r"^\(?([a-z])\)\s+\S")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_LEAVES = frozenset({"p", "pre", "dt", "dd", "caption", "figcaption", "address", "summary", "legend"})
_CONTAINERS = frozenset(
    {"html", "body", "main", "article", "section", "div", "header", "footer", "aside", "blockquote", "figure"}
    | {"details", "dl", "center", "fieldset", "thead", "tbody", "tfoot", "hgroup", "search"}
)
_LISTS = frozenset({"ol", "ul", "menu"})
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "nav", "form", "button", "select", "svg"})


class HtmlExtractor(Extractor):
    media_types = frozenset({HTML})

    def extract(self, name: str, data: bytes, stop: Stop = NEVER) -> Document:
        import lxml.html

        root = lxml.html.document_fromstring(data)
        walker = _Walker()
        walker.container(root)
        return Document.assemble(name, HTML, None, walker.blocks)


def _tag(element: Any) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""  # comments and processing instructions have no name


def _flat(text: str | None) -> str:
    return " ".join((text or "").split())


def _inline_text(element: Any, *, without: frozenset[str] = frozenset()) -> str:
    """The element's text, skipping subtrees of the tags `without` and of the skipped tags."""
    parts: list[str] = [element.text or ""]
    for child in element:
        tag = _tag(child)
        if tag and tag not in without and tag not in _SKIPPED:
            parts.append(" " if tag == "br" else _inline_text(child, without=without))
        parts.append(child.tail or "")
    return "".join(parts)


class _Walker:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.section = ""
        self.title = ""
        self.step = ""  # the number of the numbered paragraph a lettered one belongs to

    def _add(self, kind: BlockKind, text: str, cite: str) -> None:
        if text:
            self.blocks.append(Block(kind, text, cite, self.title, None))

    def container(self, element: Any) -> None:
        """Block children in order; loose text between them is a paragraph of its own."""
        loose: list[str] = [element.text or ""]
        for child in element:
            tag = _tag(child)
            if tag in _SKIPPED or not tag:
                pass
            elif tag in _HEADINGS or tag in _LEAVES or tag in _CONTAINERS or tag in _LISTS or tag in {"table", "hr"}:
                self.paragraph(_flat("".join(loose)))
                loose = []
                self.block(child)
            else:
                loose.append(" " if tag == "br" else _inline_text(child))
            loose.append(child.tail or "")
        self.paragraph(_flat("".join(loose)))

    def block(self, element: Any) -> None:
        tag = _tag(element)
        if tag in _HEADINGS:
            self.heading(_flat(_inline_text(element)))
        elif tag in _LISTS:
            self.a_list(element, [])
        elif tag == "table":
            self.table(element)
        elif tag in _LEAVES:
            self.paragraph(_flat(_inline_text(element)))
        elif tag in _CONTAINERS:
            self.container(element)

    def heading(self, text: str) -> None:
        if not text:
            return
        m = _HEADING_NUMBER.match(text)
        self.section, self.title = (m.group(1), m.group(2)) if m else (self.section, text)
        self.step = ""
        self._add("heading", text, self.section)

    def paragraph(self, text: str) -> None:
        if not text:
            return
        if m := _STEP_NUMBER.match(text):
            self.step = m.group(1)
            self._add("step", text, self.step)
        elif (m := _LETTERED.match(text)) and self.step:
            self._add("step", text, f"{self.step} ({m.group(1)})")
        else:
            self._add("paragraph", text, self.section)

    def a_list(self, element: Any, numbers: list[int]) -> None:
        """Items of an <ol> are steps, numbered as shown (`start`, `value`, `reversed` aside)."""
        ordered = _tag(element) == "ol"
        n = _int(element.get("start"), 1) - 1
        for item in element:
            if _tag(item) != "li":
                if _tag(item) in _LISTS:  # a list nested directly in a list, as some editors write it
                    self.a_list(item, numbers)
                continue
            n = _int(item.get("value"), n + 1)
            text = _flat(_inline_text(item, without=_LISTS | {"table"}))
            path = [*numbers, n] if ordered else numbers
            if text:
                if ordered:
                    self._add("step", f"{_label(path)} {text}", self._cite(path))
                else:
                    self._add("item", f"\u2022 {text}", self._cite(numbers) if numbers else self.section)
            for child in item.iter():
                if child is not item and _tag(child) in _LISTS and _tag(child.getparent()) not in _LISTS:
                    if _nearest_item(child) is item:
                        self.a_list(child, path)
                elif child is not item and _tag(child) == "table" and _nearest_item(child) is item:
                    self.table(child)

    def _cite(self, path: list[int]) -> str:
        cite = f"{self.section} step {path[0]}" if self.section else f"step {path[0]}"
        return cite + "".join(f" ({_letter(n)})" for n in path[1:])

    def table(self, element: Any) -> None:
        """Row by row, header row first; a table nested in a cell is read as that cell's text."""
        rows = [row for row in element.iter("tr") if _nearest_table(row) is element]
        rows.sort(key=lambda row: 0 if _tag(row.getparent()) == "thead" else 1)
        for row in rows:
            cells = [_flat(_inline_text(cell)) for cell in row if _tag(cell) in {"th", "td"}]
            self._add("table_row", " | ".join(c for c in cells if c), self.section)


def _nearest_item(element: Any) -> Any:
    parent = element.getparent()
    while parent is not None and _tag(parent) != "li":
        parent = parent.getparent()
    return parent


def _nearest_table(element: Any) -> Any:
    parent = element.getparent()
    while parent is not None and _tag(parent) != "table":
        parent = parent.getparent()
    return parent


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _letter(n: int) -> str:
    return chr(ord("a") + n - 1) if 1 <= n <= 26 else str(n)


def _label(path: list[int]) -> str:
    """What the reader sees before the step: "3." at the top, "(a)" below."""
    return f"{path[0]}." if len(path) == 1 else f"({_letter(path[-1])})"
