"""One contract for every Embedder: unit vectors of its dimension, batch = single, meaning."""

from __future__ import annotations

import math

import pytest

from infra.embedding import Embedder, HashingEmbedder, MiniLmEmbedder


@pytest.fixture(params=["minilm", "hashing"], scope="module")
def embedder(request: pytest.FixtureRequest) -> Embedder:
    # MiniLM is loaded once per process (a functools cache): every test shares one model.
    return MiniLmEmbedder() if request.param == "minilm" else HashingEmbedder()


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_unit_vectors_of_the_declared_dimension(embedder: Embedder) -> None:
    vectors = embedder.embed(["Lock the cold room door.", "Report every near miss to the supervisor."])
    assert [len(v) for v in vectors] == [embedder.dimension] * 2
    assert all(math.isclose(_dot(v, v), 1.0, abs_tol=1e-4) for v in vectors)
    assert embedder.embed([]) == []


def test_a_batch_gives_the_vectors_one_at_a_time_would(embedder: Embedder) -> None:
    texts = ["Wear gloves in the freezer.", "Check the alarm before leaving.", "Never stay longer than 20 minutes."]
    batch = embedder.embed(texts)
    for text, vector in zip(texts, batch, strict=True):
        assert _dot(embedder.embed([text])[0], vector) > 0.9999


def test_a_question_lands_nearest_its_answer(embedder: Embedder) -> None:
    passages = [
        "Keep a following distance of at least three truck lengths behind another forklift.",
        "Every guest aged 16 or over must complete and sign a registration card.",
        "Cash deposits over $10,000 in one business day require a Currency Transaction Report.",
    ]
    query = "How far behind another forklift must a truck stay?"
    q, *p = embedder.embed([query, *passages])
    scores = [_dot(q, v) for v in p]
    assert scores.index(max(scores)) == 0


def test_tokens_are_counted_for_the_chunker(embedder: Embedder) -> None:
    assert embedder.count_tokens("one two three four") >= 4
    assert embedder.count_tokens("word " * 300) > embedder.count_tokens("word " * 100)
