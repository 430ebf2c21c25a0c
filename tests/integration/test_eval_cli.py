"""`coursewright eval generation DIR` as a user runs it: a table per document, a RESULT line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.sop_samples import samples_dir


def test_eval_generation_prints_a_machine_read_result(tmp_path: Path) -> None:
    samples = samples_dir()
    spec = json.loads((samples / "facts.json").read_text())
    spec["documents"] = [d for d in spec["documents"] if d["file"].endswith(".md")]
    for d in spec["documents"]:
        shutil.copy(samples / d["file"], tmp_path / d["file"])
    (tmp_path / "facts.json").write_text(json.dumps(spec))
    env = {**os.environ, "CW_EMBEDDER": "hashing", "CW_LLM_MODEL": "", "CW_QDRANT_URL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "eval", "generation", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    m = re.fullmatch(
        r"RESULT generation facts_cited=([\d.]+) citations_valid=([\d.]+) traps=(\d+) ocr=([\d.]+)"
        r" cefr_ok=([\d.]+) seconds=([\d.]+)",
        last,
    )
    assert m is not None, last
    assert float(m.group(1)) >= 90 and float(m.group(2)) == 100 and m.group(3) == "0"
    assert "warehouse-forklift-inspection-safe-operation.md: facts taught" in done.stdout
