"""Settings: CW_ environment variables, defaults, and the README table that documents them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gateway import bootstrap, cli
from gateway.cli import settings_markdown
from infra.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CW_ variable of the caller's shell and no .env file leak into these tests."""
    for name in list(os.environ):
        if name.startswith("CW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_local_servers() -> None:
    s = Settings()
    assert s.pg_dsn == "postgresql://postgres@127.0.0.1:5432/coursewright"
    assert s.nats_url == "nats://127.0.0.1:4222"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.embedded == "auto"
    assert s.data_dir == Path(".coursewright")
    assert s.env == "dev"
    assert s.json_logs is False
    assert s.event_subject("course", "CourseDrafted") == "cw.evt.course.CourseDrafted"


def test_environment_variables_with_the_cw_prefix_override_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CW_PG_DSN", "postgresql://u@db.example:6543/other")
    monkeypatch.setenv("CW_HTTP_PORT", "9001")
    monkeypatch.setenv("CW_SUBJECT_PREFIX", "t1")
    monkeypatch.setenv("CW_DATA_DIR", "/var/lib/cw")
    monkeypatch.setenv("cw_embedded", "never")  # names are case-insensitive
    s = Settings()
    assert s.pg_dsn == "postgresql://u@db.example:6543/other"
    assert s.http_port == 9001
    assert s.data_dir == Path("/var/lib/cw")
    assert s.embedded == "never"
    assert s.event_subject("order", "OrderPlaced") == "t1.evt.order.OrderPlaced"


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_DSN", "postgresql://nobody@nowhere/x")
    monkeypatch.setenv("NATS_URL", "nats://nowhere:1")
    s = Settings()
    assert s.pg_dsn == Settings.model_fields["pg_dsn"].default
    assert s.nats_url == Settings.model_fields["nats_url"].default


def test_a_dot_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CW_EVENTS_STREAM=FROM_DOTENV\nCW_RELAY_BATCH=7\n")
    s = Settings()
    assert s.events_stream == "FROM_DOTENV"
    assert s.relay_batch == 7


def test_environment_beats_the_dot_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("CW_EVENTS_STREAM=FROM_DOTENV\n")
    monkeypatch.setenv("CW_EVENTS_STREAM", "FROM_ENV")
    assert Settings().events_stream == "FROM_ENV"


@pytest.mark.parametrize(
    ("env", "log_json", "expected"),
    [("dev", None, False), ("prod", None, True), ("prod", "false", False), ("dev", "true", True)],
)
def test_json_logs_follow_the_environment_unless_forced(
    monkeypatch: pytest.MonkeyPatch, env: str, log_json: str | None, expected: bool
) -> None:
    monkeypatch.setenv("CW_ENV", env)
    if log_json is not None:
        monkeypatch.setenv("CW_LOG_JSON", log_json)
    assert Settings().json_logs is expected


def test_a_malformed_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CW_HTTP_PORT", "eighty")
    with pytest.raises(ValueError, match="http_port"):
        Settings()


def test_the_readme_documents_every_setting() -> None:
    text = README.read_text()
    stale = [row for row in settings_markdown().splitlines()[2:] if row not in text]
    assert not stale, (
        "README.md's settings table is out of date; paste the output of "
        "`coursewright settings --markdown`. Rows missing or changed:\n" + "\n".join(stale)
    )


def test_the_asyncapi_servers_are_the_public_nats_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Clients are told CW_PUBLIC_NATS_URL; unset, CW_NATS_URL; credentials never."""
    # The command would point logging at this test's captured stdout, closed once the test ends.
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args: None)
    monkeypatch.setenv("CW_NATS_URL", "nats://gateway:s3cret@nats.internal:4222")
    assert Settings().client_nats_url == "nats://gateway:s3cret@nats.internal:4222"
    cli.show_asyncapi()
    document = json.loads(capsys.readouterr().out)
    assert [s["host"] for s in document["servers"].values()] == ["nats.internal:4222"]
    monkeypatch.setenv("CW_PUBLIC_NATS_URL", "nats://nats.example.com:4222, nats.example.net")
    assert Settings().client_nats_url == "nats://nats.example.com:4222, nats.example.net"
    cli.show_asyncapi()
    out = capsys.readouterr().out
    assert [s["host"] for s in json.loads(out)["servers"].values()] == [
        "nats.example.com:4222",
        "nats.example.net:4222",
    ]
    assert "s3cret" not in out and "nats.internal" not in out
