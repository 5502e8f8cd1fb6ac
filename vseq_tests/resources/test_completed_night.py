"""Archiving a night's completed visits: once per content, superseded when the content changes,
one sequence under concurrent runs (real PostgreSQL, a ``file://`` store)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.completed_night import COMPLETED_TABLE, archive_completed_night
from vseq_tests.resources.consdb.synthetic import synthetic_night

NIGHT = dt.date(2025, 10, 16)


def _rows(archive: VisitSequenceArchive) -> list[dict]:
    return archive.find_sequences(
        COMPLETED_TABLE, telescope="simonyi", first_day_obs=NIGHT, last_day_obs=NIGHT
    )


def test_same_content_is_reused_changed_content_supersedes(archive: VisitSequenceArchive) -> None:
    visits = synthetic_night(NIGHT.isoformat(), 40, seed=5)
    first = archive_completed_night(
        archive, "simonyi", NIGHT, visits, query="-- q", comment="first", comment_author="tester"
    )
    assert first.created and first.superseded is None and first.status.startswith("new")
    assert first.label == "Completed simonyi visits of 2025-10-16"
    assert archive.metadata.get_comments(first.uuid)["author"].tolist() == ["tester"]
    stats = archive.metadata.query_nightly_stats(first.uuid)
    assert {"altitude", "airmass", "seeingFwhmEff", "fiveSigmaDepth"} <= set(stats["value_name"])

    again = archive_completed_night(archive, "simonyi", NIGHT, visits.copy(), query="-- q")
    assert not again.created and again.uuid == first.uuid and again.status.startswith("unchanged")

    changed = archive_completed_night(archive, "simonyi", NIGHT, visits.iloc[:-1], query="-- q")
    assert changed.created and changed.superseded == first.uuid and changed.n_visits == 39
    assert changed.status.startswith("changed")
    assert [r["visitseq_uuid"] for r in _rows(archive)] == [changed.uuid, first.uuid]


def test_concurrent_runs_of_one_night_record_one_sequence(archive: VisitSequenceArchive) -> None:
    visits = synthetic_night(NIGHT.isoformat(), 30)

    def archive_once(_: int):  # noqa: ANN202
        return archive_completed_night(archive, "simonyi", NIGHT, visits, query="-- q")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(archive_once, range(4)))
    assert sum(result.created for result in results) == 1
    assert len({result.uuid for result in results}) == 1
    assert len(_rows(archive)) == 1
