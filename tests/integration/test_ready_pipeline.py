"""`/ready` reports the generation pipeline's dependencies as it reports the other services:
S3 probed by the gateway itself, Qdrant and the LLM as the pipeline process (the one that opens
the local Qdrant folder and calls the LLM) answers on NATS; down while it does not answer, the
LLM disabled when no model is configured. Real gateway, NATS, S3 (weed), local Qdrant and an
OpenAI-compatible server the test starts and stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from commands.documents import SopDocuments
from gateway.bootstrap import Root
from genpipeline.course_builder import CourseBuilder
from genpipeline.drafting.llm_writer import LlmWriter
from genpipeline.extraction import every_format
from genpipeline.service import run_pipeline
from genpipeline.worker import GenerationPipeline
from infra.blobs.s3 import S3BlobStore
from infra.embedding import HashingEmbedder
from infra.llm import LiteLlmChatModel
from infra.nats import NatsConnector
from infra.settings import Settings
from infra.vectorstore import QdrantVectorStore
from tests.conftest import S3Server, make_settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, running_gateway
from tests.integration.pipeline_support import in_background
from tests.openai_server import OpenAiServer
from tests.ports import make_ports

pytestmark = QUERIES_DEPRECATIONS
OPERATOR = {"Authorization": "Bearer scrape-me-0123456789"}


async def ready(api: Api, *, operator: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = (await api.client.get("/ready", headers=OPERATOR if operator else {})).json()
    return body


async def until_ready_says(api: Api, **wanted: str) -> dict[str, Any]:
    """Poll /ready until each named service has the wanted status (a guard against a hang)."""
    async with asyncio.timeout(60):
        while True:
            body = await ready(api, operator=True)
            if all(body[name]["status"] == status for name, status in wanted.items()):
                return body
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def pipeline_process(settings: Settings, tmp_path: Path, writer: LlmWriter) -> AsyncIterator[None]:
    """The pipeline component's subscriptions on its own NATS connections, as `run pipeline` runs them."""
    store = QdrantVectorStore(path=tmp_path / "qdrant")
    builder = CourseBuilder(every_format(None), HashingEmbedder(), store, writer)
    async with Root(settings, make_ports()) as root:
        pipeline = GenerationPipeline(root.bus, root.ports.documents, builder)
        try:
            async with in_background(run_pipeline(settings, NatsConnector(settings), pipeline)):
                yield
        finally:
            await store.close()


async def test_ready_reports_s3_and_what_the_pipeline_says_of_qdrant_and_the_llm(
    database: str, s3_server: S3Server, tmp_path: Path
) -> None:
    llm = OpenAiServer()
    base = await llm.start()
    settings = make_settings(
        database,
        **s3_server.settings(),
        llm_model="openai/test-model",
        llm_api_base=base,
        llm_api_key=SecretStr("k"),
        metrics_token=SecretStr("scrape-me-0123456789"),
    )
    blobs = S3BlobStore(s3_server.url, s3_server.access_key, s3_server.secret_key, settings.s3_bucket)
    await blobs.start()
    ports = make_ports(documents=SopDocuments(blobs, max_bytes=1_000_000, order_max_bytes=5_000_000))
    try:
        async with running_gateway(settings, ports=ports) as api:
            # No pipeline process yet: S3 answers the gateway; Qdrant and the LLM cannot be used.
            body = await until_ready_says(api, s3="ok", qdrant="down", llm="down")
            assert body["status"] == "ready"  # generation waits; commands go on
            assert "pipeline process does not answer" in body["qdrant"]["detail"]
            anyone = await ready(api)
            assert anyone["qdrant"] == {"status": "down"}  # why: for operators only
            writer = LlmWriter(LiteLlmChatModel(settings.llm_model, api_base=base, api_key="k", timeout=5))
            async with pipeline_process(settings, tmp_path, writer):
                await until_ready_says(api, s3="ok", qdrant="ok", llm="ok")
                await llm.stop()  # the LLM goes away: the pipeline's next answer says so
                body = await until_ready_says(api, qdrant="ok", llm="down")
                assert "llm" in body["llm"]["detail"] or "URLError" in body["llm"]["detail"]
            await until_ready_says(api, qdrant="down")  # the pipeline process is gone again
    finally:
        await llm.stop()
        await blobs.close()


async def test_ready_says_the_llm_is_disabled_without_a_model_and_s3_down_when_it_does_not_answer(
    database: str, tmp_path: Path
) -> None:
    dead = "http://127.0.0.1:9"  # nothing listens there
    settings = make_settings(database, llm_model="", s3_url=dead, metrics_token=SecretStr("scrape-me-0123456789"))
    blobs = S3BlobStore(dead, "k", "s", settings.s3_bucket)
    ports = make_ports(documents=SopDocuments(blobs, max_bytes=1_000_000, order_max_bytes=5_000_000))
    async with running_gateway(settings, ports=ports) as api:
        body = await until_ready_says(api, s3="down", llm="disabled")
        assert body["status"] == "ready" and body["s3"]["detail"]
        assert (await ready(api))["s3"] == {"status": "down"}
