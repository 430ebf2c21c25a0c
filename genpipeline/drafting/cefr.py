"""CEFR levelling: measure a text's level, and find the words a learner at a level needs glossed.

The measure combines vocabulary and sentence length, as readability formulas do. A word's level
comes from cefrpy's CEFR word list, or, for words it does not list, from its frequency in
English (wordfreq's Zipf scale: everyday words are easy). The lexical level is that of the
harder words (the 85th percentile), not the average: a text is as hard as what a reader must
look up. Terms the lesson glosses and numbers do not count: the learner is given them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
_WORD = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


def level_index(level: str) -> int:
    """A1 -> 1 ... C2 -> 6."""
    return LEVELS.index(level) + 1


@functools.cache
def _analyzer() -> Any:
    from cefrpy import CEFRAnalyzer

    return CEFRAnalyzer()


@functools.cache
def word_level(word: str) -> float:
    """1.0 (A1) to 6.0 (C2)."""
    word = word.lower()
    analyzer = _analyzer()
    if analyzer.is_word_in_database(word):
        level = analyzer.get_average_word_level_float(word)
        if level:
            return float(level)
    from wordfreq import zipf_frequency

    zipf = zipf_frequency(word, "en")
    for threshold, level in ((5.5, 1.0), (4.8, 2.0), (4.0, 3.0), (3.3, 4.0), (2.5, 5.0)):
        if zipf >= threshold:
            return level
    return 6.0


def hard_words(text: str, target: str) -> list[str]:
    """Words above the target level, in order of appearance, once each."""
    limit = level_index(target)
    seen: dict[str, str] = {}
    for w in _WORD.findall(text):
        if w.lower() not in seen and "'" not in w and round(word_level(w)) > limit:
            seen[w.lower()] = w
    return list(seen.values())


def measure(texts: Iterable[str], glossed: Iterable[str] = ()) -> str:
    """The CEFR level of the texts taken together."""
    skip = {w.lower() for term in glossed for w in _WORD.findall(term)}
    levels: list[float] = []
    lengths: list[int] = []
    for text in texts:
        for sentence in _SENTENCE.split(text):
            found = _WORD.findall(sentence)
            if not found:
                continue
            lengths.append(len(found))
            levels += [word_level(w) for w in found if w.lower() not in skip]
    if not levels:
        return LEVELS[0]
    levels.sort()
    lexical = levels[min(len(levels) - 1, int(len(levels) * 0.85))]
    mean_length = sum(lengths) / len(lengths)
    syntactic = next((n for n, limit in enumerate((8, 12, 16, 21, 27), start=1) if mean_length <= limit), 6)
    score = 0.6 * lexical + 0.4 * syntactic
    return LEVELS[max(0, min(5, round(score) - 1))]
