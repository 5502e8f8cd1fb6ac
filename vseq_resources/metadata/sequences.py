"""Visit sequence rows: adding them, reading and changing their columns, finding them.

A sequence lives in one of the inheriting tables (``simulations``, ``completed``,
``mixedvisitseq``) or in ``visitseq`` itself; reading ``visitseq`` sees them all.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from ..errors import InvalidInputError, NotFoundError
from . import schema as s
from .access import DatabaseAccess, visitseq_table
from .simulation_queries import night_path, tag_path
from .values import as_day, as_tag, as_uuid, creation_cutoff, escape_like, for_column, frame, plain

if TYPE_CHECKING:
    import pandas as pd

UuidLike = uuid.UUID | str
DayLike = str | int | dt.date

SEARCH_COLUMNS = (
    "visitseq_uuid",
    "table",
    "visitseq_label",
    "telescope",
    "first_day_obs",
    "last_day_obs",
    "creation_time",
    "visitseq_url",
    "visitseq_sha256",
    "tags",
)

_pg_class = sa.table("pg_class", sa.column("oid"), sa.column("relname"), schema="pg_catalog")


def _stored_in(rows: sa.FromClause) -> sa.ColumnElement[Any]:
    """The ``tableoid`` system column of ``rows``: the table a row of a parent is really in."""
    return sa.literal_column(f"{rows.name}.tableoid")


def tags_json(visitseq_uuid: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The sorted distinct tags of a sequence as a JSON array (``[]`` when none)."""
    t = s.tags.alias("t")
    tags = sa.select(sa.func.jsonb_agg(aggregate_order_by(sa.distinct(t.c.tag), t.c.tag)))
    tags = tags.where(t.c.visitseq_uuid == visitseq_uuid).scalar_subquery()
    return sa.func.coalesce(tags, sa.text("'[]'::JSONB"))


class Sequences(DatabaseAccess):
    """Rows of ``visitseq`` and its children."""

    def insert_visitseq(
        self, table: str, row: dict[str, Any], conn: sa.Connection | None = None
    ) -> uuid.UUID:
        """Add a sequence to ``table`` (simulations, completed, mixedvisitseq or visitseq).

        ``row`` maps column names to values; ``visitseq_uuid`` and ``creation_time`` are optional
        (a new UUID, now). Returns the sequence's UUID.
        """
        target = visitseq_table(table)
        unknown = set(row) - set(target.c.keys())
        if unknown:
            raise InvalidInputError(f"{table} has no column(s) {', '.join(sorted(unknown))}")
        values = {
            name: for_column(target.c[name], value)
            for name, value in row.items()
            if not (value is None and name in ("visitseq_uuid", "creation_time"))
        }
        missing = [
            c.name for c in target.c if not c.nullable and c.server_default is None and c.name not in values
        ]
        if missing:
            raise InvalidInputError(f"a {table} row needs {', '.join(missing)}")
        statement = sa.insert(target).values(values).returning(target.c.visitseq_uuid)
        with self._writing(conn) as c:
            try:
                return as_uuid(c.execute(statement).scalar_one())
            except sa.exc.IntegrityError as err:
                raise InvalidInputError(f"cannot add to {table}: {err.orig}".splitlines()[0]) from None

    def table_of(self, visitseq_uuid: UuidLike, conn: sa.Connection | None = None) -> str:
        """The table the sequence's row is in (NotFoundError when no table holds it)."""
        v = s.visitseq
        query = (
            sa.select(_pg_class.c.relname)
            .select_from(v.join(_pg_class, _pg_class.c.oid == _stored_in(v)))
            .where(v.c.visitseq_uuid == as_uuid(visitseq_uuid))
        )
        with self._reading(conn) as c:
            found = c.execute(query).scalar()
        if found is None:
            raise NotFoundError(f"no visit sequence {visitseq_uuid} in schema {self.schema!r}")
        return found

    def get_metadata(self, visitseq_uuid: UuidLike, table: str | None = None) -> dict[str, Any]:
        """The sequence's row as a dict, from ``table`` or from the table that holds it."""
        key = as_uuid(visitseq_uuid)
        source = visitseq_table(table or self.table_of(key))
        with self._connect() as conn:
            row = conn.execute(sa.select(source).where(source.c.visitseq_uuid == key)).mappings().first()
        if row is None:
            raise NotFoundError(f"no visit sequence {key} in {source.name}")
        return {name: plain(value) for name, value in row.items()}

    def update_metadata(
        self, visitseq_uuid: UuidLike, field: str, value: Any, conn: sa.Connection | None = None
    ) -> None:
        """Set one column of a sequence's row; ``field`` must be a column of the row's table.

        ``*sha256`` fields take bytes or hex, dates ``YYYY-MM-DD``/``YYYYMMDD``, JSONB dicts or
        JSON text. The UUID, the sequence's identity, cannot change.
        """
        key = as_uuid(visitseq_uuid)
        with self._writing(conn) as c:
            target = visitseq_table(self.table_of(key, conn=c))
            if field not in target.c or field == "visitseq_uuid":
                raise InvalidInputError(f"{field!r} is not a field that can be set on a {target.name} row")
            new_value = for_column(target.c[field], value)
            c.execute(sa.update(target).where(target.c.visitseq_uuid == key).values({field: new_value}))

    def set_visitseq_url(
        self, visitseq_uuid: UuidLike, url: str | None, conn: sa.Connection | None = None
    ) -> None:
        self.update_metadata(visitseq_uuid, "visitseq_url", url, conn=conn)

    def get_visitseq_url(self, visitseq_uuid: UuidLike) -> str | None:
        """The URL of the sequence's ``visits.h5`` (None when its visits are not stored)."""
        return self.get_metadata(visitseq_uuid, table="visitseq")["visitseq_url"]

    def search(
        self,
        *,
        telescope: str | None = None,
        day_obs: DayLike | None = None,
        first_day_obs: DayLike | None = None,
        last_day_obs: DayLike | None = None,
        tags: Iterable[str] = (),
        table: str = "visitseq",
        label: str | None = None,
        max_age: float | None = None,
        now: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Sequences matching every given criterion, oldest first (columns :data:`SEARCH_COLUMNS`).

        ``day_obs``: covering that night; ``first_day_obs``/``last_day_obs``: overlapping that
        range; ``table``: of that kind (``visitseq``: any); ``label``: containing that text (any
        case); ``max_age``: created less than that many days before ``now``.
        """
        visitseq_table(table)  # a clear error for an unknown table, before anything else
        params: dict[str, Any] = {}
        if telescope is not None:
            params["telescope"] = telescope
        if day_obs is not None:
            params["night"] = as_day(day_obs)
        if first_day_obs is not None:
            params["first_day_obs"] = as_day(first_day_obs, "first_day_obs")
        if last_day_obs is not None:
            params["last_day_obs"] = as_day(last_day_obs, "last_day_obs")
        if label:
            params["label"] = f"%{escape_like(label)}%"
        if max_age is not None:
            params["cutoff"] = creation_cutoff(now, max_age)
        wanted = list(dict.fromkeys(as_tag(t) for t in tags))
        params.update({f"tag{i}": tag for i, tag in enumerate(wanted)})
        if limit is not None:
            params["limit"] = int(limit)
        with self._connect() as conn:
            by_night = "night" in params and "telescope" in params and self._is_indexed(conn)
            shape = _SearchShape(table, frozenset(params), by_night)
            return frame(list(conn.execute(_search_statement(shape), params)), SEARCH_COLUMNS)


class _SearchShape(NamedTuple):
    """What decides the SQL of a search: the values are parameters, so one statement per shape
    is built once (and SQLAlchemy's compiled form with it), not per call."""

    table: str
    given: frozenset[str]
    """Names of the parameters given (``telescope``, ``night``, ``cutoff``, ``tag0``...)."""
    by_night: bool
    """Candidates from the night indexes of revision 0007 (the schema has them)."""


def _param(name: str, column: sa.ColumnElement[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


@functools.lru_cache(maxsize=128)
def _search_statement(shape: _SearchShape) -> sa.Select:
    """The search for one shape; its parameters are named as in :meth:`Sequences.search`."""
    v = visitseq_table(shape.table).alias("v")
    given = shape.given
    tag_count = sum(name.startswith("tag") for name in given)
    conditions: list[sa.ColumnElement[bool]] = []
    if "telescope" in given:
        conditions.append(v.c.telescope == _param("telescope", v.c.telescope))
    if "night" in given:
        night = _param("night", v.c.first_day_obs)
        conditions += [v.c.first_day_obs <= night, v.c.last_day_obs >= night]
    if "first_day_obs" in given:
        conditions.append(v.c.last_day_obs >= _param("first_day_obs", v.c.last_day_obs))
    if "last_day_obs" in given:
        conditions.append(v.c.first_day_obs <= _param("last_day_obs", v.c.first_day_obs))
    if "label" in given:
        conditions.append(v.c.visitseq_label.ilike(_param("label", v.c.visitseq_label), escape="\\"))
    if "cutoff" in given:
        conditions.append(v.c.creation_time >= _param("cutoff", v.c.creation_time))
    for i in range(tag_count):
        t = s.tags.alias(f"t{i}")
        conditions.append(
            sa.exists().where(t.c.visitseq_uuid == v.c.visitseq_uuid, t.c.tag == _param(f"tag{i}", t.c.tag))
        )
    rows: sa.FromClause = v
    if shape.by_night:
        # Candidates from the night indexes (revision 0007), each looked up by key; every
        # condition is still checked on the row.
        if shape.table == "simulations" and tag_count:
            path = tag_path("tag0", with_cutoff=False)
        else:
            path = night_path(visitseq_table(shape.table).name, with_cutoff=False)
        typed = [_param("night", v.c.first_day_obs), _param("telescope", v.c.telescope)]
        if ":tag0" in path:
            typed.append(_param("tag0", s.tags.c.tag))
        found = sa.text(path).bindparams(*typed)
        candidates = found.columns(visitseq_uuid=s.visitseq.c.visitseq_uuid.type).subquery("c")
        rows = candidates.join(v, v.c.visitseq_uuid == candidates.c.visitseq_uuid)
    stored_in: sa.ColumnElement[Any] = sa.literal(shape.table, sa.Text)
    if shape.table == "visitseq":  # rows of the parent are in one of its children (or in it)
        stored_in = _pg_class.c.relname
        rows = rows.join(_pg_class, _pg_class.c.oid == _stored_in(v))
    query = (
        sa.select(
            v.c.visitseq_uuid,
            stored_in,
            v.c.visitseq_label,
            v.c.telescope,
            v.c.first_day_obs,
            v.c.last_day_obs,
            v.c.creation_time,
            v.c.visitseq_url,
            v.c.visitseq_sha256,
            tags_json(v.c.visitseq_uuid),
        )
        .select_from(rows)
        .where(*conditions)
        .order_by(v.c.creation_time, v.c.visitseq_uuid)
    )
    if "limit" in given:
        query = query.limit(sa.bindparam("limit", type_=sa.Integer))
    return query
