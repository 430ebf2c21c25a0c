"""ingest: SOP pages per second through extract -> chunk -> embed -> index (local Qdrant),
for the shared samples with a text layer (the scanned one apart: OCR is its own figure).

The samples are read as one order's documents, as the pipeline's worker reads them: each
extracted and chunked, then all the chunks embedded in one call (full batches, sorted by length
across documents) and upserted. Baseline, same run: the bare MiniLM model encoding the same
chunks (pages / encoding time). Rounds of each, alternating; the medians are compared, with the
load average printed. `--ingest-only` skips the OCR and end-to-end figures; `--compare` also
runs, each round, the design before (each document's chunks embedded on their own), the three
measures in rotated order, and prints the ratio of the two per round. Also printed: OCR seconds per
page of the scanned sample, its word accuracy against the ground truth, and, for each sample,
the time from its order placed to its draft submitted for review through the real order path
(PostgreSQL, the relay, NATS, S3, the pipeline's subscription, the offline writer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from genpipeline.course_builder import CourseBuilder
from genpipeline.drafting.grounded import GroundedWriter
from genpipeline.evaluation import word_accuracy
from genpipeline.extraction import every_format
from genpipeline.worker import GenerationPipeline
from infra.embedding import MiniLmEmbedder
from infra.ocr import TesseractOcr
from infra.seaweed import free_port_pairs, start_weed
from infra.vectorstore import QdrantVectorStore
from tests.bench._report import result
from tests.conftest import create_database, drop_database, make_settings
from tests.integration.pipeline_support import open_world
from tests.sop_samples import samples_dir

ROUNDS = 5


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f})"


async def main(*, rounds: int, ingest_only: bool, compare: bool) -> None:
    folder = samples_dir()
    spec = json.loads((folder / "facts.json").read_text())
    documents = [
        (d["file"], (folder / d["file"]).read_bytes(), d["pages"])
        for d in spec["documents"]
        if "scanned" not in d["format"].lower()
    ]
    pages = sum(p for _, _, p in documents)
    embedder = MiniLmEmbedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        store = QdrantVectorStore(path=Path(tmp) / "q")
        builder = CourseBuilder(every_format(None), embedder, store, GroundedWriter())
        org = uuid5(NAMESPACE_URL, "bench")
        ours: list[float] = []
        before: list[float] = []
        bare: list[float] = []
        chunks_total = 0
        order = uuid5(org, "order")
        print(f"start: {load()}")

        async def ingest(per_document: bool) -> list[str]:
            """One pass over the samples; its rate is recorded, its chunks' texts returned."""
            started = time.perf_counter()
            chunks = []
            for name, data, _ in documents:
                document = await builder.extract(name, data)
                found = builder.chunk(document)
                if per_document:
                    await builder.index(org, order, found)
                chunks += found
            if not per_document:
                await builder.index(org, order, chunks)
            (before if per_document else ours).append(pages / (time.perf_counter() - started))
            return [c.embedding_text for c in chunks]

        texts = [
            c.embedding_text for name, data, _ in documents for c in builder.chunk(await builder.extract(name, data))
        ]
        for n in range(rounds):
            # The three measures in turn, their order rotated each round: the same moment for each.
            for step in ((0, 1, 2), (1, 2, 0), (2, 0, 1))[n % 3]:
                if step == 2:
                    started = time.perf_counter()
                    embedder.encoder.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
                    bare.append(pages / (time.perf_counter() - started))
                elif step == 1 and not compare:
                    continue
                else:
                    texts = await ingest(per_document=step == 1)
            chunks_total = len(texts)
        await store.close()
    print(f"{pages} pages, {chunks_total} chunks per round; end: {load()}")
    print("rounds ours:", " ".join(f"{x:.2f}" for x in ours), "bare:", " ".join(f"{x:.2f}" for x in bare))
    if compare:
        ratios = [a / b for a, b in zip(ours, before, strict=True)]
        print(
            "before (each document embedded on its own):",
            " ".join(f"{x:.2f}" for x in before),
            f"ratio to bare {statistics.median(before) / statistics.median(bare):.3f};",
            f"ours/before per round: median {statistics.median(ratios):.3f} ({' '.join(f'{r:.2f}' for r in ratios)})",
        )
    result("ingest", statistics.median(ours), statistics.median(bare), " pages/s")
    if ingest_only:
        return
    scan = next(d for d in spec["documents"] if "scanned" in d["format"].lower())
    started = time.perf_counter()
    text = every_format(TesseractOcr()).extract(scan["file"], (folder / scan["file"]).read_bytes()).text
    seconds = time.perf_counter() - started
    truth = folder / (Path(scan["file"]).stem + ".groundtruth.txt")
    reference = "\n".join(line for line in truth.read_text().splitlines() if not line.startswith("#"))
    print(f"ocr: {seconds / scan['pages']:.1f} s/page, word accuracy {100 * word_accuracy(reference, text):.1f}%")
    await end_to_end(embedder, folder, spec["documents"])


async def end_to_end(embedder: MiniLmEmbedder, folder: Path, documents: list[dict[str, Any]]) -> None:
    """Each sample as an order of its own, placed to draft submitted, one after the other."""
    dsn = create_database("cw_bench_e2e")
    with tempfile.TemporaryDirectory() as tmp:
        (port,) = free_port_pairs(1)
        weed = start_weed(Path(tmp), port, Path(tmp), "bench", "bench-secret")
        store = QdrantVectorStore(path=Path(tmp) / "q")
        try:
            s3 = {"s3_url": f"http://127.0.0.1:{port}", "s3_access_key": "bench", "s3_secret_key": "bench-secret"}
            async with open_world(make_settings(dsn, **s3)) as world:
                builder = CourseBuilder(every_format(TesseractOcr()), embedder, store, GroundedWriter())
                async with world.running(GenerationPipeline(world.bus, world.documents, builder)):
                    for d in documents:
                        started = time.perf_counter()
                        order = await world.place([(d["file"], (folder / d["file"]).read_bytes())])
                        done = await world.until_order(order, "draft_ready", "failed")
                        seconds = time.perf_counter() - started
                        print(
                            f"order to draft: {d['file']} ({d['pages']} pages) {done.status} in {seconds:.1f} s"
                            f" ({10 * seconds / d['pages']:.1f} s per 10 pages; {load()})"
                        )
        finally:
            await store.close()
            weed.stop()
            drop_database(dsn)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--ingest-only", action="store_true")
    parser.add_argument("--compare", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(rounds=options.rounds, ingest_only=options.ingest_only, compare=options.compare))
