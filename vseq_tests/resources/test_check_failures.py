"""A sequence that failed an integrity check is never chosen again; empty nights are counted.

Real PostgreSQL and a ``file://`` store: the ``check_failed`` tag (the one record of a failed
check) takes a completed sequence out of the "newest completed sequence of a night" answer (so it
is neither pre-loaded nor reused: archiving the night again records it afresh) and a simulation out
of the pre-night simulations of its nights (so it is never indexed). An archive without a failed
check answers as before.
"""

from __future__ import annotations

import datetime as dt

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.completed_checks import metadata_row_problems, visits_file_problems
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.completed_night import archive_completed_night
from vseq_resources.consdb import empty_opsim_visits
from vseq_resources.metadata.annotations import CHECK_FAILED_TAG
from vseq_tests.resources.consdb.synthetic import synthetic_night
from vseq_tests.resources.simulation.synthetic import synthetic_visits

FIRST = dt.date(2026, 5, 1)
SECOND = FIRST + dt.timedelta(days=1)
EMPTY = FIRST + dt.timedelta(days=2)
NEXT = FIRST + dt.timedelta(days=3)


def _archive_nights(archive: VisitSequenceArchive) -> dict[dt.date, object]:
    recorded = {}
    for night, visits in (
        (FIRST, synthetic_night(FIRST.isoformat(), 30, seed=1)),
        (SECOND, synthetic_night(SECOND.isoformat(), 20, seed=2)),
        (EMPTY, empty_opsim_visits(0)),
    ):
        recorded[night] = archive_completed_night(archive, "simonyi", night, visits, query="-- q")
    return recorded


def test_failed_completed_sequence_is_not_preloaded_nor_reused(archive: VisitSequenceArchive) -> None:
    recorded = _archive_nights(archive)
    for night, result in recorded.items():
        assert visits_file_problems(archive, result.uuid, result.n_visits)[0] == []
        assert metadata_row_problems(archive, result.uuid, "simonyi", night, result.url) == []
    healthy = gather_completed_visits(archive, "simonyi", NEXT)
    assert healthy.count == 50 and healthy.empty_nights == [EMPTY]
    assert healthy.describe(None)["empty_nights"] == [EMPTY.isoformat()]

    failed = recorded[SECOND].uuid
    archive.metadata.mark_check_failed(failed, {"visits_file_reads_back": "tampered"}, "tester")
    assert archive.metadata.is_tagged(failed, CHECK_FAILED_TAG)
    assert (
        "check visits_file_reads_back failed: tampered"
        in archive.metadata.get_comments(failed)["comment"].iloc[0]
    )

    assert archive.metadata.newest_completed("simonyi", SECOND) is None
    preloaded = gather_completed_visits(archive, "simonyi", NEXT)
    assert SECOND not in preloaded.sequences and preloaded.count == 30
    assert preloaded.empty_nights == [EMPTY]

    # Archiving the night again with the same content records it afresh instead of reusing it.
    again = archive_completed_night(
        archive, "simonyi", SECOND, synthetic_night(SECOND.isoformat(), 20, seed=2), query="-- q"
    )
    assert again.created and again.uuid != failed and again.superseded is None
    assert archive.metadata.newest_completed("simonyi", SECOND)["visitseq_uuid"] == again.uuid


def test_failed_simulation_is_not_indexed(archive: VisitSequenceArchive, tmp_path) -> None:
    night = dt.date(2026, 6, 1)
    uuids = []
    for seed in (1, 2):
        visits = synthetic_visits(40, night, night, seed=seed)
        uuids.append(
            archive.record_sequence(
                "simulations",
                visits,
                label=f"sim {seed}",
                telescope="simonyi",
                first_day_obs=night,
                last_day_obs=night,
                tags=["prenight", "ideal", "nominal"],
            ).uuid
        )
    listed = archive.metadata.prenight_simulations(night, "simonyi", max_simulation_age=None)
    assert set(listed["visitseq_uuid"]) == set(uuids)

    archive.metadata.mark_check_failed(uuids[1], {"simulations_read_back": "tampered"}, "tester")
    listed = archive.metadata.prenight_simulations(night, "simonyi", max_simulation_age=None)
    assert list(listed["visitseq_uuid"]) == [uuids[0]]
    # Numbering is the view's, unchanged: the failed one keeps its number and the other its own.
    assert listed["daily_id"].tolist() == [1]
    assert archive.metadata.uuid_for_daily_id(listed["sim_creation_day_obs"].iloc[0], 2) == uuids[1]
