"""The README and the docs name only what exists: their links stay inside the repository and
resolve, every repository path they name is there, and every module and attribute they name by
its dotted name is defined."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = "domain|commands|schemas|infra|projections|gateway|genpipeline|labrunner"
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_PATH = re.compile(rf"`((?:{PACKAGES}|tests|docs)/[\w/.-]+)`")
_DOTTED = re.compile(rf"`((?:{PACKAGES})(?:\.\w+)+)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    for target in _LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "#", "mailto:")):
            continue
        resolved = (doc.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{doc.name} links to {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_named_paths_and_dotted_names_exist(doc: Path) -> None:
    text = doc.read_text()
    for path in _PATH.findall(text):
        assert (ROOT / path).exists(), f"{doc.name} names {path}"
    for dotted in _DOTTED.findall(text):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest prefix that is a module
            module = ROOT.joinpath(*parts[:cut])
            source = module.with_suffix(".py") if module.with_suffix(".py").exists() else module / "__init__.py"
            if source.exists():
                for name in parts[cut:]:
                    assert re.search(rf"\b{name}\b", source.read_text()), f"{doc.name} names {dotted}"
                break
        else:
            pytest.fail(f"{doc.name} names {dotted}, which is no module")
