"""The grounding check: an item must say nothing its cited source text does not say.

Numbers and amounts, negations and named roles must match the cited text exactly; beyond that,
the item's content words must mostly come from the source (an overlap check: a paraphrase that
brings in new content fails it). Words of our own templates ("fill the gap") are not content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from genpipeline.drafting.sources import words

_NUMBER = re.compile(r"[£$€]?\d+(?:[.,:]\d+)*%?")
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "twelve": "12", "twenty": "20", "thirty": "30",
}  # fmt: skip
_NEGATIONS = {"not", "never", "no", "cannot", "nobody", "nothing", "none", "n't"}
_ROLE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|\d+))+)")
# Words our templates add around source text; they carry no claim.
_TEMPLATE = (
    "fill the gap gaps what does sop say about and else rule remember know apply section trainee trainer "
    "which value word completes complete sentence true false used in means term learn lesson this you can "
    "explain state follow steps step answer question here"
)
_COMMON = (
    "a an the of to in on at for by with and or but if is are be been was were it its this that these those "
    "as from into than then so such any all each every their they them there he she his her we our you your "
    "i me my do does did has have had will would shall should may might must can could also only more most "
    "other another same who whom which what when where why how up out over under before after cannot known"
)
TEMPLATE_WORDS = frozenset(_TEMPLATE.split())
COMMON_WORDS = _STOP = frozenset(_COMMON.split())


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def numbers_in(text: str) -> set[str]:
    found = {n.rstrip(".,:").replace(",", "") for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in words(text) if w in _NUMBER_WORDS}
    return {n.lstrip("£$€") for n in found}


def check(item: str, sources: Sequence[str], *, min_overlap: float = 0.75) -> Verdict:
    """Is `item` supported by the cited `sources` (the quoted text of its citations)?"""
    if not sources:
        return Verdict(False, "no citation")
    source = " ".join(sources)
    missing = numbers_in(item) - numbers_in(source)
    if missing:
        return Verdict(False, f"numbers not in the source: {', '.join(sorted(missing))}")
    item_words, source_words = set(words(item)), set(words(source))
    if (item_words & _NEGATIONS) and not (source_words & _NEGATIONS):
        return Verdict(False, "negates what the source affirms")
    if not (item_words & _NEGATIONS) and _restates_a_negated_clause(item_words, source):
        return Verdict(False, "drops the source's negation")
    roles = {r for r in _ROLE.findall(item) if r.lower() not in source.lower()}
    if roles:
        return Verdict(False, f"names not in the source: {', '.join(sorted(roles))}")
    content = [w for w in words(item) if w not in _STOP and w not in TEMPLATE_WORDS and not w[0].isdigit()]
    if content:
        stems = {_stem(w) for w in source_words}
        supported = sum(1 for w in content if _stem(w) in stems)
        if supported / len(content) < min_overlap:
            unsupported = sorted({w for w in content if _stem(w) not in stems})
            return Verdict(False, f"words not in the source: {', '.join(unsupported[:6])}")
    return Verdict(True)


def _restates_a_negated_clause(item_words: set[str], source: str) -> bool:
    """The item repeats most of a negated clause of the source: without the negation, it
    claims the opposite."""
    for clause in re.split(r"[;:,]|[.!?]\s|\band\b", source):
        clause_words = set(words(clause))
        if not clause_words & _NEGATIONS:
            continue
        content = {w for w in clause_words if w not in _STOP and w not in _NEGATIONS}
        if content and len(item_words & content) / len(content) > 0.5:
            return True
    return False


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word
