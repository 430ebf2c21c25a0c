"""Rules of the layout that import-linter cannot state."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Every top-level package of the system (tests aside): a folder with an __init__.py.
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
WORKERS = {"projections", "genpipeline", "labrunner"}  # follow the log through infra.eventlog, never each other


def _tools() -> dict[str, Any]:
    tools: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    return tools


def test_only_the_event_log_package_names_the_logs_tables() -> None:
    """Every reader of the log goes through infra.eventlog (its reader holds the durability barrier)."""
    tables = re.compile(r"\bcw_(events|log_head)\b")
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "infra/eventlog/" not in path.as_posix() and tables.search(path.read_text())
    ]
    assert offenders == []


def test_every_package_is_under_the_import_contracts_and_mypy_strict() -> None:
    """A new package is checked like the others: import-linter knows it, the gateway stays
    unimported by it, workers stay independent of each other, and mypy (strict) reads it."""
    tools = _tools()
    linter, mypy = tools["importlinter"], tools["mypy"]
    assert sorted(linter["root_packages"]) == PACKAGES
    assert mypy["strict"] is True and sorted(mypy["files"]) == PACKAGES
    contracts = linter["contracts"]
    (unimported,) = [c for c in contracts if c["type"] == "forbidden" and c["forbidden_modules"] == ["gateway"]]
    assert sorted(unimported["source_modules"]) == [p for p in PACKAGES if p != "gateway"]
    (independent,) = [c for c in contracts if c["type"] == "independence"]
    assert set(independent["modules"]) == WORKERS


# What one module alone constructs: the settings (read once per process, by the composition
# root), the Redis client (the root), the PostgreSQL pool (the store, built by the root), NATS
# clients (infra.nats.NatsConnector, which the root hands to each component).
BUILT_IN_ONE_PLACE = {
    r"(?<!class )\bSettings\(": "gateway/bootstrap.py",
    r"\bRedis\(": "gateway/bootstrap.py",
    r"\bAsyncConnectionPool\(": "infra/eventlog/postgres.py",
    r"\bClient\(|^import nats$": "infra/nats.py",
}


def test_settings_and_shared_clients_are_built_in_one_place() -> None:
    for pattern, owner in BUILT_IN_ONE_PLACE.items():
        found = re.compile(pattern, re.M)
        builders = {
            str(path.relative_to(ROOT))
            for package in PACKAGES
            for path in (ROOT / package).rglob("*.py")
            if found.search(path.read_text())
        }
        assert builders == {owner}, pattern
