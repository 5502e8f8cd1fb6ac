"""Revision 0009: ``simulations_extra`` reads ``tags`` and ``daily_id`` from a trigger-kept table.

The oracle is the view as it stood before 0009 (0006's definition, its table of creation days
computed in place, so every column comes from the reference tables), created beside it in the same
schema as ``extra_before``: production's own reader queries, run unchanged, must return exactly the
same rows from both, in every session time zone, after every kind of write, concurrent writers of
one day and one sequence included.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vseq_resources.metadata import migrate
from vseq_tests import services

from .support import create_reference_schema, digest
from .synthetic_archive import END, fill_archive

PER_DAY = importlib.import_module("vseq_resources.metadata.migrations.versions.0006_daily_id_per_day_window")
# 0011 dropped 0006's table of creation days: the oracle computes it in place, every UTC creation
# dayobs that has simulations (what 0006 filled it with).
_DAYS_TABLE = "simulation_days AS d"
_DAYS_IN_PLACE = (
    f"(SELECT DISTINCT {PER_DAY._day_obs('a')} AS sim_creation_day_obs FROM simulations AS a "
    "WHERE a.creation_time IS NOT NULL) AS d"
)
assert PER_DAY.SIMULATIONS_EXTRA_PER_DAY.count(_DAYS_TABLE) == 1
BEFORE = PER_DAY.SIMULATIONS_EXTRA_PER_DAY.replace(_DAYS_TABLE, _DAYS_IN_PLACE).replace(
    "VIEW simulations_extra AS", "VIEW extra_before AS"
)

ZONES = ("UTC", "America/Santiago", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kolkata")

# Production's reader SQL (rubin_sim 2.6.2 vseqmetadata), ``NOW()`` fixed.
PRENIGHT = """
SELECT * FROM simulations_extra AS s
WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs
    AND telescope = :telescope AND tags @> CAST(:tags AS JSONB)
    AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)
"""
PRENIGHT_STATS = """
WITH aggstats AS (
    SELECT visitseq_uuid,
        JSONB_OBJECT_AGG(value_name, TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs') AS stats
    FROM nightly_stats AS ns WHERE ns.day_obs = CAST(:night AS DATE) GROUP BY ns.visitseq_uuid
)
SELECT s.*, ns.stats FROM simulations_extra AS s
LEFT JOIN aggstats AS ns ON s.visitseq_uuid = ns.visitseq_uuid
WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs
    AND telescope = :telescope AND tags @> CAST(:tags AS JSONB)
    AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)
"""
DAILY_ID = """
SELECT visitseq_uuid FROM simulations_extra
WHERE CAST(:day AS DATE) = DATE(creation_time - INTERVAL '12 hours') AND :daily_id = daily_id
"""
METADATA = "SELECT * FROM simulations_extra WHERE visitseq_uuid = :uuid"
EVERYTHING = "SELECT * FROM simulations_extra"
BY_CREATION = "SELECT visitseq_uuid FROM simulations ORDER BY creation_time"


@pytest.fixture
def schema(pg_url: str, engine: sa.Engine) -> Iterator[str]:
    """An archive production created and filled, adopted by ``migrate()``, with the oracle view."""
    name = services.new_schema_name("test_stored")
    create_reference_schema(pg_url, name)
    try:
        with engine.begin() as conn:
            fill_archive(conn, name, 300, prenight_runs=120)
        migrate(engine, name)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{name}"')
            conn.exec_driver_sql(BEFORE)
        yield name
    finally:
        services.drop_schema(pg_url, name)


def _rows(conn: sa.Connection, sql: str, params: dict[str, object]) -> tuple[list, list]:
    """(rows of ``sql`` on the view, rows on the oracle), each sorted."""
    now = sorted(conn.execute(sa.text(sql), params).all(), key=repr)
    before = sa.text(sql.replace("FROM simulations_extra", "FROM extra_before"))
    return now, sorted(conn.execute(before, params).all(), key=repr)


def _connect(engine: sa.Engine, schema: str, zone: str = "UTC", isolation: str = "READ COMMITTED"):
    conn = engine.connect().execution_options(isolation_level=isolation)
    conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO '{zone}'")
    conn.commit()
    return conn


def _assert_view_unchanged(engine: sa.Engine, schema: str) -> int:
    with _connect(engine, schema) as conn:
        now, before = _rows(conn, EVERYTHING, {})
    assert now == before
    return len(now)


def _insert(conn: sa.Connection, label: str, created: str | None, first: str = "2025-12-20") -> uuid.UUID:
    sim = uuid.uuid4()
    conn.execute(
        sa.text(
            "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
            "first_day_obs, last_day_obs, creation_time) "
            "VALUES (:u, :h, :l, 'simonyi', :f, CAST(:f AS DATE) + 2, :t)"
        ),
        {"u": sim, "h": digest(label), "l": label, "f": first, "t": created},
    )
    return sim


def _tag(conn: sa.Connection, sim: uuid.UUID, *tags: str) -> None:
    for tag in tags:
        conn.execute(sa.text("INSERT INTO tags (visitseq_uuid, tag) VALUES (:u, :t)"), {"u": sim, "t": tag})


def _write_edge_rows(engine: sa.Engine, schema: str) -> None:
    """Rows around the UTC-12 boundary and the session zones' day boundaries, equal creation
    times, no creation time, a day two writers number at once, one a REPEATABLE READ writer
    numbers, and rows written with session_replication_role = replica."""
    with _connect(engine, schema) as conn:
        for i, created in enumerate(
            [
                "2025-12-20T11:59:59.999999Z",
                "2025-12-20T12:00:00Z",
                "2025-12-20T23:30:00Z",
                "2025-12-21T02:59:00Z",
                "2025-12-21T03:01:00Z",
                "2025-12-21T14:00:00Z",
                "2025-12-21T14:00:00Z",
                None,
                None,
            ]
        ):
            _tag(conn, _insert(conn, f"edge-{i}", created), "prenight", "ideal", "nominal")
        conn.exec_driver_sql("SET session_replication_role TO replica")
        _tag(conn, _insert(conn, "replica", "2025-12-21T15:00:00Z"), "prenight", "ideal", "nominal")
        conn.exec_driver_sql("SET session_replication_role TO origin")
        conn.commit()
    first, second = _connect(engine, schema), _connect(engine, schema)
    try:  # the second cannot take the day's lock: it marks the day instead of waiting
        _insert(first, "first-writer", "2025-12-22T20:00:00Z")
        _tag(second, _insert(second, "second-writer", "2025-12-22T19:00:00Z"), "prenight", "ideal", "nominal")
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    with _connect(engine, schema, isolation="REPEATABLE READ") as conn:
        _insert(conn, "repeatable-read", "2025-12-23T20:00:00Z")
        conn.commit()


def test_production_queries_answer_as_before_in_every_time_zone(engine: sa.Engine, schema: str) -> None:
    _write_edge_rows(engine, schema)
    with _connect(engine, schema) as conn:
        marked = set(conn.exec_driver_sql("SELECT * FROM simulation_unnumbered_days").scalars())
        uuids = conn.exec_driver_sql(BY_CREATION).scalars().all()
    assert {dt.date(2025, 12, 22), dt.date(2025, 12, 23)} <= marked  # both windowed branches are used
    tags = json.dumps(["prenight", "ideal", "nominal"])
    questions: list[tuple[str, dict[str, object]]] = [
        (EVERYTHING, {}),
        *[(METADATA, {"uuid": u}) for u in uuids[::40] + uuids[-12:]],
        *[
            (sql, {"night": night, "telescope": "simonyi", "tags": tags, "now": END, "age": age})
            for sql in (PRENIGHT, PRENIGHT_STATS)
            for night in (dt.date(2025, 12, 21), dt.date(2025, 12, 23), dt.date(2025, 9, 22))
            for age in ("2 days", "36500 days")
        ],
        *[
            (DAILY_ID, {"day": day, "daily_id": n})
            for day in (dt.date(2025, 12, d) for d in range(19, 25))
            for n in range(1, 6)
        ],
    ]
    answered = 0
    for zone in ZONES:
        with _connect(engine, schema, zone) as conn:
            for sql, params in questions:
                now, before = _rows(conn, sql, params)
                assert now == before, (zone, sql, params)
                answered += bool(now)
    assert answered > len(ZONES) * 30  # most questions have answers


def test_every_kind_of_write_keeps_the_view(engine: sa.Engine, schema: str) -> None:
    count = _assert_view_unchanged(engine, schema)
    with _connect(engine, schema) as conn:
        tagged_first = uuid.uuid4()
        _tag(conn, tagged_first, "nominal", "ideal")  # tags before the simulation exists
        conn.commit()
        conn.execute(
            sa.text(
                "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
                "first_day_obs, last_day_obs, creation_time) VALUES (:u, :h, 'late', 'simonyi', "
                "'2025-12-20', '2025-12-22', '2025-12-19T20:00:00Z')"
            ),
            {"u": tagged_first, "h": digest("late")},
        )
        conn.commit()
        some = conn.exec_driver_sql(BY_CREATION).scalars().all()
        steps = [
            (
                "tag",
                "INSERT INTO tags (visitseq_uuid, tag) SELECT visitseq_uuid, 'zeta' FROM simulations "
                "WHERE visitseq_label LIKE '%%7'",
            ),
            (
                "untag",
                "DELETE FROM tags WHERE tag = 'ideal' AND visitseq_uuid IN "
                "(SELECT visitseq_uuid FROM simulations WHERE visitseq_label LIKE '%%3')",
            ),
            (
                "rename tag",
                "UPDATE tags SET tag = 'alpha' WHERE tag = 'nominal' AND visitseq_uuid IN "
                "(SELECT visitseq_uuid FROM simulations WHERE visitseq_label LIKE '%%1')",
            ),
            (
                "earlier in a day",
                f"UPDATE simulations SET creation_time = creation_time - INTERVAL '3 hours' "
                f"WHERE visitseq_uuid = '{some[150]}'",
            ),
            (
                "to another day",
                f"UPDATE simulations SET creation_time = '2024-01-01T20:00:00Z' "
                f"WHERE visitseq_uuid = '{some[151]}'",
            ),
            (
                "nights and telescope",
                f"UPDATE simulations SET telescope = 'auxtel', last_day_obs = NULL "
                f"WHERE visitseq_uuid = '{some[152]}'",
            ),
            (
                "through the parent",
                f"UPDATE visitseq SET creation_time = '2024-01-01T21:00:00Z', "
                f"first_day_obs = '2024-01-02' WHERE visitseq_uuid = '{some[153]}'",
            ),
            (
                "no creation time",
                f"UPDATE simulations SET creation_time = NULL WHERE visitseq_uuid = '{some[154]}'",
            ),
            ("delete", f"DELETE FROM simulations WHERE visitseq_uuid = '{some[155]}'"),
            ("delete through the parent", f"DELETE FROM visitseq WHERE visitseq_uuid = '{some[156]}'"),
            ("truncate tags", "TRUNCATE tags"),
            (
                "tags again",
                "INSERT INTO tags (visitseq_uuid, tag) SELECT visitseq_uuid, 'prenight' "
                "FROM simulations WHERE visitseq_label LIKE '%%2'",
            ),
        ]
        for name, sql in steps:
            conn.exec_driver_sql(sql)
            conn.commit()
            now, before = _rows(conn, EVERYTHING, {})
            assert now == before, name
        assert len(now) == count - 1  # two deleted, one added
        stored = _stored(conn)
        assert conn.exec_driver_sql("SELECT simulations_extra_refill()").scalar_one() == count - 2
        conn.commit()
        assert _stored(conn) == stored  # the triggers kept exactly what a refill computes
        conn.exec_driver_sql("TRUNCATE simulations CASCADE")
        conn.commit()
        assert _rows(conn, EVERYTHING, {}) == ([], [])


def _stored(conn: sa.Connection) -> list[sa.Row]:
    return conn.exec_driver_sql(
        "SELECT * FROM simulations_extra_columns WHERE daily_id IS NOT NULL OR tags <> '[]' ORDER BY 1"
    ).all()


def test_concurrent_taggers_of_one_simulation_both_land(engine: sa.Engine, schema: str) -> None:
    """The second tagger waits for the first's row and merges into its committed tags (READ
    COMMITTED); it never overwrites them with what its own snapshot saw."""
    with _connect(engine, schema) as conn:
        sim = _insert(conn, "tagged-twice", "2025-12-24T20:00:00Z")
        conn.commit()
    first, second = _connect(engine, schema), _connect(engine, schema)
    try:
        _tag(first, sim, "alpha")
        second_pid = second.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        second.commit()
        worker = threading.Thread(target=lambda: (_tag(second, sim, "beta"), second.commit()))
        worker.start()
        with engine.connect() as watcher:
            while (
                worker.is_alive()
                and not watcher.execute(
                    sa.text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                    {"p": second_pid},
                ).scalar_one()
            ):
                watcher.rollback()
        first.commit()
        worker.join()
    finally:
        first.close()
        second.close()
    with _connect(engine, schema) as conn:
        tags = conn.execute(sa.text(METADATA), {"uuid": sim}).one().tags
        assert tags == ["alpha", "beta"]
    _assert_view_unchanged(engine, schema)
