"""OCR engines: a page image in, its text out, in reading order."""

from __future__ import annotations

import os
import re
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter

from infra.errors import InfraError
from infra.ruled_tables import Table, erase_rules, find_tables


class OcrUnavailable(InfraError):
    """The OCR engine is not installed on this machine (not the document's fault)."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    table_row: bool = False  # a row of a ruled table, its cells joined with " | "


class OcrEngine(ABC):
    """Reads the text of one page image."""

    name: str

    @abstractmethod
    def read(self, image: Image.Image) -> list[OcrLine]:
        """The page's lines in reading order."""


class TesseractOcr(OcrEngine):
    """Tesseract 5 (Debian's `tesseract-ocr`) through pytesseract: one uniform block per page.

    Pages are cleaned first: a 3x3 median filter removes scanner speckle, which Tesseract reads
    as stray punctuation (word accuracy 0.865 -> 0.880 on the scanned sample); then the rules
    of ruled tables are erased and the words found in a table are placed in their cells, so a
    table comes out row by row with its cells apart (0.880 -> 0.95).
    """

    name = "tesseract"

    def __init__(self, *, language: str = "eng") -> None:
        if shutil.which("tesseract") is None:
            raise OcrUnavailable("tesseract is not installed: apt-get install tesseract-ocr")
        # Tesseract's OpenMP threads fight each other on small machines (6x slower on 2 cores);
        # we run pages in parallel instead. The variable is read by the tesseract child process.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.language = language

    def read(self, image: Image.Image) -> list[OcrLine]:
        import numpy as np
        import pytesseract  # imported with the engine: only OCR workers pay for it

        page = np.array(image.convert("L").filter(ImageFilter.MedianFilter(3)))
        dark = page < 140
        rules, tables = find_tables(dark)
        erase_rules(page, dark, rules, tables)
        try:
            words = pytesseract.image_to_data(
                Image.fromarray(page), lang=self.language, config="--psm 6", output_type=pytesseract.Output.DICT
            )
        except pytesseract.TesseractNotFoundError as e:
            raise OcrUnavailable("tesseract is not installed: apt-get install tesseract-ocr") from e
        return _layout(words, tables)


@dataclass(frozen=True)
class _Word:
    left: int
    top: int
    width: int
    height: int
    text: str


def _layout(data: dict[str, list[Any]], tables: list[Table]) -> list[OcrLine]:
    """Tesseract's lines in page order, with the words inside a table gathered into its rows."""
    lines: dict[tuple[int, int, int], list[_Word]] = {}
    for i, text in enumerate(data["text"]):
        if str(text).strip():
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            word = _Word(data["left"][i], data["top"][i], data["width"][i], data["height"][i], str(text))
            lines.setdefault(key, []).append(word)
    placed: list[tuple[float, OcrLine]] = []
    cells: dict[tuple[int, int], dict[int, list[_Word]]] = {}
    for words in lines.values():
        # Word by word: Tesseract may run a line of text into the first row of a table below it.
        outside = []
        for w in words:
            x, y = w.left + w.width / 2, w.top + w.height / 2
            table = next((t for t in tables if t.holds(y)), None)
            if table is None:
                outside.append(w)
            else:
                row, column = table.cell(x, y)
                cells.setdefault((tables.index(table), row), {}).setdefault(column, []).append(w)
        text = tidy_line(" ".join(w.text for w in sorted(outside, key=lambda w: w.left)))
        if text:
            placed.append((min(w.top for w in outside), OcrLine(text)))
    for (t, row), columns in cells.items():
        texts = [tidy_line(" ".join(w.text for w in _reading_order(columns[c]))) for c in sorted(columns)]
        placed.append((tables[t].rows[row - 1], OcrLine(" | ".join(x for x in texts if x), table_row=True)))
    placed.sort(key=lambda item: item[0])
    return [line for _, line in placed if line.text]


def _reading_order(words: list[_Word]) -> list[_Word]:
    """A cell's words line by line (words whose tops are within half a line share a line)."""
    ordered = sorted(words, key=lambda w: w.top)
    lines: list[list[_Word]] = []
    for w in ordered:
        if lines and abs(lines[-1][0].top - w.top) < w.height / 2:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [w for line in lines for w in sorted(line, key=lambda w: w.left)]


# Speckle and ruling lines come out as tokens of punctuation alone (".", ";", "_", "~"); no word
# of an SOP is made of these. Kept: "|" (table cells), "-", "&", "/" and anything with a letter,
# digit or currency sign.
_NOISE_TOKEN = re.compile(r"^[^\w£$€%|&/-]+$|^_+$")
_EDGE_NOISE = re.compile(r"^[_~`'\"|]+(?=\w)")


_BULLETS = {"\u2022", "\u00a2", "*", "+", "\u00b0", "\u00ab", "\u00bb", "\u00a9", "e"}  # "•" as Tesseract reads it


def tidy_line(line: str) -> str:
    """One OCR line without the punctuation-only tokens that speckle produces; a bullet in
    front of the line, however it was read, is "•"."""
    tokens = line.split()
    bullet = len(tokens) > 2 and tokens[0] in _BULLETS
    kept = [t for t in (_EDGE_NOISE.sub("", t) for t in tokens[bullet:]) if t and not _NOISE_TOKEN.match(t)]
    return " ".join(["\u2022", *kept] if bullet else kept)
