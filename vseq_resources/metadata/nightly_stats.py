"""Per-night statistics of a sequence's per-visit values (``nightly_stats``; cumulative ones in
vseq's ``accumulated_stats``)."""

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
        Per-night rows go to ``nightly_stats`` in the order given (the reference's readers print
        them in insertion order); cumulative rows go to ``accumulated_stats``, where the
        reference's readers, which ignore the flag, cannot mistake them for a night's (0008).
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
        # One row per key: the last one given wins (one multi-row INSERT must not affect a row
        # twice), at the place of the first.
        nightly: dict[tuple[Any, ...], dict[str, Any]] = {}
        accumulated: dict[tuple[Any, ...], dict[str, Any]] = {}
        for record in stats.to_dict(orient="records"):
            record["visitseq_uuid"] = key
            is_accumulated = bool(for_column(s.nightly_stats.c.accumulated, record.get("accumulated", False)))
            record["accumulated"] = is_accumulated
            target = s.accumulated_stats if is_accumulated else s.nightly_stats
            row = {name: for_column(target.c[name], record.get(name)) for name in target.c.keys()}
            (accumulated if is_accumulated else nightly)[(row["day_obs"], row["value_name"])] = row
        with self._writing(conn) as c:
            self._require(c, key)
            for target, rows in ((s.nightly_stats, nightly), (s.accumulated_stats, accumulated)):
                if rows:
                    _upsert(c, target, list(rows.values()))
        return len(nightly) + len(accumulated)

    def query_nightly_stats(self, visitseq_uuid: UuidLike, include_accumulated: bool = False) -> pd.DataFrame:
        """The sequence's ``nightly_stats`` rows (every column, in table order), as the reference's
        ``query_nightly_stats`` returns them: in insertion order (physical order, ``ctid``).

        ``include_accumulated`` appends vseq's cumulative statistics (``accumulated_stats``, with
        ``accumulated`` True), by night and value, when the schema has them (a schema vseq has
        not adopted yet has none).
        """
        key = as_uuid(visitseq_uuid)
        n = s.nightly_stats.c
        query = sa.select(s.nightly_stats).where(n.visitseq_uuid == key).order_by(sa.literal_column("ctid"))
        with self._connect() as conn:
            rows = list(conn.execute(query))
        if include_accumulated and self.has_table("accumulated_stats"):
            a = s.accumulated_stats.c
            cumulative = (
                sa.select(*(sa.true().label(c) if c == "accumulated" else a[c] for c in n.keys()))
                .where(a.visitseq_uuid == key)
                .order_by(a.day_obs, a.value_name)
            )
            with self._connect() as conn:
                rows += list(conn.execute(cumulative))
        return frame(rows, tuple(n.keys()))


def _upsert(conn: sa.Connection, target: sa.Table, rows: list[dict[str, Any]]) -> None:
    statement = pg_insert(target)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in target.primary_key.columns],
        set_={name: statement.excluded[name] for name in s.STATS_VALUE_COLUMNS},
    )
    # RETURNING makes SQLAlchemy send the rows as multi-row INSERTs ("insertmanyvalues"); a plain
    # executemany sends one statement per row (a year's ~11 000 rows: 3 s that way).
    conn.execute(statement.returning(target.c.day_obs), rows).all()
