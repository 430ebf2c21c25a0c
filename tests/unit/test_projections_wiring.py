"""Projections handle only events the domain declares, and build valid, distinct tables."""

from __future__ import annotations

from commands.codec import CATALOGUE
from projections.registry import PROJECTIONS


def test_every_handled_event_type_exists() -> None:
    for projection in PROJECTIONS.values():
        assert projection.handlers, projection.name
        unknown = set(projection.handlers) - set(CATALOGUE)
        assert not unknown, f"{projection.name} handles unknown events {unknown}"


def test_each_projection_has_its_own_schema_and_keyed_tables() -> None:
    schemas = {p.schema() for p in PROJECTIONS.values()}
    assert len(schemas) == len(PROJECTIONS)
    for projection in PROJECTIONS.values():
        for table in projection.tables:
            names = table.names
            assert set(table.key) <= set(names), table.name
            assert len(names) == len(set(names)), table.name
            assert table.ddl()[0].startswith(f"CREATE TABLE {table.name} (")
