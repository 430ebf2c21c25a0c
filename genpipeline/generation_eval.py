"""`coursewright eval generation DIR`: the pipeline's stages on every document of a folder
that has a facts.json, scored per document and in total (see genpipeline.evaluation)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from genpipeline.course_builder import CourseBuilder, Ingested
from genpipeline.evaluation import DocumentScore, result_line, score_document, word_accuracy


async def evaluate_folder(
    folder: Path, builder: CourseBuilder, *, level: str = "B1", echo: Callable[[str], None] = print
) -> list[DocumentScore]:
    """Each document is its own order of one organisation; returns the scores and prints them."""
    org = uuid5(NAMESPACE_URL, f"eval:{folder}")
    scores = []
    for entry, data, truth in await asyncio.to_thread(_load, folder):
        file = entry["file"]
        started = time.perf_counter()
        order = uuid5(org, file)
        document = await builder.extract(file, data)
        chunks = builder.chunk(document)
        await builder.index(org, order, chunks)
        outline = builder.outline(entry.get("title", file), [Ingested(document, chunks)])
        by_key = {c.key: c for c in chunks}
        lessons = [
            await builder.write(org, order, plan, [by_key[k] for k in plan.chunks], level)
            for module in outline.modules
            for plan in module.lessons
        ]
        score = score_document(
            file,
            document,
            lessons,
            entry["facts"],
            entry.get("traps", []),
            level,
            {k: c.text for k, c in by_key.items()},
        )
        if truth is not None:
            score.ocr = word_accuracy(truth, document.text)
        score.seconds = time.perf_counter() - started
        scores.append(score)
        echo(_row(score))
    echo(result_line(scores))
    return scores


def _load(folder: Path) -> list[tuple[dict[str, Any], bytes, str | None]]:
    """Each document's facts entry, its bytes, and the OCR ground truth beside it if any
    (its lines starting with "#" are notes, not text)."""
    spec = json.loads((folder / "facts.json").read_text())
    out = []
    for entry in spec["documents"]:
        truth = folder / (Path(entry["file"]).stem + ".groundtruth.txt")
        reference = None
        if truth.is_file():
            reference = "\n".join(line for line in truth.read_text().splitlines() if not line.startswith("#"))
        out.append((entry, (folder / entry["file"]).read_bytes(), reference))
    return out


def _row(s: DocumentScore) -> str:
    ocr = f" ocr={100 * s.ocr:.1f}%" if s.ocr is not None else ""
    missed = f" missed={','.join(s.missed)}" if s.missed else ""
    return (
        f"{s.file}: facts taught {s.taught}/{s.facts}, cited {s.cited}/{s.facts};"
        f" citations valid {s.valid_citations}/{s.citations}; traps {s.traps};"
        f" lessons within one CEFR level {s.cefr_ok}/{s.lessons}{ocr}; {s.seconds:.1f} s{missed}"
    )
