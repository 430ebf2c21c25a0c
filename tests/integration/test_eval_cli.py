"""`coursewright eval generation DIR` as a user runs it, on the shared SOP samples: each document
ordered through the command bus (its bytes into S3 through the document command), drafted by the
pipeline's subscriptions from the relayed events (MiniLM, local Qdrant, Tesseract), read back
through the course query and scored: a row per document and the machine-read RESULT line.

Once with the offline grounded writer (the issue's goals held), once with litellm against an
OpenAI-compatible server the test starts, which answers from the prompt's excerpts and breaks its
first answer of every lesson (the prompt, the JSON validation and the retry are proven)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import psycopg

from infra.settings import Settings
from tests.conftest import S3Server, make_settings, service_env
from tests.openai_server import OpenAiServer
from tests.sop_samples import samples_dir

ROOT = Path(__file__).resolve().parents[2]
RESULT = re.compile(
    r"RESULT generation facts_cited=([\d.]+) citations_valid=([\d.]+) traps=(\d+) ocr=([\d.]+)"
    r" cefr_ok=([\d.]+) seconds=([\d.]+)"
)


async def _eval(settings: Settings, s3: S3Server, **extra: str) -> tuple[list[str], str]:
    """The command in a process of its own on the test's services; its stdout lines and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env |= service_env(settings) | {
        "CW_S3_URL": s3.url,
        "CW_S3_ACCESS_KEY": s3.access_key,
        "CW_S3_SECRET_KEY": s3.secret_key,
        "CW_EMBEDDED": "auto",  # every service answers: none is started
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    for name in ("CW_SUBJECT_PREFIX", "CW_EVENTS_STREAM"):
        env.pop(name, None)  # the command makes its own scratch of them
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "eval",
        "generation",
        str(samples_dir()),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 900)  # a guard against a hang
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode().strip().splitlines(), err.decode()


def _result(lines: list[str]) -> re.Match[str]:
    m = RESULT.fullmatch(lines[-1])
    assert m is not None, lines[-1]
    return m


def _rows(lines: list[str]) -> dict[str, str]:
    documents = [d["file"] for d in json.loads((samples_dir() / "facts.json").read_text())["documents"]]
    rows = {d: next((line for line in lines if line.startswith(f"{d}: ")), "") for d in documents}
    assert all(rows.values()), lines
    return rows


def _eval_databases(settings: Settings) -> list[str]:
    with psycopg.connect(psycopg.conninfo.make_conninfo(settings.pg_dsn, dbname="postgres")) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'cw_eval_%'").fetchall()
    return [r[0] for r in rows]


async def test_the_offline_course_of_every_sample_through_the_order_path_meets_the_goals(
    database: str, s3_server: S3Server
) -> None:
    settings = make_settings(database)
    before = _eval_databases(settings)
    lines, err = await _eval(settings, s3_server, CW_LLM_MODEL="")
    m = _result(lines)
    facts_cited, valid, traps, ocr, cefr_ok = float(m[1]), float(m[2]), int(m[3]), float(m[4]), float(m[5])
    assert facts_cited >= 90 and valid == 100 and traps == 0 and ocr >= 98 and cefr_ok == 100, lines
    for file, row in _rows(lines).items():
        assert "order to draft in review" in row and "FAILED" not in row, row
        assert ("ocr=" in row) == file.endswith("scanned.pdf")
    assert "submit for review" in err  # the progress bar followed each order's stages
    assert set(_eval_databases(settings)) <= set(before)  # its scratch database is gone (others' runs may end)


async def test_the_litellm_course_through_the_order_path_is_cited_and_grounded(
    database: str, s3_server: S3Server
) -> None:
    server = OpenAiServer()  # answers from the prompt's excerpts; every first answer is broken JSON
    base = await server.start()
    try:
        lines, _ = await _eval(
            make_settings(database),
            s3_server,
            CW_LLM_MODEL="openai/test-model",
            CW_LLM_API_BASE=base,
            CW_LLM_API_KEY="k",
        )
    finally:
        await server.stop()
    m = _result(lines)
    assert float(m[2]) == 100 and int(m[3]) == 0 and float(m[5]) == 100, lines
    assert float(m[1]) >= 90, lines  # the server copies the excerpts: the facts are there, cited
    lessons = 0
    for row in _rows(lines).values():
        counted = re.search(r"one CEFR level \d+/(\d+)", row)
        assert counted is not None, row
        lessons += int(counted[1])
    first = [r for r in server.requests if len(r["messages"]) == 2]
    retried = [r for r in server.requests if len(r["messages"]) == 4]
    # Every lesson was asked once, answered with broken JSON, and asked again with the error.
    assert len(first) == len(retried) == lessons == len(server.requests) // 2
    for request in first:
        system, ask = request["messages"]
        assert '"objectives"' in system["content"] and "JSON Schema" in system["content"]
        assert request["response_format"] == {"type": "json_object"}
        excerpts = json.loads(ask["content"].split("Excerpts:\n", 1)[1])
        assert excerpts and all(e["id"] and e["text"] for e in excerpts)
    assert all("not valid" in r["messages"][-1]["content"] for r in retried)
