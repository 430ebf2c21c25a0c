"""The README's routes table, generated from the OpenAPI document so the two cannot disagree
(`coursewright routes --markdown`; tests/unit/test_readme.py checks the README holds it)."""

from __future__ import annotations

from litestar import Litestar

_METHODS = ("get", "post", "put", "patch", "delete")


def routes_markdown(app: Litestar) -> str:
    """One row per operation, grouped by the OpenAPI tag, in the order the app declares them."""
    paths = app.openapi_schema.to_schema()["paths"]
    by_tag: dict[str, list[str]] = {}
    for path, operations in paths.items():
        for method in _METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            summary = str(operation.get("summary", "")).replace("|", r"\|")
            by_tag.setdefault(tag, []).append(f"| {tag} | `{method.upper()} {path}` | {summary} |")
    lines = ["| area | route | what it does |", "| --- | --- | --- |"]
    for rows in by_tag.values():
        lines += rows
    return "\n".join(lines)
