"""Rules of the layout that import-linter cannot state."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "commands", "projections", "gateway", "labrunner", "genpipeline", "schemas", "infra")


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
