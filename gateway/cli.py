"""The `coursewright` command: up, run, migrate, test, settings, routes, version, projections,
admin, demo; every
command that runs the system builds it with the composition root (gateway/bootstrap.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import types
from collections.abc import Coroutine, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, NoReturn

import psycopg
import typer
import uvloop
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from gateway import bootstrap
from gateway.admin_cli import admin_cli, demo_command
from gateway.audit_cli import audit_cli
from gateway.eval_cli import eval_cli
from gateway.order_client import app as order_cli
from gateway.processes import PARENT_PID, CrashLoop, ProcessSupervisor, exit_now, exit_with_parent, supervise
from gateway.projections_cli import projections_cli
from gateway.routes_doc import routes_markdown
from infra.devservices import DevServices, ServiceInfo, prepare_database, start_dev_services
from infra.errors import InfraError
from infra.labengine.docker import ENVIRONMENTS
from infra.labengine.images import image_name
from infra.logging import bind_contextvars, get_logger
from infra.settings import Settings

log = get_logger(__name__)
console = Console(stderr=True, highlight=False)

app = typer.Typer(
    help="Coursewright: event-sourced course platform backend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(projections_cli, name="projections")
app.add_typer(eval_cli, name="eval")
app.add_typer(audit_cli, name="audit")
app.add_typer(order_cli, name="order")
app.add_typer(admin_cli, name="admin")
labs_cli = typer.Typer(help="Lab sandboxes: their images.", no_args_is_help=True)
app.add_typer(labs_cli, name="labs")
app.command("demo")(demo_command)

# The servers the test suite talks to (tests/conftest.py reads the same variables).
TEST_SERVERS = {
    "CW_TEST_PG": "postgresql://postgres@127.0.0.1:5432",
    "CW_TEST_NATS": "nats://127.0.0.1:4222",
    "CW_TEST_REDIS": "redis://127.0.0.1:6379/0",
}
_LABELS = {"postgres": "PostgreSQL", "nats": "NATS JetStream", "redis": "Redis", "s3": "S3"}


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _load_settings(*, quiet: bool = False, **overrides: Any) -> Settings:
    try:
        return bootstrap.load_settings(quiet=quiet, **overrides)
    except ValidationError as e:
        _fail(f"invalid settings (CW_* environment variables):\n{e}", 2)


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on uvloop (a dependency on every platform we run on)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _interrupt(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Let SIGTERM unwind like Ctrl-C while no event loop handles it, so cleanup runs."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    # A no-op handler, not SIG_IGN: children would inherit SIG_IGN across exec.
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


async def lab_engine_answers(settings: Settings) -> bool:
    """Whether the lab runner's Docker engine (any of them) answers (`up` says so either way)."""
    engine = bootstrap.lab_engine(settings)
    try:
        return await engine.ping()
    finally:
        await engine.close()


def _show_services(services: list[ServiceInfo]) -> None:
    for s in services:
        mark = {"configured": "[green]✓[/]", "embedded": "[cyan]▶[/]", "off": "[yellow]○[/]"}
        console.print(f" {mark[s.mode]} {_LABELS[s.name]:<15} {s.mode:<10} {s.address}")


def _start(settings: Settings, action: str, *, s3: bool = True) -> DevServices:
    try:
        with console.status(f"{action}…") as status:
            return start_dev_services(settings, report=lambda m: status.update(m), s3=s3)
    except InfraError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _stop(services: DevServices) -> None:
    if not services.processes:
        return
    with _signals_ignored(), console.status("Stopping embedded servers…"):
        services.stop()
    console.print("Embedded servers stopped.")


@app.command()
def up(
    embedded: Annotated[str | None, typer.Option(help="auto | never | always (overrides CW_EMBEDDED)")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="where embedded servers keep data (overrides CW_DATA_DIR)")
    ] = None,
) -> None:
    """Start everything: embedded servers as needed, migrations, then all components."""
    settings = _load_settings(embedded=embedded, data_dir=data_dir)
    error: str | None = None
    with _sigterm_interrupts():
        services = _start(settings, "Starting services")
        try:
            _show_services(services.services)
            effective = services.settings
            children = bootstrap.processes(effective)
            names = [c.name for c in children]

            async def migrate_now() -> None:
                with console.status("Applying migrations…"):
                    applied = await prepare_database(effective)
                console.print(f" [green]✓[/] migrations      {len(applied)} applied")
                engine = effective.docker_url or "DOCKER_HOST or the local socket"
                if await lab_engine_answers(effective):
                    console.print(f" [green]✓[/] {'lab sandboxes':<15} {'docker':<10} {engine}")
                else:
                    console.print(
                        f" [yellow]○[/] {'lab sandboxes':<15} {'off':<10} no Docker engine answers at {engine}; "
                        "the lab runner starts when one does"
                    )

            def ready() -> None:
                log.info("up.ready", processes=names)
                console.print(
                    f"[bold green]Coursewright is up[/] ({', '.join(names)}: a process each). Press Ctrl-C to stop."
                )

            env = {**os.environ, **effective.environment(), "CW_EMBEDDED": "never"}
            _run(supervise(ProcessSupervisor(children, env), before=migrate_now, on_ready=ready))
        except CrashLoop as e:
            error = str(e)
        except (psycopg.Error, InfraError) as e:
            error = str(e)
        except KeyboardInterrupt:  # during start-up, before the loop handles signals
            error = "interrupted"
        finally:
            _stop(services)
    if error is not None:
        _fail(error, 130 if error == "interrupted" else 1)
    log.info("up.stopped")
    console.print("Coursewright stopped.")
    exit_now(0)  # every child has exited and the embedded servers are stopped


@app.command()
def migrate() -> None:
    """Create the database if needed and apply pending migrations (configured servers only)."""
    settings = _load_settings()
    try:
        applied = asyncio.run(prepare_database(settings))
    except psycopg.Error as e:
        _fail(str(e))
    console.print(f"{len(applied)} migration(s) applied: {', '.join(applied) or 'none pending'}")


@app.command("run")
def run_components(
    names: Annotated[list[str], typer.Argument(help=f"components: {', '.join(bootstrap.COMPONENTS)}")],
) -> None:
    """Run some components alone (configured servers, migrated database) until Ctrl-C or
    SIGTERM: `coursewright run relay` under systemd or Kubernetes."""
    unknown = [n for n in names if n not in bootstrap.COMPONENTS]
    if unknown:
        _fail(f"no component {', '.join(unknown)}; known: {', '.join(bootstrap.COMPONENTS)}", 2)
    root = bootstrap.Root(_load_settings())

    async def main() -> None:
        # `up` merges every process's output: each line names the process that wrote it.
        bind_contextvars(process=" ".join(names), pid=os.getpid())
        stop = asyncio.Event()
        parent = os.environ.get(PARENT_PID)  # started by `coursewright up`: stop when it is gone
        watcher = asyncio.create_task(exit_with_parent(int(parent), stop)) if parent else None
        try:
            await bootstrap.run(
                root, root.components(names), on_ready=lambda: log.info("run.ready", components=names), stop=stop
            )
        finally:
            if watcher is not None:
                watcher.cancel()

    _run(main())  # returns once every component stopped and the root closed everything
    exit_now(0)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run pytest with any extra arguments; start embedded servers for test servers that are down.

    The test servers are CW_TEST_PG, CW_TEST_NATS and CW_TEST_REDIS (tests/conftest.py).
    """
    base = _load_settings()
    wanted = {k: os.environ.get(k, v) for k, v in TEST_SERVERS.items()}
    probe = base.model_copy(
        update={
            "pg_dsn": f"{wanted['CW_TEST_PG']}/postgres",
            "nats_url": wanted["CW_TEST_NATS"],
            "redis_url": wanted["CW_TEST_REDIS"],
            "data_dir": base.data_dir / "test",  # apart from `up`'s data
        }
    )
    with _sigterm_interrupts():
        # No S3: a test run starts one of its own (tests/conftest.py, CW_TEST_S3).
        services = _start(probe, "Checking the test servers", s3=False)
    env = dict(os.environ)
    if services.processes:
        _show_services(services.services)
        effective = services.settings
        env["CW_TEST_PG"] = effective.pg_dsn.rsplit("/", 1)[0]
        env["CW_TEST_NATS"] = effective.nats_url
        if effective.redis_url:
            env["CW_TEST_REDIS"] = effective.redis_url
    try:
        with _signals_ignored():
            # pytest shares our terminal, so it gets Ctrl-C itself and tears down cleanly.
            code = subprocess.call([sys.executable, "-m", "pytest", *ctx.args], env=env)
    finally:
        _stop(services)
    raise typer.Exit(code)


_SECRET = re.compile(r"(://[^:/@]+:)[^@]+@")


def settings_rows() -> list[tuple[str, str, str, str]]:
    """(variable, type, default, description) of every setting, in declaration order."""
    rows = []
    for name, spec in Settings.model_fields.items():
        annotation = spec.annotation
        kind = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        default = "" if spec.default is None else str(spec.default)
        rows.append((f"CW_{name.upper()}", kind, default, spec.description or ""))
    return rows


def settings_markdown() -> str:
    """The settings table of the README."""
    lines = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for var, kind, default, text in settings_rows():
        cells = [f"`{var}`", kind, f"`{default}`" if default else "", text]
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return "\n".join(lines)


@app.command("settings")
def show_settings(
    markdown: Annotated[bool, typer.Option("--markdown", help="print the README table")] = False,
) -> None:
    """Show every CW_ setting: its current value and its default."""
    if markdown:
        print(settings_markdown())
        return
    current = _load_settings()
    table = Table("variable", "value", "default")
    for (var, _, default, _text), name in zip(settings_rows(), Settings.model_fields, strict=True):
        value = _SECRET.sub(r"\1***@", str(getattr(current, name)))
        table.add_row(var, value, default)
    Console().print(table)


@app.command("asyncapi")
def show_asyncapi() -> None:
    """Print the NATS messaging API's AsyncAPI 3 document (JSON)."""
    from gateway.messaging.asyncapi import asyncapi
    from gateway.messaging.endpoints import endpoints

    settings = _load_settings()
    print(json.dumps(asyncapi(settings.subject_prefix, endpoints(), settings.client_nats_url), indent=2))


@app.command("routes")
def show_routes() -> None:
    """Every HTTP route with its summary, from the OpenAPI document: the README's table."""
    from gateway.app import create_app  # the HTTP app only for this command

    print(routes_markdown(create_app(bootstrap.Root(_load_settings(quiet=True)).services())))


@labs_cli.command("images")
def lab_images() -> None:
    """Build the labs' images on the configured Docker engine(s) if missing: a minimal Debian
    with Python made by debootstrap once per machine (CW_LAB_CACHE_DIR), and a Dockerfile over it."""
    settings = _load_settings()

    async def build() -> None:
        engine = bootstrap.lab_engine(settings)
        try:
            if not await engine.ping():
                _fail(f"no Docker engine answers at {settings.docker_url or 'DOCKER_HOST or the local socket'}")
            await engine.ensure_images()
        finally:
            await engine.close()

    _run(build())
    console.print(f"lab images ready: {', '.join(image_name(e) for e in ENVIRONMENTS)}")


@app.command("version")
def show_version() -> None:
    """Print the installed version."""
    try:
        print(f"coursewright {version('coursewright')}")
    except PackageNotFoundError:
        print("coursewright (not installed)")


def main() -> None:
    """Entry point of the `coursewright` console script."""
    app()


if __name__ == "__main__":
    main()
