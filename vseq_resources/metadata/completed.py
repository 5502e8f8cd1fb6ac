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
from .annotations import not_check_failed
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


def _newest_by_night_query(telescope: str, first: dt.date | None, last: dt.date) -> sa.Select:
    c, checksums = s.completed, s.file_checksums
    stored = sa.and_(
        c.c.telescope == telescope, c.c.visitseq_url.is_not(None), not_check_failed(c.c.visitseq_uuid)
    )
    start: sa.ColumnElement[Any]
    if first is None:
        earliest = c.alias("earliest")
        start = (
            sa.select(sa.func.min(earliest.c.first_day_obs))
            .where(earliest.c.telescope == telescope, earliest.c.visitseq_url.is_not(None))
            .scalar_subquery()
        )
    else:
        start = sa.cast(sa.literal(first), sa.Date)
    days = sa.func.generate_series(start, sa.cast(sa.literal(last), sa.Date), sa.text("INTERVAL '1 day'"))
    nights = sa.select(sa.cast(days.column_valued("day"), sa.Date).label("night")).subquery("nights")
    covers = sa.and_(c.c.first_day_obs <= nights.c.night, c.c.last_day_obs >= nights.c.night)
    return (
        sa.select(nights.c.night, *c.c, checksums.c.file_sha256.label("visits_sha256"))
        .select_from(nights.join(c, covers).outerjoin(checksums, checksums.c.file_url == c.c.visitseq_url))
        .where(stored)
        .distinct(nights.c.night)
        .order_by(nights.c.night, c.c.creation_time.desc(), c.c.visitseq_uuid)
    )


def _answer(row: Any) -> dict[str, Any]:
    out = {name: plain(row[name]) for name in NEWEST_COMPLETED_COLUMNS}
    if not isinstance(out["visitseq_uuid"], uuid.UUID):
        out["visitseq_uuid"] = uuid.UUID(str(out["visitseq_uuid"]))
    return out
