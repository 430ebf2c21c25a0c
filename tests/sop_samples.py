"""The SOP samples the generation tests read: tests/data/sop-samples, or `CW_SOP_SAMPLES`."""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

_SAMPLES = Path(__file__).resolve().parent / "data" / "sop-samples"


def samples_dir() -> Path:
    path = Path(os.environ.get("CW_SOP_SAMPLES") or _SAMPLES)
    if not (path / "facts.json").is_file():
        raise FileNotFoundError(f"no SOP samples (facts.json) in {path}")
    return path


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


def empty_docx() -> bytes:
    """A Word document whose body holds no text at all."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body/></w:document>",
        )
    return out.getvalue()
