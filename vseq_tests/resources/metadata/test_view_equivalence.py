"""The views readers query answer exactly the same on a vseq-migrated schema as on the reference's.

Two schemas created by the reference DDL receive the same few hundred synthetic simulations
(tags, comments, files, nightly statistics, package environments); one is then adopted by
``migrate()``. Every view and the tables readers query by name must return the same columns, types
and rows, ``daily_id`` numbering included, and so must the reference's own queries. Then rows that
stress the numbering (equal creation times, the UTC-12 day boundary, no creation time, rows written
under ``session_replication_role = replica``, a row moved to another day) are written to both by
plain SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vseq_resources.metadata import migrate
from vseq_resources.metadata.schema import REFERENCE_VIEWS
from vseq_tests import services

from .support import create_reference_schema
from .synthetic_archive import END, copy_archive, fill_archive

SIMULATIONS = 400
DAY_OBS = "DATE((creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"

READER_QUERIES = {
    "simulations_extra": "SELECT * FROM simulations_extra ORDER BY visitseq_uuid",
    "visitseq": "SELECT * FROM visitseq ORDER BY visitseq_uuid",
    "nightly_stats": "SELECT * FROM nightly_stats ORDER BY visitseq_uuid, day_obs, value_name, accumulated",
    "conda_packages": "SELECT * FROM conda_packages ORDER BY conda_env_hash, package_name",
    "simulation_packages": "SELECT * FROM simulation_packages ORDER BY visitseq_uuid, package_name",
    "maf_summary": "SELECT * FROM maf_summary",
    "daily ids": (
        "SELECT sim_creation_day_obs, daily_id, visitseq_uuid FROM simulations_extra "
        "ORDER BY sim_creation_day_obs, daily_id"
    ),
    "by daily id": f"""
        SELECT * FROM simulations_extra WHERE daily_id = 2 AND sim_creation_day_obs = (
            SELECT MIN(d) FROM (
                SELECT {DAY_OBS} AS d FROM simulations GROUP BY 1 HAVING COUNT(*) >= 2
            ) AS busy
        )
    """,
    "pre-night with stats": """
        WITH aggstats AS (
            SELECT visitseq_uuid, JSONB_OBJECT_AGG(value_name,
                TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs') AS stats
            FROM nightly_stats AS ns WHERE ns.day_obs = :night GROUP BY ns.visitseq_uuid
        )
        SELECT s.*, ns.stats FROM simulations_extra AS s
        LEFT JOIN aggstats AS ns ON s.visitseq_uuid = ns.visitseq_uuid
        WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs AND telescope = 'simonyi'
            AND tags @> CAST(:tags AS JSONB)
            AND creation_time >= CAST(:now AS TIMESTAMPTZ) - INTERVAL '20 days'
        ORDER BY creation_time
    """,
}


@pytest.fixture
def schemas(pg_url: str, engine: sa.Engine) -> Iterator[tuple[str, str]]:
    """(reference schema, adopted schema) holding the same rows."""
    reference, adopted = services.new_schema_name("test_ref"), services.new_schema_name("test_adopt")
    create_reference_schema(pg_url, reference)
    create_reference_schema(pg_url, adopted)
    try:
        with engine.begin() as conn:
            fill_archive(conn, reference, SIMULATIONS, prenight_runs=150)
            copy_archive(conn, reference, adopted)
        migrate(engine, adopted)
        yield reference, adopted
    finally:
        services.drop_schema(pg_url, reference)
        services.drop_schema(pg_url, adopted)


def _answers(engine: sa.Engine, schema: str) -> dict[str, object]:
    params = {
        "night": dt.date(2025, 12, 25),
        "tags": json.dumps(["prenight", "ideal", "nominal"]),
        "now": END,
    }
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO 'UTC'")
        answers: dict[str, object] = {
            name: conn.execute(sa.text(sql), params).all() for name, sql in READER_QUERIES.items()
        }
        answers["view columns"] = conn.execute(
            sa.text(
                "SELECT table_name, ordinal_position, column_name, data_type "
                "FROM information_schema.columns WHERE table_schema = :s AND table_name = ANY(:views) "
                "ORDER BY 1, 2"
            ),
            {"s": schema, "views": list(REFERENCE_VIEWS)},
        ).all()
    return answers


def test_views_answer_the_same_after_adoption(engine: sa.Engine, schemas: tuple[str, str]) -> None:
    reference, adopted = schemas
    theirs, ours = _answers(engine, reference), _answers(engine, adopted)
    for name in theirs:
        assert ours[name] == theirs[name], name

    extra = theirs["simulations_extra"]
    assert len(extra) == SIMULATIONS
    assert len({row.creation_time for row in extra}) == SIMULATIONS  # no ties: one numbering only
    assert max(row.daily_id for row in extra) > 1
    assert sum(1 for row in extra if row.comments) > 50 and sum(1 for row in extra if row.files) > 50
    assert theirs["by daily id"] and theirs["pre-night with stats"]
    assert all(row.stats for row in theirs["pre-night with stats"])
    assert len(theirs["simulation_packages"]) == SIMULATIONS * 40


# Simulations written after adoption, by plain SQL, to both schemas: (name, creation time, how).
# Days far from the synthetic ones (which end in 2025), so each day holds only these rows.
EDGE_ROWS = [
    # The UTC-12 boundary: dayobs 2030-02-28 | 2030-03-01, 2030-03-01 | 2030-03-02.
    ("before-noon", "2030-03-01T11:59:59.999999Z", "trigger"),
    ("at-noon", "2030-03-01T12:00:00Z", "trigger"),
    ("next-morning", "2030-03-02T11:59:59.999999Z", "trigger"),
    ("next-noon", "2030-03-02T12:00:00Z", "trigger"),
    # Equal creation times (the reference's order among them is undefined; ours is by UUID).
    ("tie-early", "2030-04-01T13:00:00Z", "trigger"),
    ("tie-a", "2030-04-01T14:00:00Z", "trigger"),
    ("tie-b", "2030-04-01T14:00:00Z", "trigger"),
    ("tie-c", "2030-04-01T14:00:00Z", "trigger"),
    ("tie-late", "2030-04-01T15:00:00Z", "trigger"),
    # A new day written under session_replication_role = replica (pg_restore, logical replication).
    ("replica-1", "2030-05-01T20:00:00Z", "replica"),
    ("replica-2", "2030-05-01T21:00:00Z", "replica"),
    ("replica-3", "2030-05-02T02:00:00Z", "replica"),  # dayobs 2030-05-01 too
    # A known day (2030-04-01) gains a row in replica mode: ranked with the others all the same.
    ("replica-tie-day", "2030-04-01T13:30:00Z", "replica"),
    # No creation time: dayobs NULL, numbered 1..k (the reference in no defined order).
    ("no-time-1", None, "trigger"),
    ("no-time-2", None, "trigger"),
    ("no-time-3", None, "replica"),
    # Moved to a new day by an UPDATE.
    ("moved", "2030-06-01T20:00:00Z", "trigger"),
]
MOVED_TO = "2030-07-01T20:00:00Z"
EDGE_DAYS = [
    dt.date(2030, 2, 28),
    dt.date(2030, 3, 1),
    dt.date(2030, 3, 2),
    dt.date(2030, 4, 1),
    dt.date(2030, 5, 1),
    dt.date(2030, 7, 1),
]


def _write_edge_rows(engine: sa.Engine, schema: str) -> dict[str, uuid.UUID]:
    uuids = {name: uuid.uuid5(uuid.NAMESPACE_URL, f"vseq-edge-{name}") for name, _, _ in EDGE_ROWS}
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL search_path TO \"{schema}\"; SET LOCAL timezone TO 'UTC'")
        for name, created, how in EDGE_ROWS:
            conn.exec_driver_sql(
                f"SET LOCAL session_replication_role TO {'replica' if how == 'replica' else 'origin'}"
            )
            conn.execute(
                sa.text(
                    "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
                    "first_day_obs, last_day_obs, creation_time) "
                    "VALUES (:u, :h, :l, 'simonyi', '2030-01-01', '2030-01-02', :t)"
                ),
                {"u": uuids[name], "h": name.encode(), "l": name, "t": created},
            )
        conn.exec_driver_sql("SET LOCAL session_replication_role TO origin")
        conn.execute(
            sa.text("UPDATE simulations SET creation_time = :t WHERE visitseq_uuid = :u"),
            {"t": MOVED_TO, "u": uuids["moved"]},
        )
    return uuids


def _numbering(engine: sa.Engine, schema: str) -> list[sa.Row]:
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO 'UTC'")
        return conn.exec_driver_sql(
            "SELECT sim_creation_day_obs, daily_id, visitseq_uuid, creation_time, visitseq_label "
            "FROM simulations_extra ORDER BY visitseq_uuid"
        ).all()


def _lookups(engine: sa.Engine, schema: str, days: list[dt.date]) -> dict[tuple[dt.date, int], list]:
    """What a reader asking for "day #n" gets, for every n up to one past the day's count."""
    found = {}
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO 'UTC'")
        for day in days:
            count = conn.execute(
                sa.text("SELECT COUNT(*) FROM simulations_extra WHERE sim_creation_day_obs = :d"), {"d": day}
            ).scalar_one()
            for n in range(1, count + 2):
                found[day, n] = conn.execute(
                    sa.text(
                        "SELECT * FROM simulations_extra WHERE sim_creation_day_obs = :d AND daily_id = :n"
                    ),
                    {"d": day, "n": n},
                ).all()
    return found


def test_numbering_edge_cases_whatever_wrote_the_rows(engine: sa.Engine, schemas: tuple[str, str]) -> None:
    reference, adopted = schemas
    uuids = _write_edge_rows(engine, reference)
    assert _write_edge_rows(engine, adopted) == uuids

    theirs, ours = _numbering(engine, reference), _numbering(engine, adopted)
    assert [r.visitseq_uuid for r in ours] == [r.visitseq_uuid for r in theirs]
    assert [r.sim_creation_day_obs for r in ours] == [r.sim_creation_day_obs for r in theirs]
    by_name = {r.visitseq_label: r for r in ours}
    assert by_name["before-noon"].sim_creation_day_obs == dt.date(2030, 2, 28)
    assert by_name["next-morning"].sim_creation_day_obs == dt.date(2030, 3, 1)
    assert by_name["next-noon"].sim_creation_day_obs == dt.date(2030, 3, 2)
    assert by_name["moved"].sim_creation_day_obs == dt.date(2030, 7, 1)

    # Equal keys (same creation time, or none): the reference numbers them in no defined order, so
    # the same set of numbers over the same set of rows; ours by UUID. Everything else: identical.
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for mine, their in zip(ours, theirs, strict=True):
        groups[mine.sim_creation_day_obs, mine.creation_time].append((mine, their))
    tied = 0
    for pairs in groups.values():
        if len(pairs) == 1:
            assert pairs[0][0].daily_id == pairs[0][1].daily_id, pairs
            continue
        tied += len(pairs)
        assert sorted(m.daily_id for m, _ in pairs) == sorted(t.daily_id for _, t in pairs)
        by_uuid = sorted(pairs, key=lambda pair: pair[0].visitseq_uuid)
        assert [m.daily_id for m, _ in by_uuid] == sorted(m.daily_id for m, _ in pairs)
    assert tied == 6  # three equal creation times, three without one
    no_time = sorted((r for r in ours if r.creation_time is None), key=lambda r: r.visitseq_uuid)
    assert [(r.sim_creation_day_obs, r.daily_id) for r in no_time] == [(None, 1), (None, 2), (None, 3)]
    assert [by_name[n].daily_id for n in ("tie-early", "replica-tie-day", "tie-late")] == [1, 2, 6]

    # Readers asking for "day #n": the same rows (every column), on days with and without ties.
    theirs_found, ours_found = _lookups(engine, reference, EDGE_DAYS), _lookups(engine, adopted, EDGE_DAYS)
    tie_ids = {by_name[n].daily_id for n in ("tie-a", "tie-b", "tie-c")}
    for key, rows in theirs_found.items():
        if key[0] == dt.date(2030, 4, 1) and key[1] in tie_ids:
            assert len(ours_found[key]) == len(rows) == 1
            assert ours_found[key][0].visitseq_label in ("tie-a", "tie-b", "tie-c")
        else:
            assert ours_found[key] == rows, key
    assert sum(1 for rows in ours_found.values() if rows) == 14  # every simulation with a time
