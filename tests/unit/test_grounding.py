"""The grounding check refuses what the cited text does not say."""

from __future__ import annotations

import pytest

from genpipeline.drafting.grounding import check

SOURCE = "A Guest Service Agent may adjust a disputed charge of up to £50 per folio without approval."
NEVER = "Agents must never say a guest's room number aloud; write it on the key card wallet and point to it instead."


@pytest.mark.parametrize(
    ("item", "source", "reason"),
    [
        (SOURCE.replace("£50", "£250"), SOURCE, "numbers"),
        ("Stay at least four truck lengths behind.", "Stay at least three truck lengths behind.", "numbers"),
        (SOURCE.replace("Guest Service Agent", "Duty Manager"), SOURCE, "names"),
        ("Agents must say a guest's room number aloud.", NEVER, "negation"),
        ("Agents may never adjust a charge.", SOURCE, "negates"),
        ("A Guest Service Agent may refund the whole stay and cancel the booking.", SOURCE, "words not in"),
    ],
)
def test_unsupported_items_fail_with_a_reason(item: str, source: str, reason: str) -> None:
    verdict = check(item, [source])
    assert not verdict.ok
    assert reason in verdict.reason


@pytest.mark.parametrize(
    "item",
    [
        SOURCE,
        "Fill the gap: A Guest Service Agent may adjust a disputed charge of up to ____ per folio without approval."
        " £50",
        "Write it on the key card wallet and point to it instead.",
        "Agents must never say a guest's room number aloud.",
    ],
)
def test_items_the_source_supports_pass(item: str) -> None:
    assert check(item, [SOURCE, NEVER]).ok


def test_an_item_without_citations_fails() -> None:
    assert check(SOURCE, []).reason == "no citation"
