"""Which nights a pre-night day snapshots, writing them, and comparing them with the database."""

from __future__ import annotations

import datetime as dt

from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.prenight_index import prenight_index_path
from vseq_resources.prenight_snapshots import (
    compare_snapshot,
    compare_snapshots,
    nights_to_snapshot,
    write_snapshots,
)
from vseq_tests.resources.readers_support import record_sim

DAY = dt.date(2026, 4, 11)
NIGHTS = ("2026-04-11", "2026-04-12", "2026-04-13")


def test_a_day_snapshots_the_nights_its_simulations_cover(archive: VisitSequenceArchive) -> None:
    assert nights_to_snapshot(archive, "simonyi", DAY) == [DAY]  # no simulations: the day itself
    record_sim(archive, "yesterday's", ("2026-04-10", "2026-04-11"), created="2026-04-10T14:00:00+00:00")
    nominal = record_sim(archive, "nominal", NIGHTS)
    nights = [dt.date.fromisoformat(n) for n in NIGHTS]
    assert nights_to_snapshot(archive, "simonyi", DAY) == nights

    written = write_snapshots(archive, "simonyi", DAY)
    assert list(written) == nights
    index_uri = archive.settings.index_uri
    assert written[DAY] == prenight_index_path(index_uri, DAY, "simonyi")
    assert not ResourcePath(prenight_index_path(index_uri, "2026-04-10", "simonyi")).exists()
    assert compare_snapshots(archive, "simonyi", DAY) == (nights, [])

    # The database moves on without a new snapshot: every difference is named.
    archive.comment(nominal, "late note", author="planner")
    archive.untag(nominal, "ideal")
    nights_compared, problems = compare_snapshots(archive, "simonyi", DAY)
    assert nights_compared == nights and len(problems) == 2 * len(nights)
    assert any(p.startswith(f"2026-04-13: {nominal} comments") for p in problems)
    assert any(p.startswith(f"2026-04-11: {nominal} tags") for p in problems)
    write_snapshots(archive, "simonyi", DAY)
    assert compare_snapshots(archive, "simonyi", DAY)[1] == []


def test_missing_snapshot(archive: VisitSequenceArchive) -> None:
    assert compare_snapshot(archive, "simonyi", DAY) == []  # nothing to list, nothing written
    uuid = record_sim(archive, "nominal", NIGHTS[:1])
    assert compare_snapshot(archive, "simonyi", DAY) == [
        f"{DAY}: no snapshot at {prenight_index_path(archive.settings.index_uri, DAY, 'simonyi')}"
    ]
    write_snapshots(archive, "simonyi", DAY)
    archive.untag(uuid, "prenight")  # no longer a pre-night simulation
    assert compare_snapshot(archive, "simonyi", DAY) == [
        f"{DAY}: simulation {uuid} is in the snapshot but not in the database"
    ]
