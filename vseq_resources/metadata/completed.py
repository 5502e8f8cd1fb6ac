"""Which completed sequence answers for a night: one query, for every reader and writer.

A night's completed visits are those of the newest ``completed`` sequence with stored visits
whose ``first_day_obs..last_day_obs`` covers the night and that never failed an integrity check
(a sequence tagged :data:`~.annotations.CHECK_FAILED_TAG` is left out: never pre-loaded, never
reused by a re-run, which then records the night afresh). A multi-night import answers for each of
its nights until a newer sequence covers that night (a re-archived night always wins), so the
pipeline's re-archiving, its checks, the pre-night pre-load, ``load_partition``, the IO manager
and the archive API give the same answer for a night. Ties in ``creation_time`` are broken by
UUID, so the answer is deterministic.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from . import schema as s
from .access import DatabaseAccess
from .annotations import NOT_CHECK_FAILED_SQL
from .simulation_queries import MAX_SPAN_CLASS, UNBOUNDED_CLASS, span_class
from .values import as_day, plain

DayLike = str | int | dt.date

NEWEST_COMPLETED_COLUMNS = (*(c.name for c in s.completed.c), "visits_sha256")
"""The columns of each answer: the ``completed`` row, and ``visits_sha256``, the recorded
SHA-256 of its ``visits.h5`` (None when none is recorded) for the verified read path."""


class CompletedSequences(DatabaseAccess):
    """The "newest completed sequence of a night" query."""

    def newest_completed_by_night(
        self, telescope: str, through: DayLike, since: DayLike | None = None
    ) -> dict[dt.date, dict[str, Any]]:
        """For each night ``since``..``through`` (``since`` None: from the first archived
        night), the newest completed sequence with stored visits covering it, as a dict of
        :data:`NEWEST_COMPLETED_COLUMNS`. Nights no such sequence covers are absent."""
        last = as_day(through, "through")
        first = as_day(since, "since") if since is not None else None
        with self._connect() as conn:
            rows = conn.execute(_newest_by_night_query(telescope, first, last)).mappings().all()
        return {row["night"]: _answer(row) for row in rows}

    def newest_completed(self, telescope: str, night: DayLike) -> dict[str, Any] | None:
        """The newest completed sequence with stored visits covering ``night`` (None if none)."""
        day = as_day(night, "night")
        return self.newest_completed_by_night(telescope, day, day).get(day)


def _newest_by_night_query(telescope: str, first: dt.date | None, last: dt.date) -> sa.TextClause:
    """The newest stored, never-failed completed sequence of each night ``first``..``last``.

    The sequences that can cover a night of the range are read through the span-class index of
    ``completed`` (revision 0007; see :mod:`.simulation_queries`): for each class, those starting
    at most ``2^c - 1`` nights before ``first`` and ending on or after it, so the work follows the
    sequences overlapping the range, not the archive. A schema without that index answers the same.
    """
    columns = ", ".join(f"o.{c.name}" for c in s.completed.c)
    sql = f"""
WITH bounds AS (
    SELECT COALESCE(CAST(:first AS DATE), (
        SELECT MIN(e.first_day_obs) FROM completed AS e
        WHERE e.telescope = :telescope AND e.visitseq_url IS NOT NULL
    )) AS first
),
overlapping AS MATERIALIZED (
    SELECT w.* FROM bounds AS b CROSS JOIN GENERATE_SERIES(0, {MAX_SPAN_CLASS}) AS k (c)
    CROSS JOIN LATERAL (
        SELECT w.* FROM completed AS w
        WHERE w.telescope = :telescope AND {span_class("w")} = k.c
            AND w.first_day_obs BETWEEN (
                CASE WHEN k.c < {UNBOUNDED_CLASS} THEN b.first - ((1 << k.c) - 1) ELSE DATE '-infinity' END
            ) AND CAST(:last AS DATE)
            AND w.last_day_obs >= b.first AND w.visitseq_url IS NOT NULL
        OFFSET 0
    ) AS w
),
nights AS (
    SELECT CAST(g.d AS DATE) AS night FROM bounds AS b
    CROSS JOIN GENERATE_SERIES(b.first, CAST(:last AS DATE), INTERVAL '1 day') AS g (d)
)
SELECT DISTINCT ON (n.night) n.night, {columns}, fc.file_sha256 AS visits_sha256
FROM nights AS n
JOIN overlapping AS o ON o.first_day_obs <= n.night AND o.last_day_obs >= n.night
LEFT JOIN file_checksums AS fc ON fc.file_url = o.visitseq_url
WHERE {NOT_CHECK_FAILED_SQL.replace("m.visitseq_uuid", "o.visitseq_uuid")}
ORDER BY n.night, o.creation_time DESC, o.visitseq_uuid
"""
    return sa.text(sql).bindparams(telescope=telescope, first=first, last=last)


def _answer(row: Any) -> dict[str, Any]:
    out = {name: plain(row[name]) for name in NEWEST_COMPLETED_COLUMNS}
    if not isinstance(out["visitseq_uuid"], uuid.UUID):
        out["visitseq_uuid"] = uuid.UUID(str(out["visitseq_uuid"]))
    return out
