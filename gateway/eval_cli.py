"""`coursewright eval generation DIR`: the generation pipeline on a folder of SOPs with a
facts.json, scored; the last line is `RESULT generation ...` (genpipeline.evaluation)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from infra.logging import configure_logging
from infra.settings import Settings

eval_cli = typer.Typer(help="Measure the generation pipeline on documents with known facts.", no_args_is_help=True)


@eval_cli.command("generation")
def generation(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="SOPs and their facts.json")],
    level: Annotated[str, typer.Option(help="the learners' CEFR level")] = "B1",
) -> None:
    """Run extraction, indexing and drafting on every document of FOLDER and score the course."""
    if not (folder / "facts.json").is_file():
        raise typer.BadParameter(f"{folder} has no facts.json")
    settings = Settings()
    configure_logging("WARNING", settings.json_logs)
    # Imported here: the PDF, OCR, torch and litellm stacks load only for this command.
    from gateway import pipeline_ports
    from genpipeline.course_builder import CourseBuilder
    from genpipeline.generation_eval import evaluate_folder

    async def main() -> None:
        # A vector store of its own: a running pipeline may hold the local Qdrant folder.
        with tempfile.TemporaryDirectory() as scratch:
            store = pipeline_ports.vectors(settings.model_copy(update={"qdrant_url": ""}), Path(scratch) / "q")
            builder = CourseBuilder(
                pipeline_ports.extraction(settings),
                pipeline_ports.embedder(settings),
                store,
                pipeline_ports.writer(settings),
            )
            try:
                await evaluate_folder(folder, builder, level=level, echo=typer.echo)
            finally:
                await store.close()

    asyncio.run(main())
