"""``DatabaseAccess``: how every query module of the metadata database gets a connection.

Each concept of the database (sequences, annotations, files, statistics, environments, simulation
queries) is a mixin of :class:`DatabaseAccess` in its own module; :class:`.database.MetadataDatabase`
combines them into the one public interface. This module holds what they share: connections that
turn driver failures into one-line errors, transactions a caller can join (``conn=``), and the
existence check side tables need.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from ..config import validate_schema_name
from ..errors import InvalidInputError, NotFoundError
from . import schema as s
from .connection import configure_engine, connection_error, statement_error

_INDEXED_SCHEMA_SQL = (
    "SELECT CASE WHEN to_regclass('simulation_tag_spans') IS NULL THEN FALSE "
    "ELSE has_table_privilege('simulation_tag_spans', 'SELECT') END"
)
"""True when the schema has revision 0007's indexes and this role may read its candidates table."""


class DatabaseAccess:
    """An engine dedicated to one schema (``search_path`` and UTC set on every connection)."""

    _indexed_schema = False

    def __init__(self, engine: sa.Engine, schema: str) -> None:
        self.schema = validate_schema_name(schema)
        self.engine = engine
        self._tables_seen: set[str] = set()
        configure_engine(engine, schema)

    def has_table(self, name: str) -> bool:
        """Whether the schema has table ``name``: vseq's own tables are missing from a schema the
        reference created until ``vseqarchive migrate`` adopts it, and reads do without them.
        Remembered once found."""
        if name not in self._tables_seen:
            with self._connect() as conn:
                found = conn.execute(
                    sa.text("SELECT to_regclass(:name)"), {"name": f'"{self.schema}"."{name}"'}
                )
                if found.scalar() is not None:
                    self._tables_seen.add(name)
        return name in self._tables_seen

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as err:
            raise connection_error(err, self.engine.url) from None
        try:
            with conn:
                yield conn
        except sa.exc.DBAPIError as err:
            # A connection lost mid-work (server stopped, backend terminated) or a privilege the
            # role lacks (a reader writing, a writer deleting): one clear line instead of a
            # driver traceback. Anything else (constraint violations...) is left to the caller.
            translated = statement_error(err, self.engine.url)
            if translated is None:
                raise
            raise translated from None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction, committed on success and rolled back on any error."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _writing(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        """Join the caller's transaction, or run in a transaction of our own."""
        if conn is not None:
            yield conn
        else:
            with self.transaction() as own:
                yield own

    @contextmanager
    def _reading(self, conn: sa.Connection | None = None) -> Iterator[sa.Connection]:
        """The caller's connection, or one of our own for this read."""
        if conn is not None:
            yield conn
        else:
            with self._connect() as own:
                yield own

    def _is_indexed(self, conn: sa.Connection) -> bool:
        """Whether the schema has revision 0007's night indexes (a schema the reference created
        and nobody migrated has not). Remembered once true: indexes are not dropped under a
        running reader, except by a downgrade."""
        if not self._indexed_schema:
            self._indexed_schema = bool(conn.execute(sa.text(_INDEXED_SCHEMA_SQL)).scalar())
        return self._indexed_schema

    def _require(self, conn: sa.Connection, key: uuid.UUID) -> None:
        """Side tables have no foreign key (PostgreSQL cannot reference a parent and its children),
        so writers check the sequence exists themselves."""
        exists = conn.execute(sa.select(sa.exists().where(s.visitseq.c.visitseq_uuid == key))).scalar()
        if not exists:
            raise NotFoundError(f"no visit sequence {key} in schema {self.schema!r}")


def visitseq_table(table: str) -> sa.Table:
    """The visit sequence table called ``table`` (a clear error for any other name)."""
    try:
        return s.VISITSEQ_TABLES[table]
    except (KeyError, TypeError):
        choices = ", ".join(s.VISITSEQ_TABLES)
        raise InvalidInputError(f"unknown visit sequence table {table!r} (one of {choices})") from None
