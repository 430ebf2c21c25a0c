"""Where the shared SOP samples are: `CW_SOP_SAMPLES`, else `shared/sop-samples` beside the clone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def samples_dir() -> Path:
    configured = os.environ.get("CW_SOP_SAMPLES")
    candidates = [Path(configured)] if configured else []
    # CI clones beside shared/; a worktree under /work/wt/NAME finds it two levels up.
    candidates += [_REPO.parent / "shared" / "sop-samples", _REPO.parent.parent / "shared" / "sop-samples"]
    for path in candidates:
        if (path / "facts.json").is_file():
            return path
    raise FileNotFoundError(f"no SOP samples in {[str(c) for c in candidates]}; set CW_SOP_SAMPLES")


@dataclass(frozen=True)
class Fact:
    id: str
    section: str
    source_sentence: str


def facts(file: str) -> list[Fact]:
    data = json.loads((samples_dir() / "facts.json").read_text())
    doc = next(d for d in data["documents"] if d["file"] == file)
    return [Fact(f["id"], f["section"], f["source_sentence"]) for f in doc["facts"]]


def sample(file: str) -> bytes:
    return (samples_dir() / file).read_bytes()
