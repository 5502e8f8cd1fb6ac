""" "The newest completed sequence of a night": one query, multi-night aware, the same answer for
the archive API, the pre-load history, the readers and ``load_partition``."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.metadata import MetadataDatabase
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


# The query as it stood before it read ``completed`` through the span-class index: every night of
# the range joined with every covering sequence (the oracle of the test below).
PLAIN_NEWEST = """
SELECT DISTINCT ON (n.night) n.night, c.visitseq_uuid
FROM (SELECT CAST(d AS DATE) AS night FROM GENERATE_SERIES(
    COALESCE(CAST(:first AS DATE), (SELECT MIN(first_day_obs) FROM completed
        WHERE telescope = 'simonyi' AND visitseq_url IS NOT NULL)),
    CAST(:last AS DATE), INTERVAL '1 day') AS g (d)) AS n
JOIN completed AS c ON c.first_day_obs <= n.night AND c.last_day_obs >= n.night
WHERE c.telescope = 'simonyi' AND c.visitseq_url IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM tags AS t
        WHERE t.visitseq_uuid = c.visitseq_uuid AND t.tag = 'check_failed')
ORDER BY n.night, c.creation_time DESC, c.visitseq_uuid
"""


def test_every_span_and_range_answers_as_every_covering_sequence(db: MetadataDatabase) -> None:
    """Sequences of every span class (1 night to 3 years, class boundaries included), reversed
    and missing nights, another telescope, no stored visits, a failed check: each night of each
    range gets the sequence a scan of every covering sequence picks."""
    start = dt.date(2026, 1, 1)
    rows = []
    for i in range(160):
        span = (0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 100, 1000, -2)[i % 14]
        first = start + dt.timedelta(days=(i * 37) % 300)
        rows.append(
            {
                "u": uuid.UUID(int=i + 1),
                "h": bytes([i]),
                "t": "auxtel" if i % 23 == 0 else "simonyi",
                "f": None if i % 41 == 0 else first,
                "l": first + dt.timedelta(days=span),
                "c": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=(i * 53) % 500),
                "url": None if i % 17 == 0 else f"file:///archive/{i}/visits.h5",
            }
        )
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{db.schema}"')
        conn.execute(
            sa.text(
                "INSERT INTO completed (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
                "first_day_obs, last_day_obs, creation_time, visitseq_url) "
                "VALUES (:u, :h, 'completed', :t, :f, :l, :c, :url)"
            ),
            rows,
        )
        failed = [{"u": uuid.UUID(int=i + 1)} for i in range(0, 160, 19)]
        conn.execute(sa.text("INSERT INTO tags (visitseq_uuid, tag) VALUES (:u, 'check_failed')"), failed)
    ranges = [(None, dt.date(2027, 1, 1)), (dt.date(2026, 3, 1), dt.date(2026, 3, 1))]
    ranges += [(start + dt.timedelta(days=d), start + dt.timedelta(days=d + 40)) for d in (0, 63, 250, 900)]
    # Every night alone: each sequence's last night is then the first of a range (class bounds).
    ranges += [(start + dt.timedelta(days=d),) * 2 for d in range(-3, 340)]
    answered = 0
    for first, last in ranges:
        found = db.newest_completed_by_night("simonyi", last, first)
        with db.engine.connect() as conn:
            conn.exec_driver_sql(f'SET search_path TO "{db.schema}"')
            expected = dict(conn.execute(sa.text(PLAIN_NEWEST), {"first": first, "last": last}).all())
        assert {night: row["visitseq_uuid"] for night, row in found.items()} == expected, (first, last)
        answered += len(expected)
    assert answered > 700
