"""`coursewright eval generation DIR`: the generation pipeline on a folder of SOPs with a
facts.json, through the real order path (gateway.generation_eval), scored; the last line is
`RESULT generation ...` (genpipeline.evaluation)."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import types
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from gateway.bootstrap import load_settings
from infra.devservices import start_dev_services
from infra.errors import InfraError

eval_cli = typer.Typer(help="Measure the generation pipeline on documents with known facts.", no_args_is_help=True)
console = Console(stderr=True, highlight=False)


@eval_cli.command("generation")
def generation(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="SOPs and their facts.json")],
    level: Annotated[str, typer.Option(help="the learners' CEFR level")] = "B1",
) -> None:
    """Order a course from each document of FOLDER (bus, S3, relay, pipeline, read models) and
    score the draft read back through the queries. Embedded servers start as `coursewright up`
    starts them (CW_EMBEDDED); the run uses a scratch database, stream and Qdrant folder."""
    if not (folder / "facts.json").is_file():
        raise typer.BadParameter(f"{folder} has no facts.json")
    settings = load_settings(quiet=True)
    signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM unwinds like Ctrl-C: the scratch is removed
    # Imported here: the PDF, OCR, torch and litellm stacks load only for this command.
    from gateway import pipeline_ports
    from gateway.generation_eval import evaluate_folder

    with tempfile.TemporaryDirectory(prefix="cw-eval-") as scratch:
        # Embedded servers (if any are needed) keep their data in the scratch folder: a running
        # `coursewright up` keeps its own.
        try:
            with console.status("Starting services…") as status:
                effective = start_dev_services(
                    settings.model_copy(update={"data_dir": Path(scratch)}), report=status.update, scratch=True
                )
        except InfraError as e:
            console.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(1) from None
        try:
            for s in effective.services:
                console.print(f" {s.name:<9} {s.mode:<10} {s.address}")
            with console.status("Loading the pipeline's models…"):
                store = pipeline_ports.vectors(effective.settings, Path(scratch) / "qdrant")
                builder = pipeline_ports.builder(effective.settings, store)
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=console,
                redirect_stdout=False,  # the table and the RESULT line go to stdout, the bar to stderr
                redirect_stderr=False,
            ) as bar:
                tasks: dict[str, TaskID] = {}

                def progress(file: str, stage: int, of: int, name: str) -> None:
                    if file not in tasks:
                        tasks[file] = bar.add_task(file, total=of)
                    bar.update(tasks[file], completed=stage, total=of, description=f"{file}: {name}")

                async def main() -> None:
                    try:
                        await evaluate_folder(
                            folder, effective.settings, builder, level=level, echo=typer.echo, progress=progress
                        )
                    finally:
                        await store.close()

                asyncio.run(main())
        finally:
            effective.stop()


def _interrupt(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt
