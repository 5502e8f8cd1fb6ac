"""Every shape of night question gets the same answer on every kind of schema, and production's.

The pre-night query, ``search`` and ``simulation_metadata`` are asked for busy nights (a backfill
of a hundred pre-night simulations on one past night), past nights, the newest night, with and
without an age limit, with and without tags (many answers: research simulations spanning years
cover every recent night), on three schemas holding the same rows:

- ``reference``: created by production's DDL and never migrated (vseq's plain SQL);
- ``adopted``: the same rows, then ``migrate()`` (revision 0007 fills ``simulation_tag_spans``);
- ``fresh``: migrated first, then the rows written by plain SQL (the triggers fill the table).

Each answer must equal production's own SQL on the ``simulations_extra`` view of the reference
schema. A second test changes rows every way a writer can (tags added, removed and renamed,
nights and telescope changed through the child and through the parent, rows deleted, tables
truncated, rows written with triggers off then ``simulation_tag_spans_refill()``) and checks the
answers after each change against the view of the same schema.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from vseq_resources.metadata import MetadataDatabase, migrate
from vseq_resources.metadata.values import plain
from vseq_tests import services

from .support import create_reference_schema
from .synthetic_archive import END, copy_archive, fill_archive

NIGHT = (END - dt.timedelta(hours=12)).date()
PAST_NIGHT = NIGHT - dt.timedelta(days=100)
BACKFILL_NIGHT = dt.date(2024, 12, 2)
BACKFILL_SIMULATIONS = 120
PRENIGHT = ("prenight", "ideal", "nominal")

BACKFILL = """
INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, first_day_obs,
    last_day_obs, creation_time, sim_runner_kwargs)
SELECT MD5('backfill-' || i)::UUID, DECODE(MD5('b' || i) || MD5('c' || i), 'hex'), 'backfill ' || i,
    CASE WHEN i % 4 = 0 THEN 'auxtel' ELSE 'simonyi' END, DATE '2024-12-01', DATE '2024-12-03',
    TIMESTAMPTZ '2025-01-10 20:00Z' + i * INTERVAL '7 minutes', '{}'::JSONB
FROM GENERATE_SERIES(1, :n) AS i;
INSERT INTO tags (visitseq_uuid, tag)
SELECT MD5('backfill-' || i)::UUID, t FROM GENERATE_SERIES(1, :n) AS i,
    UNNEST(ARRAY['prenight', 'ideal', 'nominal']) AS t WHERE i % 10 <> 0;
INSERT INTO nightly_stats (visitseq_uuid, day_obs, value_name, accumulated, count, mean)
SELECT MD5('backfill-' || i)::UUID, DATE '2024-12-02', 'altitude', FALSE, i, i / 3.0
FROM GENERATE_SERIES(1, :n) AS i;
"""
"""A backfill: pre-night simulations of one past night, written a month later (one in ten untagged)."""

# (night, telescope, tags, max age in days or None, with stats)
QUESTIONS = [
    (NIGHT, "simonyi", PRENIGHT, 2, False),
    (NIGHT, "simonyi", PRENIGHT, 2, True),
    (NIGHT, "auxtel", PRENIGHT, None, True),
    (PAST_NIGHT, "simonyi", PRENIGHT, None, False),
    (PAST_NIGHT, "simonyi", PRENIGHT, None, True),
    (BACKFILL_NIGHT, "simonyi", PRENIGHT, None, True),
    (BACKFILL_NIGHT, "simonyi", PRENIGHT, 400, False),
    (BACKFILL_NIGHT, "simonyi", PRENIGHT, 2, False),
    (NIGHT, "simonyi", ("ideal",), None, False),
    (NIGHT, "simonyi", ("nominal", "ideal"), 2, True),
    (PAST_NIGHT, "simonyi", (), None, False),
    (PAST_NIGHT, "simonyi", (), 30, True),
]


def production_prenight(
    engine: sa.Engine,
    schema: str,
    night: dt.date,
    telescope: str,
    tags: tuple[str, ...],
    age: int | None,
    stats: bool,
) -> list[dict[str, Any]]:
    """Production's pre-night SQL (rubin_sim ``sims_on_nights``/``sims_on_night_with_stats``) on the
    ``simulations_extra`` view; no age condition for ``age=None``."""
    sql = "SELECT s.* FROM simulations_extra AS s"
    if stats:
        sql = (
            "WITH aggstats AS (SELECT visitseq_uuid, JSONB_OBJECT_AGG(value_name, "
            "TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs') AS stats FROM nightly_stats AS ns "
            "WHERE ns.day_obs = CAST(:night AS DATE) GROUP BY ns.visitseq_uuid) "
            "SELECT s.*, ns.stats FROM simulations_extra AS s "
            "LEFT JOIN aggstats AS ns ON s.visitseq_uuid = ns.visitseq_uuid"
        )
    sql += " WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs AND telescope = :telescope"
    if tags:
        sql += " AND tags @> CAST(:tags AS JSONB)"
    if age is not None:
        sql += " AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)"
    params = {
        "night": night,
        "telescope": telescope,
        "tags": json.dumps(list(tags)),
        "now": END,
        "age": f"{age} days",
    }
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO 'UTC'")
        result = conn.execute(sa.text(sql), params)
        return _rows(pd.DataFrame([[plain(v) for v in row] for row in result], columns=list(result.keys())))


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts sorted by UUID (NaN as None)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return sorted(records, key=lambda row: str(row["visitseq_uuid"]))


def api_prenight(
    db: MetadataDatabase, night: dt.date, telescope: str, tags: tuple[str, ...], age: int | None, stats: bool
) -> list[dict[str, Any]]:
    found = db.prenight_simulations(
        night, telescope, tags=tags, max_simulation_age=age, with_stats=stats, now=END
    )
    ordered = list(zip(found["creation_time"], found["visitseq_uuid"].map(str), strict=True))
    assert ordered == sorted(ordered), "oldest first"
    return _rows(found)


@pytest.fixture(scope="module")
def schemas(pg_url: str) -> Iterator[dict[str, MetadataDatabase]]:
    """The same rows in a never-migrated, an adopted and a fresh schema."""
    names = {kind: services.new_schema_name(f"test_{kind}") for kind in ("reference", "adopted", "fresh")}
    engine = sa.create_engine(pg_url)
    databases: dict[str, MetadataDatabase] = {}
    try:
        create_reference_schema(pg_url, names["reference"])
        create_reference_schema(pg_url, names["adopted"])
        migrate(engine, names["fresh"])
        with engine.begin() as conn:
            fill_archive(conn, names["reference"], 900, prenight_runs=300)
            conn.exec_driver_sql(f'SET search_path TO "{names["reference"]}"')
            conn.execute(sa.text(BACKFILL), {"n": BACKFILL_SIMULATIONS})
            copy_archive(conn, names["reference"], names["adopted"])
            copy_archive(conn, names["reference"], names["fresh"])
        migrate(engine, names["adopted"])
        databases = {kind: MetadataDatabase(sa.create_engine(pg_url), name) for kind, name in names.items()}
        yield databases
    finally:
        for database in databases.values():
            database.close()
        engine.dispose()
        for name in names.values():
            services.drop_schema(pg_url, name)


@pytest.mark.parametrize(("night", "telescope", "tags", "age", "stats"), QUESTIONS)
def test_prenight_answers_match_production_on_every_schema(
    engine: sa.Engine, schemas: dict[str, MetadataDatabase], night, telescope, tags, age, stats
) -> None:
    expected = production_prenight(engine, schemas["reference"].schema, night, telescope, tags, age, stats)
    for kind, db in schemas.items():
        assert api_prenight(db, night, telescope, tags, age, stats) == expected, kind


def test_shapes_are_what_they_claim(engine: sa.Engine, schemas: dict[str, MetadataDatabase]) -> None:
    """The questions above do cover busy nights, empty answers and many answers."""
    reference = schemas["reference"].schema
    busy = production_prenight(engine, reference, BACKFILL_NIGHT, "simonyi", PRENIGHT, None, True)
    assert len(busy) >= 60 and any(row["stats"] for row in busy)
    assert len({row["sim_creation_day_obs"] for row in busy}) <= 2  # ranked within busy days
    assert not production_prenight(engine, reference, BACKFILL_NIGHT, "simonyi", PRENIGHT, 2, False)
    many = production_prenight(engine, reference, PAST_NIGHT, "simonyi", (), None, False)
    assert len(many) > 50 and any(
        row["last_day_obs"] - row["first_day_obs"] > dt.timedelta(365) for row in many
    )
    assert production_prenight(engine, reference, NIGHT, "simonyi", PRENIGHT, 2, True)


@pytest.mark.parametrize(
    ("night", "table", "tags"),
    [
        (BACKFILL_NIGHT, "simulations", ("prenight",)),
        (PAST_NIGHT, "simulations", ("prenight", "ideal")),
        (PAST_NIGHT, "visitseq", ()),
        (PAST_NIGHT - dt.timedelta(days=1), "completed", ()),
    ],
)
def test_search_by_night_is_the_same_on_every_schema(
    schemas: dict[str, MetadataDatabase], night: dt.date, table: str, tags: tuple[str, ...]
) -> None:
    answers = {
        kind: _rows(db.search(telescope="simonyi", day_obs=night, tags=tags, table=table))
        for kind, db in schemas.items()
    }
    assert answers["reference"], "the question has answers"
    assert answers["adopted"] == answers["reference"]
    assert answers["fresh"] == answers["reference"]
    if table == "simulations":  # and they are what the pre-night view query selects
        expected = production_prenight(
            sa.create_engine(schemas["reference"].engine.url),
            schemas["reference"].schema,
            night,
            "simonyi",
            tags,
            None,
            False,
        )
        assert [row["visitseq_uuid"] for row in answers["adopted"]] == [
            row["visitseq_uuid"] for row in expected
        ]


def test_metadata_with_a_nights_stats(schemas: dict[str, MetadataDatabase]) -> None:
    """``simulation_metadata(uuid, stats_day_obs=night)`` is that simulation's pre-night row."""
    db = schemas["adopted"]
    rows = api_prenight(db, BACKFILL_NIGHT, "simonyi", PRENIGHT, None, True)
    for row in rows[:5]:
        alone = db.simulation_metadata(row["visitseq_uuid"], stats_day_obs=BACKFILL_NIGHT)
        assert {k: plain(v) for k, v in alone.items()} == row
    outside = db.simulation_metadata(
        rows[0]["visitseq_uuid"], stats_day_obs=BACKFILL_NIGHT + dt.timedelta(days=9)
    )
    assert outside["stats"] is None


def _sim(
    conn: sa.Connection, name: str, first: str, last: str, hours_ago: float, telescope: str = "simonyi"
) -> uuid.UUID:
    key = uuid.uuid5(uuid.NAMESPACE_URL, name)
    conn.execute(
        sa.text(
            "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
            "first_day_obs, last_day_obs, creation_time) VALUES (:u, :h, :u, :t, :f, :l, :c)"
        ),
        {
            "u": key,
            "h": b"\0" * 32,
            "t": telescope,
            "f": first,
            "l": last,
            "c": END - dt.timedelta(hours=hours_ago),
        },
    )
    return key


MUTATIONS = [
    "DELETE FROM tags WHERE visitseq_uuid = :a AND tag = 'prenight'",
    "INSERT INTO tags (visitseq_uuid, tag) VALUES (:a, 'prenight')",
    "UPDATE tags SET tag = 'renamed' WHERE visitseq_uuid = :b AND tag = 'ideal'",
    "UPDATE tags SET tag = 'ideal' WHERE visitseq_uuid = :b AND tag = 'renamed'",
    "UPDATE simulations SET last_day_obs = '2025-12-29' WHERE visitseq_uuid = :c",
    "UPDATE visitseq SET last_day_obs = '2026-01-02', telescope = 'auxtel' WHERE visitseq_uuid = :c",
    "UPDATE visitseq SET telescope = 'simonyi' WHERE visitseq_uuid = :c",
    "UPDATE simulations SET creation_time = creation_time - INTERVAL '5 days' WHERE visitseq_uuid = :d",
    "DELETE FROM visitseq WHERE visitseq_uuid = :d",
    "DELETE FROM simulations WHERE visitseq_uuid = :b",
    "TRUNCATE tags",
    "INSERT INTO tags (visitseq_uuid, tag) SELECT :a, UNNEST(ARRAY['prenight', 'ideal', 'nominal'])",
]


def test_every_write_keeps_the_answers(engine: sa.Engine, db: MetadataDatabase) -> None:
    """Whatever writes the rows, and however, the indexed answers stay the view's answers."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{db.schema}"')
        sims = {
            "a": _sim(conn, "a", "2025-12-30", "2026-01-01", 5),
            "b": _sim(conn, "b", "2025-12-31", "2025-12-31", 6),
            "c": _sim(conn, "c", "2025-12-30", "2026-01-02", 7),
            "d": _sim(conn, "d", "2020-01-01", "2030-01-01", 8),
        }
        conn.execute(
            sa.text(
                "INSERT INTO tags (visitseq_uuid, tag) SELECT u, t FROM UNNEST(CAST(:u AS UUID[])) AS u, "
                "UNNEST(ARRAY['prenight', 'ideal', 'nominal']) AS t"
            ),
            {"u": list(sims.values())},
        )

    def check(step: str) -> None:
        for tags, age in ((PRENIGHT, 2), (PRENIGHT, None), (("ideal",), None), ((), None)):
            for telescope in ("simonyi", "auxtel"):
                expected = production_prenight(engine, db.schema, NIGHT, telescope, tags, age, False)
                assert api_prenight(db, NIGHT, telescope, tags, age, False) == expected, (
                    step,
                    tags,
                    telescope,
                )

    check("written")
    for mutation in MUTATIONS:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'SET search_path TO "{db.schema}"')
            conn.execute(sa.text(mutation), {k: v for k, v in sims.items() if f":{k}" in mutation})
        check(mutation)

    with engine.begin() as conn:  # a restore with triggers off, then the documented refill
        conn.exec_driver_sql(f'SET search_path TO "{db.schema}"; SET session_replication_role = replica')
        sims["e"] = _sim(conn, "e", "2025-12-31", "2025-12-31", 1)
        conn.execute(
            sa.text("INSERT INTO tags VALUES (:e, 'prenight'), (:e, 'ideal'), (:e, 'nominal')"), sims
        )
    assert api_prenight(db, NIGHT, "simonyi", PRENIGHT, None, False) != production_prenight(
        engine, db.schema, NIGHT, "simonyi", PRENIGHT, None, False
    ), "rows written with triggers off are missing until the refill"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{db.schema}"')
        conn.exec_driver_sql("SELECT simulation_tag_spans_refill()")
    check("refilled")
