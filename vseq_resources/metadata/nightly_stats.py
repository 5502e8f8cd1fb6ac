"""Per-night statistics of a sequence's per-visit values (``nightly_stats``)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..errors import InvalidInputError
from . import schema as s
from .access import DatabaseAccess
from .values import as_uuid, for_column, frame

if TYPE_CHECKING:
    import pandas as pd

UuidLike = uuid.UUID | str
STATS_COLUMNS = ("day_obs", "value_name", "accumulated", *s.STATS_VALUE_COLUMNS)


class NightlyStats(DatabaseAccess):
    """Writing and reading ``nightly_stats``."""

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
        n = s.nightly_stats.c
        query = (
            sa.select(s.nightly_stats)
            .where(n.visitseq_uuid == as_uuid(visitseq_uuid))
            .order_by(n.day_obs, n.value_name, n.accumulated)
        )
        with self._connect() as conn:
            return frame(list(conn.execute(query)), tuple(s.nightly_stats.c.keys()))
