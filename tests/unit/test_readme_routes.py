"""The README's routes table is the OpenAPI document's: `coursewright routes` prints it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import app as gateway_app
from gateway.routes_doc import routes_markdown
from tests.conftest import make_settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS
from tests.unit.test_gateway_app import services

pytestmark = QUERIES_DEPRECATIONS
README = Path(__file__).resolve().parents[2] / "README.md"
ROUTE_ROW = re.compile(r"^\| \w+ \| `(GET|POST|PUT|PATCH|DELETE) /")


def test_the_readme_routes_table_is_the_openapi_document() -> None:
    table = routes_markdown(gateway_app.create_app(services(make_settings("postgresql://nowhere/none"))))
    text = README.read_text()
    stale = [row for row in table.splitlines() if row not in text]
    assert not stale, "regenerate the README's routes table with `coursewright routes`. Missing:\n" + "\n".join(stale)
    route_rows = [line for line in text.splitlines() if ROUTE_ROW.match(line)]
    extra = sorted(set(route_rows) - set(table.splitlines()))
    assert not extra, "the README names routes the API does not have:\n" + "\n".join(extra)


@pytest.mark.parametrize("path", ["/courses/{course_id}/analytics", "/analytics/organisation"])
def test_analytics_routes_are_named_as_they_are(path: str) -> None:
    assert f"`GET {path}`" in README.read_text()
