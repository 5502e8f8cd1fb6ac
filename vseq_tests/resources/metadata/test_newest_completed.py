""" "The newest completed sequence of a night": one query, multi-night aware, the same answer for
the archive API, the pre-load history, the readers and ``load_partition``."""

from __future__ import annotations

import datetime as dt

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.readers import ArchiveReader, load_partition
from vseq_resources.visits import dayobs_ordinals
from vseq_tests.resources.readers_support import sim_visits

D = dt.date.fromisoformat


def _completed(archive: VisitSequenceArchive, nights: list[str], created: str, per_night: int, **kw: object):
    return archive.record_sequence(
        "completed",
        sim_visits(nights, per_night),
        label=f"completed {nights[0]}..{nights[-1]}",
        telescope="simonyi",
        creation_time=dt.datetime.fromisoformat(created),
        query="SELECT 1",
        **kw,
    )


def test_multi_night_import_and_a_newer_night(archive: VisitSequenceArchive, pg_url: str) -> None:
    imported = _completed(
        archive, ["2026-04-08", "2026-04-09", "2026-04-10"], "2026-04-11T00:00:00+00:00", 10
    )
    rearchived = _completed(archive, ["2026-04-09"], "2026-04-12T00:00:00+00:00", 7)
    # Newer, but with no stored visits: never the answer.
    _completed(archive, ["2026-04-10"], "2026-04-13T00:00:00+00:00", 5, store_visits=False)

    answer = archive.metadata.newest_completed_by_night("simonyi", "2026-04-10")
    assert {night: row["visitseq_uuid"] for night, row in answer.items()} == {
        D("2026-04-08"): imported.uuid,
        D("2026-04-09"): rearchived.uuid,
        D("2026-04-10"): imported.uuid,
    }
    assert all(row["visits_sha256"] is not None for row in answer.values())
    assert set(archive.metadata.newest_completed_by_night("simonyi", "2026-04-10", since="2026-04-09")) == {
        D("2026-04-09"),
        D("2026-04-10"),
    }
    assert archive.metadata.newest_completed("simonyi", "2026-04-11") is None
    assert archive.metadata.newest_completed("auxtel", "2026-04-09") is None
    assert archive.latest_completed_by_night(telescope="simonyi", through="2026-04-10") == answer

    # The pre-load, the readers and load_partition give the same answers.
    history = gather_completed_visits(archive, "simonyi", D("2026-04-11"))
    assert history.sequences == {night: row["visitseq_uuid"] for night, row in answer.items()}
    assert history.count == 10 + 7 + 10
    assert archive.settings is not None
    reader = ArchiveReader(pg_url, archive.metadata.schema, archive.settings.index_uri)
    for night, row in answer.items():
        visits = load_partition("simonyi/completed_visits", night, reader=reader)
        assert set(dayobs_ordinals(visits["observationStartMJD"])) == {night.toordinal()}
        assert len(visits) == (7 if row["visitseq_uuid"] == rearchived.uuid else 10)
        metadata = load_partition("simonyi/completed_metadata", night, reader=reader)
        assert metadata["visitseq_uuid"] == row["visitseq_uuid"]
    reader.close()


def test_ties_are_broken_by_uuid(archive: VisitSequenceArchive) -> None:
    same_time = "2026-04-11T00:00:00+00:00"
    uuids = sorted(_completed(archive, ["2026-04-09"], same_time, 3).uuid for _ in range(3))
    assert archive.metadata.newest_completed("simonyi", "2026-04-09")["visitseq_uuid"] == uuids[0]
