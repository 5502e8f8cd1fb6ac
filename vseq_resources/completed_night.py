"""Archiving one night's completed visits: a ``completed`` sequence, recorded once per content.

A completed sequence is a fact about a night, so archiving a night whose ConsDB content did not
change records nothing new: the newest ``completed`` sequence of that telescope and night is
reused when its content hash (``visitseq_sha256``, the reproducible hash of
:func:`vseq_resources.visits.visits_content_hash`) equals that of the visits given. When the content
changed (late quick-look values, a re-processed night), a new sequence is recorded, and the result
names the sequence it supersedes. Only the newest is compared, so content that changes back to an
older state gives a new sequence again: the newest sequence of a night is always the current truth.

Concurrent archiving of one (telescope, night) (a backfill overlapping the schedule) is serialized
by a PostgreSQL advisory lock (:func:`night_lock`), so it records one sequence, not two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .dayobs import parse_dayobs

if TYPE_CHECKING:
    import pandas as pd

    from .archive import VisitSequenceArchive

COMPLETED_TABLE = "completed"

COMPLETED_STATS_COLUMNS: tuple[str, ...] = (
    "altitude",
    "azimuth",
    "airmass",
    "seeingFwhmEff",
    "fiveSigmaDepth",
    "skyBrightness",
)
"""Per-visit values whose nightly statistics are stored with each completed (and simulated)
sequence: the reference's defaults (altitude, azimuth) and the image-quality values the briefing
plots."""


@dataclass(frozen=True)
class CompletedNight:
    """The completed sequence of one night after archiving: new, or the unchanged existing one."""

    uuid: uuidlib.UUID
    url: str | None
    telescope: str
    day_obs: dt.date
    n_visits: int
    visitseq_sha256: bytes
    label: str
    creation_time: dt.datetime
    created: bool
    superseded: uuidlib.UUID | None = None

    @property
    def status(self) -> str:
        """One line saying whether a sequence was recorded, and why."""
        if not self.created:
            return f"unchanged: ConsDB content equals sequence {self.uuid}; nothing new recorded"
        if self.superseded is not None:
            return (
                f"changed: ConsDB content differs from sequence {self.superseded}; "
                f"recorded new sequence {self.uuid}"
            )
        return f"new: first completed sequence of {self.telescope} {self.day_obs}"


def completed_label(telescope: str, day_obs: dt.date) -> str:
    """The label of a night's completed sequence."""
    return f"Completed {telescope} visits of {day_obs.isoformat()}"


def archive_completed_night(
    archive: VisitSequenceArchive,
    telescope: str,
    day_obs: str | int | dt.date,
    visits: pd.DataFrame,
    *,
    query: str,
    comment: str | None = None,
    comment_author: str = "vseq",
) -> CompletedNight:
    """Record one night's completed visits unless the newest sequence of that night has them.

    ``query`` is the ConsDB query text stored with the sequence; ``comment`` (by
    ``comment_author``) is added to a new sequence only. Atomic: the sequence is recorded through
    :meth:`~vseq_resources.archive.VisitSequenceArchive.record_sequence`, so on failure nothing is
    left half-written and a retry starts clean.
    """
    from .visits import visits_content_hash

    night = parse_dayobs(day_obs)
    sha256 = visits_content_hash(visits)
    with night_lock(archive, telescope, night):
        return _archive_unless_unchanged(
            archive, telescope, night, visits, sha256, query, comment, comment_author
        )


@contextmanager
def night_lock(archive: VisitSequenceArchive, telescope: str, night: dt.date) -> Iterator[None]:
    """Serialize archiving of one (telescope, night) across processes: a PostgreSQL advisory lock.

    Two runs of the same night at once would otherwise both find no sequence with their content
    and both record one. The lock is per schema, telescope and night, and held on a connection of
    its own for the duration of the block.
    """
    import sqlalchemy as sa

    name = f"vseq completed {archive.metadata.schema} {telescope} {night.isoformat()}".encode()
    key = int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)
    with archive.metadata.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


def _archive_unless_unchanged(
    archive: VisitSequenceArchive,
    telescope: str,
    night: dt.date,
    visits: pd.DataFrame,
    sha256: bytes,
    query: str,
    comment: str | None,
    comment_author: str,
) -> CompletedNight:
    from .visits import compute_nightly_stats

    newest = archive.metadata.newest_completed(telescope, night)
    if newest is not None and bytes(newest["visitseq_sha256"]) == sha256:
        return CompletedNight(
            uuid=newest["visitseq_uuid"],
            url=newest["visitseq_url"],
            telescope=telescope,
            day_obs=night,
            n_visits=len(visits),
            visitseq_sha256=sha256,
            label=newest["visitseq_label"],
            creation_time=newest["creation_time"],
            created=False,
        )
    stats = compute_nightly_stats(visits, columns=COMPLETED_STATS_COLUMNS, day_obs=night)
    recorded = archive.record_sequence(
        COMPLETED_TABLE,
        visits,
        label=completed_label(telescope, night),
        telescope=telescope,
        first_day_obs=night,
        last_day_obs=night,
        nightly_stats=stats,
        comments=[(comment_author, comment)] if comment else (),
        query=query,
    )
    return CompletedNight(
        uuid=recorded.uuid,
        url=recorded.visitseq_url,
        telescope=telescope,
        day_obs=night,
        n_visits=recorded.n_visits,
        visitseq_sha256=recorded.visitseq_sha256,
        label=recorded.label,
        creation_time=recorded.creation_time,
        created=True,
        superseded=newest["visitseq_uuid"] if newest is not None else None,
    )
