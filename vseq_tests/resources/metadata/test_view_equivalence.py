"""The views readers query answer exactly the same on a vseq-migrated schema as on the reference's.

Two schemas created by the reference DDL receive the same few hundred synthetic simulations
(tags, comments, files, nightly statistics, package environments); one is then adopted by
``migrate()``. Every view and the tables readers query by name must return the same columns, types
and rows, ``daily_id`` numbering included, and so must the reference's own queries.
"""

from __future__ import annotations

import datetime as dt
import json
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
