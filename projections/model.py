"""What a projection is: its tables, its event handlers, and a write-back cache of its rows.

Handlers fold events into rows held in memory; the runtime writes the changed rows back in
bulk at the end of a batch, in the transaction that also moves the checkpoint. A projector is
the only writer of its tables, so rows it wrote stay valid in memory across batches until the
checkpoint shows that someone else (a rebuild swap) wrote.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

import msgspec
import psycopg
from psycopg.types.json import Jsonb

from domain.aggregate import Event
from infra.eventlog import EventEnvelope, decoder_for, wire_name

Key = Any  # a column value, or a tuple of them for a composite key
Row = dict[str, Any]
_dumps = msgspec.json.Encoder().encode
COPY_FROM = 64  # rows: from this many on, a flush goes through COPY


def jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


def plain(value: Any) -> Any:
    """Event parts as JSON-ready builtins (UUIDs and datetimes as strings)."""
    return msgspec.to_builtins(value)


def _norm(key: Key) -> Key:
    """Keys as cache dictionaries hold them: UUIDs by their int (uuid.UUID hashes slowly)."""
    cls = key.__class__
    if cls is UUID:
        return key.int
    if cls is tuple:
        return tuple([k.int if k.__class__ is UUID else k for k in key])
    return key


@dataclass(frozen=True)
class Table:
    """A read-model table: columns written from rows, plus derived columns PostgreSQL computes."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type), written from rows
    key: tuple[str, ...]
    derived: tuple[tuple[str, str], ...] = ()  # (name, "type GENERATED ALWAYS AS (...) STORED")
    indexes: tuple[str, ...] = ()  # "(cols)" or "USING gin (col)" parts of CREATE INDEX

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def ddl(self) -> list[str]:
        cols = [f"{c} {t}" for c, t in (*self.columns, *self.derived)]
        key = ", ".join(self.key)
        return [f"CREATE TABLE {self.name} ({', '.join(cols)}, PRIMARY KEY ({key}))"]

    def index_ddl(self) -> list[str]:
        return [f"CREATE INDEX ON {self.name} {spec}" for spec in self.indexes]

    def key_of(self, row: Row) -> Key:
        return row[self.key[0]] if len(self.key) == 1 else tuple([row[k] for k in self.key])


class Rows:
    """The cached rows of one table: loaded on first use, written back when dirty."""

    def __init__(self, table: Table, limit: int) -> None:
        self.table = table
        self.limit = limit
        self.cache: dict[Key, Row | None] = {}  # None: known not to exist
        self.dirty: set[Key] = set()
        self.deleted: dict[Key, Key] = {}  # normalised key -> key
        self.complete = False  # True: every row of the table is in `cache`
        self._single = table.key[0] if len(table.key) == 1 else None
        names = table.names
        self._json = {i for i, (_, t) in enumerate(table.columns) if t.startswith("jsonb")}
        where = " AND ".join(f"{k} = %s" for k in table.key)
        self._select = f"SELECT {', '.join(names)} FROM {table.name} WHERE {where}"
        updates = [f"{c} = EXCLUDED.{c}" for c in names if c not in table.key]
        marks = ", ".join(["%s"] * len(names))
        self._upsert = (
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
            f" ON CONFLICT ({', '.join(table.key)}) DO "
            + (f"UPDATE SET {', '.join(updates)}" if updates else "NOTHING")
        )
        self._delete = f"DELETE FROM {table.name} WHERE {where}"
        # Temporary tables are per connection, and a connection serves one projection.
        stage = f"cw_stage_{table.name}"
        self._types = [t.split(" NOT NULL")[0] for _, t in table.columns]
        typed = ", ".join(f"{c} {t.split(' NOT NULL')[0]}" for c, t in table.columns)
        self._stage_ddl = f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({typed}) ON COMMIT DELETE ROWS"
        self._stage_clear = f"DELETE FROM {stage}"
        self._stage_copy = f"COPY {stage} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
        self._stage_upsert = (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)} FROM {stage}"
            f" ON CONFLICT ({', '.join(table.key)}) DO "
            + (f"UPDATE SET {', '.join(updates)}" if updates else "NOTHING")
        )

    async def get(self, conn: psycopg.AsyncConnection[Any], key: Key) -> Row | None:
        norm = _norm(key)
        if norm in self.cache:
            return self.cache[norm]
        if self.complete:
            return None
        params = list(key) if len(self.table.key) > 1 else [key]
        cur = await conn.execute(self._select, params)
        found = await cur.fetchone()
        row = dict(zip(self.table.names, found, strict=True)) if found else None
        self.cache[norm] = row
        return row

    def put(self, row: Row) -> None:
        key = _norm(row[self._single] if self._single else self.table.key_of(row))
        self.cache[key] = row
        self.dirty.add(key)
        if self.deleted:
            self.deleted.pop(key, None)

    def delete(self, key: Key) -> None:
        norm = _norm(key)
        self.cache[norm] = None
        self.dirty.discard(norm)
        self.deleted[norm] = key

    def values(self, row: Row) -> list[Any]:
        return [jsonb(row[c]) if i in self._json else row[c] for i, c in enumerate(self.table.names)]

    async def flush(self, conn: psycopg.AsyncConnection[Any]) -> int:
        written = 0
        async with conn.cursor() as cur:
            if self.deleted:
                multi = len(self.table.key) > 1
                keys = [list(k) if multi else [k] for k in self.deleted.values()]
                await cur.executemany(self._delete, keys)
                written += len(keys)
            if self.dirty:
                rows = [r for r in (self.cache[k] for k in self.dirty) if r is not None]
                if len(rows) >= COPY_FROM:
                    await self._copy_upsert(conn, rows)
                else:
                    await cur.executemany(self._upsert, [self.values(r) for r in rows])
                written += len(rows)
        self.dirty.clear()
        self.deleted.clear()
        if len(self.cache) > self.limit:  # keep memory bounded: start cold again
            self.cache.clear()
            self.complete = False
        return written

    async def _copy_upsert(self, conn: psycopg.AsyncConnection[Any], rows: list[Row]) -> None:
        """Many rows: COPY them into a temporary table, then one upsert from it."""
        await conn.execute(self._stage_ddl)
        await conn.execute(self._stage_clear)
        async with conn.cursor() as cur, cur.copy(self._stage_copy) as copy:
            copy.set_types(self._types)
            for row in rows:
                await copy.write_row(self.values(row))
        await conn.execute(self._stage_upsert)

    def forget(self) -> None:
        self.cache.clear()
        self.dirty.clear()
        self.deleted.clear()
        self.complete = False


Handler = Callable[[Any, Any, EventEnvelope], Awaitable[None]]


def on(*event_classes: type[Event]) -> Callable[[Handler], Handler]:
    """Mark a projection method as the handler of these domain event classes."""

    def mark(fn: Handler) -> Handler:
        fn._handled_events = event_classes  # type: ignore[attr-defined]
        return fn

    return mark


class Projection:
    """Base of a projection: subclasses declare `name`, `version`, `tables` and @on handlers."""

    name: ClassVar[str]
    version: ClassVar[int] = 1  # bump when tables or handlers change: the projection rebuilds
    tables: ClassVar[tuple[Table, ...]]
    handlers: ClassVar[dict[str, tuple[Callable[[bytes], Any], Handler]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {}
        for klass in reversed(cls.__mro__):  # a subclass keeps (and may override) its handlers
            for value in vars(klass).values():
                for event_class in getattr(value, "_handled_events", ()):
                    cls.handlers[wire_name(event_class)] = (decoder_for(event_class), value)

    def __init__(self, cache_rows: int = 200_000) -> None:
        # Effects beyond the read model (the notifications' mail): off in a rebuild, whose
        # events the live projector, running meanwhile, has handled already.
        self.side_effects = True
        self.rows = {t.name: Rows(t, cache_rows) for t in self.tables}
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.touched: set[str] = set()  # cache tags to invalidate once the batch commits

    @classmethod
    def schema(cls) -> str:
        return f"rm_{cls.name}"

    def handles(self, event_type: str) -> bool:
        return event_type in self.handlers

    async def apply(self, env: EventEnvelope) -> None:
        found = self.handlers.get(env.event_type)
        if found is None:
            return
        decode, handler = found
        await handler(self, decode(env.payload), env)

    # -- row access for handlers -------------------------------------------------------------

    async def require(self, table: str, key: Key, missing: str) -> Row:
        """A row an earlier event must have made; without it this event cannot apply (it parks).

        `missing` is the error's text, `{key}` in it replaced by the key (formatted only then:
        this runs for most events of a rebuild).
        """
        row = await self.get(table, key)
        if row is None:
            raise LookupError(missing.format(key=key))
        return row

    async def get(self, table: str, key: Key) -> Row | None:
        rows = self.rows[table]
        cache = rows.cache
        norm = _norm(key)
        if norm in cache:  # the common case, without another coroutine
            return cache[norm]
        assert self.conn is not None, "rows are read inside a batch"
        return await rows.get(self.conn, key)

    def put(self, table: str, row: Row) -> None:
        self.rows[table].put(row)

    def delete(self, table: str, key: Key) -> None:
        self.rows[table].delete(key)

    def touch(self, *tags: str) -> None:
        """Name cached query results this batch makes stale."""
        self.touched.update(tags)

    # -- used by the runtime ---------------------------------------------------------------

    async def flush(self, conn: psycopg.AsyncConnection[Any]) -> int:
        return sum([await rows.flush(conn) for rows in self.rows.values()])

    def forget(self) -> None:
        for rows in self.rows.values():
            rows.forget()
        self.touched.clear()

    def start_empty(self) -> None:
        """The tables are known to be empty: a missing row needs no query."""
        for rows in self.rows.values():
            rows.forget()
            rows.complete = True

    @classmethod
    def ddl(cls) -> Iterable[str]:
        for table in cls.tables:
            yield from table.ddl()

    @classmethod
    def index_ddl(cls) -> Iterable[str]:
        for table in cls.tables:
            yield from table.index_ddl()
