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


# An SOP as an intranet page exports it, made here (none of the samples is HTML): navigation, a script and a
# style that are not its text, numbered headings, nested ordered lists, bullets, a table with a header row.
SOP_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>QA-SOP-014 Cold room</title>
<style>h2 { color: navy }</style><script>track("sop")</script></head>
<body>
<nav><a href="/">Intranet home</a> &gt; <a href="/sops">SOPs</a></nav>
<h1>QA-SOP-014 Cold Room Entry and Stock Rotation</h1>
<table class="meta"><tr><th>Document No.</th><td>QA-SOP-014</td><th>Revision</th><td>3.1</td></tr></table>
<h2>1. Scope</h2>
<p>This procedure applies to every person who enters the <b>walk-in cold room</b> (store 2).</p>
<h2>2. Responsibilities</h2>
<ul><li>The <em>shift supervisor</em> keeps the entry log.</li><li>Stock handlers rotate stock.</li></ul>
<h2>3. Entry</h2>
<div class="callout">Never enter alone<br>after 22:00.</div>
<ol>
  <li>Put on the insulated gloves and jacket.</li>
  <li>Sign the entry log with the time of entry.
    <ol type="a"><li>Write the room temperature shown on the display;</li>
      <li>report any reading above 5 &deg;C.</li></ol>
  </li>
  <li value="4">Never stay inside longer than 20 minutes.</li>
</ol>
<h3>3.1 Temperature limits</h3>
<table>
  <thead><tr><th>Product</th><th>Maximum</th><th>Action</th></tr></thead>
  <tbody>
    <tr><td>Dairy</td><td>5 &deg;C</td><td>Move to store 1</td></tr>
    <tr><td>Fresh meat</td><td>3 &deg;C</td><td>Call the QA manager</td></tr>
  </tbody>
</table>
<h2>4. Stock rotation</h2>
<p>4.1 Oldest stock is placed at the front of the shelf.</p>
<p>a) Check the use-by date of every case.</p>
<!-- reviewed 2026-03 -->
<footer>Uncontrolled when printed</footer>
</body></html>
"""
