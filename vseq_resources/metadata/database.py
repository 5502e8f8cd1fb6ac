"""``MetadataDatabase``: every query and write of the metadata database.

Plain Python values go in and come out (``uuid.UUID``, ``datetime.date``, aware ``datetime``,
``bytes`` for hashes, pandas DataFrames for tables). SQL uses bound parameters only; the table and
column names that have to be spliced into it come from :mod:`.schema`, never from the caller.

Write methods take ``conn=``: given a connection from :meth:`MetadataDatabase.transaction`, they
join that transaction (so the archive can register a sequence, its tags and its files at once, or
not at all); without it, each write commits on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..config import validate_schema_name
from ..errors import ConfigurationError, InvalidInputError, NotFoundError
from . import schema as s
from .connection import configure_engine, connection_error, describe_location, statement_error
from .migrate import current_revision, migrate
from .simulation_queries import creation_day_obs, simulations_extra_sql, tag_conditions
from .values import (
    as_day,
    as_sha256,
    as_text,
    as_time,
    as_uuid,
    canonical_json,
    escape_like,
    for_column,
    frame,
    plain,
)

if TYPE_CHECKING:  # pandas is imported where frames are built (values.frame): CLI start-up
    import pandas as pd

UuidLike = uuid.UUID | str
DayLike = str | int | dt.date

DEFAULT_PRENIGHT_TAGS = ("prenight", "ideal", "nominal")
DEFAULT_LATEST_TAGS = ("ideal", "nominal")
VISITS_FILE_TYPE = "visits"
STATS_COLUMNS = ("day_obs", "value_name", "accumulated", *s.STATS_VALUE_COLUMNS)
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


class MetadataDatabase:
    """The metadata database of one archive: an engine dedicated to one schema.

    The engine's connections are set up for the schema (``search_path``) and UTC when this object
    is made; use :meth:`from_url` to build the engine as well.
    """

    def __init__(self, engine: sa.Engine, schema: str) -> None:
        self.schema = validate_schema_name(schema)
        self.engine = engine
        configure_engine(engine, schema)

    @classmethod
    def from_url(
        cls, url: str | sa.URL, schema: str, connect_timeout: int = 10, *, create: bool = False
    ) -> MetadataDatabase:
        """Connect, check the schema holds an archive, and return the database.

        ``create=True`` migrates (creates, upgrades or adopts) the schema first. Failures raise
        :class:`DatabaseUnavailableError` (host unreachable) or :class:`ConfigurationError` (wrong
        credentials, no such database, schema missing or not migrated), one line each.
        """
        engine = sa.create_engine(url, connect_args={"connect_timeout": connect_timeout}, pool_pre_ping=True)
        database = cls(engine, schema)
        try:
            if create:
                migrate(engine, schema)
            database.check()
        except Exception:
            engine.dispose()
            raise
        return database

    def check(self) -> None:
        """Raise :class:`ConfigurationError` unless the schema holds the archive tables."""
        with self._connect() as conn:
            found = conn.execute(
                sa.text("SELECT to_regclass(:name)"), {"name": f'"{self.schema}".visitseq'}
            ).scalar()
        if found is None:
            raise ConfigurationError(
                f"schema {self.schema!r} at {describe_location(self.engine.url)} holds no visit sequence "
                "archive: it is missing or not migrated (run the migration)"
            )

    def revision(self) -> str | None:
        """The migration revision of the schema (None: created by the reference, never migrated)."""
        return current_revision(self.engine, self.schema)

    def close(self) -> None:
        self.engine.dispose()

    # -- connections ------------------------------------------------------------------------

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

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[sa.Row]:
        with self._connect() as conn:
            return list(conn.execute(sa.text(sql), params or {}))

    # -- visit sequences ------------------------------------------------------------------

    def insert_visitseq(
        self, table: str, row: dict[str, Any], conn: sa.Connection | None = None
    ) -> uuid.UUID:
        """Add a sequence to ``table`` (simulations, completed, mixedvisitseq or visitseq).

        ``row`` maps column names to values; ``visitseq_uuid`` and ``creation_time`` are optional
        (a new UUID, now). Returns the sequence's UUID.
        """
        target = self._visitseq_table(table)
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
        sql = (
            "SELECT c.relname FROM visitseq AS v JOIN pg_class AS c ON c.oid = v.tableoid "
            "WHERE v.visitseq_uuid = :uuid"
        )
        params = {"uuid": as_uuid(visitseq_uuid)}
        if conn is not None:
            found = conn.execute(sa.text(sql), params).scalar()
        else:
            found = next(iter(self._rows(sql, params)), (None,))[0]
        if found is None:
            raise NotFoundError(f"no visit sequence {visitseq_uuid} in schema {self.schema!r}")
        return found

    def get_metadata(self, visitseq_uuid: UuidLike, table: str | None = None) -> dict[str, Any]:
        """The sequence's row as a dict, from ``table`` or from the table that holds it."""
        key = as_uuid(visitseq_uuid)
        source = self._visitseq_table(table or self.table_of(key))
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
            target = self._visitseq_table(self.table_of(key, conn=c))
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

    def find_sequences_by_hash(
        self,
        table: str,
        sha256: bytes | str,
        telescope: str | None = None,
        first_day_obs: DayLike | None = None,
        last_day_obs: DayLike | None = None,
    ) -> list[uuid.UUID]:
        """UUIDs of the sequences in ``table`` with this content hash (and these values), oldest first."""
        target = self._visitseq_table(table)
        query = sa.select(target.c.visitseq_uuid).where(target.c.visitseq_sha256 == as_sha256(sha256))
        if telescope is not None:
            query = query.where(target.c.telescope == telescope)
        if first_day_obs is not None:
            query = query.where(target.c.first_day_obs == as_day(first_day_obs, "first_day_obs"))
        if last_day_obs is not None:
            query = query.where(target.c.last_day_obs == as_day(last_day_obs, "last_day_obs"))
        with self._connect() as conn:
            return [as_uuid(u) for u in conn.execute(query.order_by(target.c.creation_time)).scalars()]

    # -- tags and comments ----------------------------------------------------------------

    def tag(self, visitseq_uuid: UuidLike, *tags: str, conn: sa.Connection | None = None) -> None:
        """Add tags (already present ones are left alone, also when two writers race).

        ``ON CONFLICT`` relies on the unique index of revision 0002; the ``NOT EXISTS`` keeps a
        schema the reference created, not yet migrated, free of duplicates too.
        """
        key = as_uuid(visitseq_uuid)
        wanted = list(dict.fromkeys(_tag_text(t) for t in tags))
        if not wanted:
            return
        with self._writing(conn) as c:
            self._require(c, key)
            c.execute(
                sa.text(
                    "INSERT INTO tags (visitseq_uuid, tag) "
                    "SELECT :uuid, t FROM UNNEST(CAST(:tags AS TEXT[])) AS t "
                    "WHERE NOT EXISTS (SELECT 1 FROM tags WHERE visitseq_uuid = :uuid AND tag = t) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"uuid": key, "tags": wanted},
            )

    def untag(self, visitseq_uuid: UuidLike, tag: str, conn: sa.Connection | None = None) -> None:
        """Remove a tag (needs DELETE, which the production ``writer`` role lacks)."""
        with self._writing(conn) as c:
            c.execute(
                sa.delete(s.tags).where(s.tags.c.visitseq_uuid == as_uuid(visitseq_uuid), s.tags.c.tag == tag)
            )

    def is_tagged(self, visitseq_uuid: UuidLike, tag: str) -> bool:
        sql = "SELECT EXISTS (SELECT 1 FROM tags WHERE visitseq_uuid = :uuid AND tag = :tag)"
        return bool(self._rows(sql, {"uuid": as_uuid(visitseq_uuid), "tag": tag})[0][0])

    def get_tags(self, visitseq_uuid: UuidLike) -> list[str]:
        """The sequence's tags, sorted."""
        sql = "SELECT DISTINCT tag FROM tags WHERE visitseq_uuid = :uuid ORDER BY tag"
        return [row[0] for row in self._rows(sql, {"uuid": as_uuid(visitseq_uuid)})]

    def comment(
        self, visitseq_uuid: UuidLike, text: str, author: str | None = None, conn: sa.Connection | None = None
    ) -> None:
        key = as_uuid(visitseq_uuid)
        row = {"visitseq_uuid": key, "comment": as_text(text, "comment"), "author": author}
        with self._writing(conn) as c:
            self._require(c, key)
            c.execute(sa.insert(s.comments).values(row))

    def get_comments(self, visitseq_uuid: UuidLike) -> pd.DataFrame:
        """Columns comment_time, author, comment; oldest first."""
        columns = ("comment_time", "author", "comment")
        sql = f"SELECT {', '.join(columns)} FROM comments WHERE visitseq_uuid = :uuid ORDER BY comment_time"
        return frame(self._rows(sql, {"uuid": as_uuid(visitseq_uuid)}), columns)

    # -- files ------------------------------------------------------------------------------

    def register_file(
        self,
        visitseq_uuid: UuidLike,
        file_type: str,
        sha256: bytes | str,
        url: str | None,
        update: bool = False,
        conn: sa.Connection | None = None,
    ) -> None:
        """Record a file of a sequence; an existing one of that type is replaced only with ``update``."""
        key = as_uuid(visitseq_uuid)
        file_type = _file_type(file_type)
        row = {
            "visitseq_uuid": key,
            "file_type": file_type,
            "file_sha256": as_sha256(sha256),
            "file_url": url,
        }
        statement = pg_insert(s.files).values(row)
        if update:
            statement = statement.on_conflict_do_update(
                index_elements=["visitseq_uuid", "file_type"],
                set_={"file_sha256": statement.excluded.file_sha256, "file_url": statement.excluded.file_url},
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["visitseq_uuid", "file_type"])
        with self._writing(conn) as c:
            self._require(c, key)
            added = c.execute(statement.returning(s.files.c.file_type)).first()
        if added is None:
            raise InvalidInputError(
                f"visit sequence {key} already has a {file_type!r} file; pass update=True to replace it"
            )

    def get_file(self, visitseq_uuid: UuidLike, file_type: str) -> tuple[str | None, bytes]:
        """``(url, sha256)`` of the sequence's file of that type."""
        files = self.get_files(visitseq_uuid)
        if _file_type(file_type) not in files:
            raise NotFoundError(f"visit sequence {visitseq_uuid} has no {file_type!r} file")
        return files[file_type]

    def get_files(self, visitseq_uuid: UuidLike) -> dict[str, tuple[str | None, bytes]]:
        """Every registered file of the sequence: file type -> ``(url, sha256)``."""
        sql = (
            "SELECT file_type, file_url, file_sha256 FROM files "
            "WHERE visitseq_uuid = :uuid ORDER BY file_type"
        )
        return {t: (u, plain(h)) for t, u, h in self._rows(sql, {"uuid": as_uuid(visitseq_uuid)})}

    def record_checksum(
        self,
        visitseq_uuid: UuidLike,
        url: str,
        sha256: bytes | str,
        size: int,
        conn: sa.Connection | None = None,
    ) -> None:
        """Record the SHA-256 and size of a stored file (replacing what was known of that URL)."""
        row = {
            "file_url": url,
            "visitseq_uuid": as_uuid(visitseq_uuid),
            "file_sha256": as_sha256(sha256),
            "size_bytes": int(size),
        }
        statement = pg_insert(s.file_checksums).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["file_url"],
            set_={
                "visitseq_uuid": statement.excluded.visitseq_uuid,
                "file_sha256": statement.excluded.file_sha256,
                "size_bytes": statement.excluded.size_bytes,
                "recorded_time": sa.func.now(),
            },
        )
        with self._writing(conn) as c:
            c.execute(statement)

    def get_checksum(self, url: str) -> bytes | None:
        """The recorded SHA-256 of a stored file, or None when vseq did not store it."""
        rows = self._rows("SELECT file_sha256 FROM file_checksums WHERE file_url = :url", {"url": url})
        return plain(rows[0][0]) if rows else None

    def file_references(self) -> pd.DataFrame:
        """Every file URL a metadata row refers to, with its recorded checksum when known.

        Columns: visitseq_uuid, file_type (``visits`` for ``visitseq_url``), file_url,
        file_sha256 (None when unknown), size_bytes. Used to verify the store against the rows.
        """
        columns = ("visitseq_uuid", "file_type", "file_url", "file_sha256", "size_bytes")
        sql = (
            "SELECT r.visitseq_uuid, r.file_type, r.file_url, COALESCE(r.file_sha256, c.file_sha256), "
            "c.size_bytes FROM ("
            " SELECT visitseq_uuid, 'visits' AS file_type, visitseq_url AS file_url,"
            " NULL::bytea AS file_sha256 FROM visitseq WHERE visitseq_url IS NOT NULL"
            " UNION ALL SELECT visitseq_uuid, file_type, file_url, file_sha256 FROM files"
            " WHERE file_url IS NOT NULL"
            ") AS r LEFT JOIN file_checksums AS c ON c.file_url = r.file_url "
            "ORDER BY r.visitseq_uuid, r.file_type"
        )
        return frame(self._rows(sql), columns)

    # -- statistics and environments -------------------------------------------------------

    def insert_nightly_stats(
        self, visitseq_uuid: UuidLike, stats: pd.DataFrame, conn: sa.Connection | None = None
    ) -> int:
        """Store per-night statistics (the ``nightly_stats`` columns); rows already stored for the
        same night, value and accumulation are replaced. Returns the number of rows written.

        ``accumulated`` defaults to False (statistics of that night only), as in the reference.
        """
        key = as_uuid(visitseq_uuid)
        unknown = set(stats.columns) - set(STATS_COLUMNS) - {"visitseq_uuid"}
        if unknown:
            raise InvalidInputError(f"nightly_stats has no column(s) {', '.join(sorted(map(str, unknown)))}")
        if "visitseq_uuid" in stats.columns and set(stats["visitseq_uuid"].map(as_uuid)) - {key}:
            raise InvalidInputError(f"statistics for other sequences than {key}")
        missing = {"day_obs", "value_name"} - set(stats.columns)
        if missing:
            raise InvalidInputError(f"nightly statistics need column(s) {', '.join(sorted(missing))}")
        conflict_key = ("visitseq_uuid", "day_obs", "value_name", "accumulated")
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}  # one row per key: the last one given wins
        for record in stats.to_dict(orient="records"):
            record.setdefault("accumulated", False)
            record["visitseq_uuid"] = key
            row = {
                name: for_column(s.nightly_stats.c[name], record.get(name))
                for name in s.nightly_stats.c.keys()
            }
            rows[tuple(row[name] for name in conflict_key)] = row
        if not rows:
            return 0
        statement = pg_insert(s.nightly_stats)
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict_key),
            set_={name: statement.excluded[name] for name in s.STATS_VALUE_COLUMNS},
        )
        # RETURNING makes SQLAlchemy send the rows as multi-row INSERTs ("insertmanyvalues"); a
        # plain executemany sends one statement per row (a year's ~11 000 rows: 3 s that way).
        statement = statement.returning(s.nightly_stats.c.day_obs)
        with self._writing(conn) as c:
            self._require(c, key)
            c.execute(statement, list(rows.values())).all()
        return len(rows)

    def query_nightly_stats(self, visitseq_uuid: UuidLike) -> pd.DataFrame:
        """The sequence's statistics (the ``nightly_stats`` columns), by night and value."""
        columns = tuple(s.nightly_stats.c.keys())
        sql = (
            f"SELECT {', '.join(columns)} FROM nightly_stats WHERE visitseq_uuid = :uuid "
            "ORDER BY day_obs, value_name, accumulated"
        )
        return frame(self._rows(sql, {"uuid": as_uuid(visitseq_uuid)}), columns)

    def record_conda_env(self, packages: list[dict[str, Any]], conn: sa.Connection | None = None) -> bytes:
        """Store a package list (``conda list --json`` shape) once; return its hash.

        The hash is the SHA-256 of the canonical JSON of the list sorted by its canonical JSON
        entries, so the same environment gives the same hash whatever order it was listed in.
        """
        if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
            raise InvalidInputError("a conda environment is a list of package dicts")
        ordered = sorted(packages, key=canonical_json)
        env_hash = hashlib.sha256(canonical_json(ordered)).digest()
        statement = pg_insert(s.conda_env).values(conda_env_hash=env_hash, conda_env=ordered)
        with self._writing(conn) as c:
            c.execute(statement.on_conflict_do_nothing(index_elements=["conda_env_hash"]))
        return env_hash

    # -- simulations --------------------------------------------------------------------------

    def prenight_simulations(
        self,
        day_obs: DayLike,
        telescope: str,
        tags: Iterable[str] = DEFAULT_PRENIGHT_TAGS,
        max_simulation_age: float | None = 2,
        with_stats: bool = False,
        now: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """Simulations of ``telescope`` covering night ``day_obs``, carrying every tag in ``tags``
        (none: no tag filter), created less than ``max_simulation_age`` days before ``now`` (None:
        any age); every ``simulations_extra`` column, plus ``stats`` (value name -> statistics of
        that night, or None) with ``with_stats``. Oldest first.
        """
        sql, params = self._prenight_query(day_obs, telescope, tags, max_simulation_age, now, with_stats)
        columns = (*s.SIMULATIONS_EXTRA_COLUMNS, "stats") if with_stats else s.SIMULATIONS_EXTRA_COLUMNS
        return frame(self._rows(sql, params), columns)

    def latest_simulation(
        self,
        day_obs: DayLike,
        telescope: str,
        tags: Iterable[str] = DEFAULT_LATEST_TAGS,
        max_simulation_age: float | None = 2,
        now: dt.datetime | None = None,
    ) -> dict[str, Any] | None:
        """The newest of :meth:`prenight_simulations` with these tags, as a dict (None if none)."""
        sql, params = self._prenight_query(day_obs, telescope, tags, max_simulation_age, now, newest=True)
        rows = self._rows(sql, params)
        return dict(zip(s.SIMULATIONS_EXTRA_COLUMNS, map(plain, rows[0]), strict=True)) if rows else None

    def uuid_for_daily_id(self, sim_creation_day_obs: DayLike, daily_id: int) -> uuid.UUID:
        """The simulation called "``sim_creation_day_obs`` #``daily_id``" in this database."""
        day = as_day(sim_creation_day_obs, "sim_creation_day_obs")
        if isinstance(daily_id, bool) or not isinstance(daily_id, int) or daily_id < 1:
            raise InvalidInputError(f"daily_id must be a positive integer, not {daily_id!r}")
        sql = (
            f"SELECT visitseq_uuid FROM simulations AS m WHERE {creation_day_obs('m')} = :day "
            "ORDER BY creation_time, visitseq_uuid OFFSET :skip LIMIT 1"
        )
        rows = self._rows(sql, {"day": day, "skip": daily_id - 1})
        if not rows:
            raise NotFoundError(f"no simulation {day.isoformat()} #{daily_id}")
        return as_uuid(rows[0][0])

    def simulation_metadata(self, visitseq_uuid: UuidLike) -> dict[str, Any]:
        """The sequence's ``simulations_extra`` row as a dict."""
        sql = simulations_extra_sql(["m.visitseq_uuid = :uuid"])
        rows = self._rows(sql, {"uuid": as_uuid(visitseq_uuid)})
        if not rows:
            raise NotFoundError(f"no simulation {visitseq_uuid} in schema {self.schema!r}")
        return dict(zip(s.SIMULATIONS_EXTRA_COLUMNS, map(plain, rows[0]), strict=True))

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
        source = self._visitseq_table(table).name
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if telescope is not None:
            conditions.append("v.telescope = :telescope")
            params["telescope"] = telescope
        if day_obs is not None:
            conditions.append("v.first_day_obs <= :night AND v.last_day_obs >= :night")
            params["night"] = as_day(day_obs)
        if first_day_obs is not None:
            conditions.append("v.last_day_obs >= :range_first")
            params["range_first"] = as_day(first_day_obs, "first_day_obs")
        if last_day_obs is not None:
            conditions.append("v.first_day_obs <= :range_last")
            params["range_last"] = as_day(last_day_obs, "last_day_obs")
        if label:
            conditions.append("v.visitseq_label ILIKE :label ESCAPE '\\'")
            params["label"] = f"%{escape_like(label)}%"
        if max_age is not None:
            conditions.append("v.creation_time >= :cutoff")
            params["cutoff"] = _cutoff(now, max_age)
        tag_sql, tag_params = tag_conditions(tuple(_tag_text(t) for t in tags), alias="v")
        conditions += tag_sql
        params.update(tag_params)
        sql = (
            "SELECT v.visitseq_uuid, c.relname, v.visitseq_label, v.telescope, v.first_day_obs, "
            "v.last_day_obs, v.creation_time, v.visitseq_url, v.visitseq_sha256, "
            "COALESCE((SELECT JSONB_AGG(DISTINCT t.tag ORDER BY t.tag) FROM tags AS t "
            "WHERE t.visitseq_uuid = v.visitseq_uuid), '[]'::JSONB) "
            f"FROM {source} AS v JOIN pg_class AS c ON c.oid = v.tableoid "
            f"WHERE {' AND '.join(conditions) or 'TRUE'} ORDER BY v.creation_time, v.visitseq_uuid"
        )
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = int(limit)
        return frame(self._rows(sql, params), SEARCH_COLUMNS)

    # -- helpers ------------------------------------------------------------------------------

    def _prenight_query(
        self,
        day_obs: DayLike,
        telescope: str,
        tags: Iterable[str],
        max_simulation_age: float | None,
        now: dt.datetime | None,
        with_stats: bool = False,
        newest: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        night = as_day(day_obs)
        conditions = ["m.telescope = :telescope", "m.first_day_obs <= :night", "m.last_day_obs >= :night"]
        params: dict[str, Any] = {"telescope": telescope, "night": night}
        if max_simulation_age is not None:
            conditions.append("m.creation_time >= :cutoff")
            params["cutoff"] = _cutoff(now, max_simulation_age)
        tag_sql, tag_params = tag_conditions(tuple(_tag_text(t) for t in tags))
        conditions += tag_sql
        params.update(tag_params)
        if with_stats:
            params["stats_day_obs"] = night
        sql = simulations_extra_sql(
            conditions, with_stats=with_stats, newest_first=newest, limit=1 if newest else None
        )
        return sql, params

    @staticmethod
    def _visitseq_table(table: str) -> sa.Table:
        try:
            return s.VISITSEQ_TABLES[table]
        except (KeyError, TypeError):
            choices = ", ".join(s.VISITSEQ_TABLES)
            raise InvalidInputError(f"unknown visit sequence table {table!r} (one of {choices})") from None

    def _require(self, conn: sa.Connection, key: uuid.UUID) -> None:
        """Side tables have no foreign key (PostgreSQL cannot reference a parent and its children),
        so writers check the sequence exists themselves."""
        exists = conn.execute(
            sa.text("SELECT EXISTS (SELECT 1 FROM visitseq WHERE visitseq_uuid = :uuid)"), {"uuid": key}
        ).scalar()
        if not exists:
            raise NotFoundError(f"no visit sequence {key} in schema {self.schema!r}")


def _tag_text(tag: str) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidInputError(f"a tag is a non-empty string, not {tag!r}")
    return tag


def _file_type(file_type: str) -> str:
    if not isinstance(file_type, str) or not file_type:
        raise InvalidInputError(f"a file type is a non-empty string, not {file_type!r}")
    if file_type == VISITS_FILE_TYPE:
        raise InvalidInputError("the visits file is the sequence's visitseq_url, not a registered file")
    return file_type


def _cutoff(now: dt.datetime | None, max_age_days: float) -> dt.datetime:
    """The oldest creation time still younger than ``max_age_days`` at ``now`` (default: now)."""
    reference = as_time(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    return reference - dt.timedelta(days=max_age_days)
