"""Gathering the completed visits to pre-load, with and without the local cache."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.dayobs import dayobs_of_mjd
from vseq_resources.metadata.database import MetadataDatabase
from vseq_resources.store import ArchiveStore
from vseq_tests.resources.simulation.synthetic import archive_nightly, synthetic_visits

FIRST = dt.date(2026, 5, 1)
NIGHTS = 6
NEXT = FIRST + dt.timedelta(days=NIGHTS)


@pytest.fixture
def archive(pg_url: str, db_schema: str, file_base: str) -> Iterator[VisitSequenceArchive]:
    metadata = MetadataDatabase.from_url(pg_url, db_schema, create=True)
    yield VisitSequenceArchive(metadata, ArchiveStore(file_base))
    metadata.close()


def test_cache_gives_what_the_archive_gives_and_reads_only_new_nights(
    archive: VisitSequenceArchive, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    recorded = archive_nightly(archive, synthetic_visits(600, FIRST, NEXT - dt.timedelta(days=1), seed=5))
    assert len(recorded) == NIGHTS

    direct = gather_completed_visits(archive, "simonyi", NEXT)
    cold = gather_completed_visits(archive, "simonyi", NEXT, cache_dir=cache)
    warm = gather_completed_visits(archive, "simonyi", NEXT, cache_dir=cache)
    assert (direct.units_read, cold.units_read, cold.units_cached) == (NIGHTS, NIGHTS, 0)
    assert (warm.units_read, warm.units_cached) == (0, NIGHTS)
    for gathered in (cold, warm):
        pd.testing.assert_frame_equal(gathered.visits, direct.visits)
        assert gathered.sequences == direct.sequences == recorded
    assert direct.count == 600

    # The next day: one new night is read, the others come from the cache.
    archive_nightly(archive, synthetic_visits(90, NEXT, NEXT, seed=6))
    after = NEXT + dt.timedelta(days=1)
    next_day = gather_completed_visits(archive, "simonyi", after, cache_dir=cache)
    assert (next_day.units_read, next_day.units_cached) == (1, NIGHTS)
    pd.testing.assert_frame_equal(next_day.visits, gather_completed_visits(archive, "simonyi", after).visits)
    assert next_day.count == 690

    # A look-back window takes its nights from the same cache.
    window = gather_completed_visits(archive, "simonyi", after, lookback_nights=2, cache_dir=cache)
    assert (window.units_read, window.units_cached, len(window.sequences)) == (0, 2, 2)


def test_a_re_archived_night_replaces_its_cached_visits(
    archive: VisitSequenceArchive, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    archive_nightly(archive, synthetic_visits(300, FIRST, FIRST + dt.timedelta(days=2), seed=7))
    before = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=3), cache_dir=cache)
    redone = synthetic_visits(40, FIRST + dt.timedelta(days=1), FIRST + dt.timedelta(days=1), seed=8)
    new_uuid = archive_nightly(archive, redone)[FIRST + dt.timedelta(days=1)]

    after = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=3), cache_dir=cache)
    assert (after.units_read, after.units_cached) == (1, 2)
    assert after.sequences[FIRST + dt.timedelta(days=1)] == new_uuid
    night_two = after.visits["observationStartMJD"].map(dayobs_of_mjd) == FIRST + dt.timedelta(days=1)
    assert night_two.sum() == 40
    assert after.count != before.count


def test_an_unreadable_cache_file_is_read_again_from_the_archive(
    archive: VisitSequenceArchive, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    archive_nightly(archive, synthetic_visits(200, FIRST, FIRST + dt.timedelta(days=1), seed=9))
    first = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=2), cache_dir=cache)
    damaged = sorted(cache.glob("*.parquet"))[0]
    damaged.write_bytes(damaged.read_bytes()[:100])

    with caplog.at_level(logging.WARNING, logger="vseq_resources.completed_history"):
        again = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=2), cache_dir=cache)
    assert "unreadable cache file" in caplog.text
    assert (again.units_read, again.units_cached) == (1, 1)
    pd.testing.assert_frame_equal(again.visits, first.visits)
    # ... and rewritten whole, with nothing temporary left behind.
    third = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=2), cache_dir=cache)
    assert (third.units_read, third.units_cached) == (0, 2)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


def test_nothing_archived_gathers_nothing(archive: VisitSequenceArchive, tmp_path: Path) -> None:
    gathered = gather_completed_visits(archive, "simonyi", NEXT, cache_dir=tmp_path / "cache")
    assert gathered.visits is None and gathered.parent_uuid is None and gathered.count == 0
    assert not (tmp_path / "cache").exists()


def test_replaced_visits_of_a_sequence_are_not_taken_from_the_cache(
    archive: VisitSequenceArchive, tmp_path: Path
) -> None:
    """``archive-file --update UUID ... visits`` replaces a sequence's visits under the same UUID
    (and URL): the cache must not keep serving the old ones."""
    from vseq_resources.visits import write_visits_h5

    cache = tmp_path / "cache"
    night = FIRST + dt.timedelta(days=1)
    recorded = archive_nightly(archive, synthetic_visits(200, FIRST, night, seed=10))
    gather_completed_visits(archive, "simonyi", night + dt.timedelta(days=1), cache_dir=cache)
    replacement = synthetic_visits(30, night, night, seed=11)
    write_visits_h5(tmp_path / "visits.h5", replacement)
    archive.archive_file(recorded[night], tmp_path / "visits.h5", "visits", update=True)

    direct = gather_completed_visits(archive, "simonyi", night + dt.timedelta(days=1))
    cached = gather_completed_visits(archive, "simonyi", night + dt.timedelta(days=1), cache_dir=cache)
    assert (cached.units_read, cached.units_cached) == (1, 1)
    pd.testing.assert_frame_equal(cached.visits, direct.visits)
    night_two = cached.visits["observationStartMJD"].map(dayobs_of_mjd) == night
    assert night_two.sum() == 30


@pytest.mark.parametrize("content", ["fewer rows", "another unit"])
def test_a_readable_cache_file_of_other_content_is_read_again(
    archive: VisitSequenceArchive, tmp_path: Path, content: str
) -> None:
    """A valid Parquet file at a unit's name that is not that unit's visits (a truncated copy,
    another unit's file) is not used."""
    cache = tmp_path / "cache"
    archive_nightly(archive, synthetic_visits(200, FIRST, FIRST + dt.timedelta(days=1), seed=12))
    first = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=2), cache_dir=cache)
    files = sorted(cache.glob("*.parquet"))
    assert len(files) == 2
    if content == "fewer rows":
        pd.read_parquet(files[0]).head(3).to_parquet(files[0])
    else:
        files[0].write_bytes(files[1].read_bytes())

    again = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=2), cache_dir=cache)
    assert (again.units_read, again.units_cached) == (1, 1)
    pd.testing.assert_frame_equal(again.visits, first.visits)
    third = gather_completed_visits(archive, "simonyi", FIRST + dt.timedelta(days=2), cache_dir=cache)
    assert (third.units_read, third.units_cached) == (0, 2)


def test_cached_frames_keep_the_archive_dtypes(archive: VisitSequenceArchive, tmp_path: Path) -> None:
    """A night whose text column holds no value, and a night with no visits at all, give the same
    frame from the cache as from the archive."""
    cache = tmp_path / "cache"
    visits = synthetic_visits(200, FIRST, FIRST + dt.timedelta(days=2), seed=13)
    nights = visits["observationStartMJD"].map(dayobs_of_mjd)
    second = FIRST + dt.timedelta(days=1)
    visits["target_name"] = visits["target_name"].astype(object)
    visits.loc[nights == second, "target_name"] = None
    archive_nightly(archive, visits)
    empty_night = FIRST + dt.timedelta(days=3)
    archive.record_sequence(
        "completed",
        visits.iloc[:0],
        label="no visits",
        telescope="simonyi",
        first_day_obs=empty_night,
        last_day_obs=empty_night,
        query="synthetic",
    )
    after = FIRST + dt.timedelta(days=4)
    direct = gather_completed_visits(archive, "simonyi", after)
    cold = gather_completed_visits(archive, "simonyi", after, cache_dir=cache)
    warm = gather_completed_visits(archive, "simonyi", after, cache_dir=cache)
    assert (warm.units_read, warm.units_cached) == (0, 4)
    for gathered in (cold, warm):
        pd.testing.assert_frame_equal(gathered.visits, direct.visits)
        assert gathered.sequences == direct.sequences
    for lookback in (1, 2):  # windows ending with the empty night, one of them with the text-less one
        window = gather_completed_visits(archive, "simonyi", after, lookback_nights=lookback, cache_dir=cache)
        expected = gather_completed_visits(archive, "simonyi", after, lookback_nights=lookback)
        if expected.visits is None:
            assert window.visits is None
        else:
            pd.testing.assert_frame_equal(window.visits, expected.visits)
