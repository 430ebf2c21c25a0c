"""Ruled tables in a scanned page: found by their lines, so OCR can read them cell by cell.

A rule is a long run of dark pixels (a third of the page wide or more, small gaps and a little
skew allowed); three or more rules close together, crossed by two or more vertical rules, make
a table. The rules are then erased so that OCR does not read them as letters ("|", "_", "—"),
and each word OCR finds inside the table is placed in its cell by its position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.bool_]
_RULE_GAP = 200  # pixels at 300 dpi (2/3 inch): rules farther apart belong to different tables


@dataclass(frozen=True)
class Table:
    rows: tuple[int, ...]  # y of each horizontal rule, top to bottom
    columns: tuple[int, ...]  # x of each vertical rule, left to right

    def holds(self, y: float) -> bool:
        return self.rows[0] < y < self.rows[-1]

    def cell(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) from 1, counted in rules passed."""
        return sum(1 for r in self.rows if r < y), sum(1 for c in self.columns if c < x)


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _thicken(mask: Mask, axis: int, by: int) -> Mask:
    out = mask.copy()
    for shift in range(-by, by + 1):
        out |= np.roll(mask, shift, axis=axis)
    return out


def horizontal_rules(dark: Mask) -> list[int]:
    """The y of every long horizontal line on the page."""
    width = dark.shape[1]
    band = _thicken(_thicken(dark, 0, 2), 1, 2)  # skew spreads a rule over rows; print leaves gaps
    longest = np.array([max((end - start for start, end in _runs(row)), default=0) for row in band])
    return [(a + b) // 2 for a, b in _runs(longest > width * 0.3)]


def find_tables(dark: Mask) -> tuple[list[int], list[Table]]:
    """All horizontal rules, and the tables among them."""
    rules = horizontal_rules(dark)
    clusters: list[list[int]] = []
    for y in rules:
        if clusters and y - clusters[-1][-1] <= _RULE_GAP:
            clusters[-1].append(y)
        else:
            clusters.append([y])
    tables = []
    for ys in clusters:
        if len(ys) < 3:
            continue
        region = _thicken(dark[ys[0] : ys[-1]], 1, 2)
        columns = [(a + b) // 2 for a, b in _runs(region.mean(axis=0) > 0.8)]
        if len(columns) >= 2:
            tables.append(Table(tuple(ys), tuple(columns)))
    return rules, tables


def erase_rules(page: npt.NDArray[np.uint8], dark: Mask, rules: list[int], tables: list[Table]) -> None:
    """Whiten the rules in place (only their dark pixels: text crossing them is kept)."""
    for y in rules:
        top, bottom = max(0, y - 5), y + 6
        page[top:bottom][dark[top:bottom]] = 255
    for table in tables:
        for x in table.columns:
            page[table.rows[0] : table.rows[-1], max(0, x - 5) : x + 6] = 255
