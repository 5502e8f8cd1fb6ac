"""A synthetic metadata archive of realistic shape and any size, filled in bulk by SQL.

Used by the view-equivalence test (a few hundred simulations) and by
``benchmarks/bench_metadata.py`` (1k to 1M). Rows are generated server-side with
``INSERT ... SELECT ... FROM generate_series`` and deterministic pseudo-random values (hashes of the
row number), so the same size always gives the same archive, and it works on a schema created by
the reference DDL as well as on a vseq-migrated one (only reference tables are written).

The shape, chosen so that the number of pre-night matches does not grow with the archive:

- ``prenight_runs`` simulations of the pre-night pipeline, spread over the last ``PRENIGHT_DAYS``
  days before ``END``: tags ``prenight``, ``ideal``, ``nominal``; 70 % simonyi; each covers the
  three nights starting at its creation dayobs; parent: the completed visits of the night before.
- every other simulation is research: creation times spread over the ``SPAN_DAYS`` before
  ``END``; 75 % simonyi; three tags, never ``prenight`` (``ideal`` on 75 %, ``nominal`` on 50 %,
  one of six others); 1 to 3 nights from its creation dayobs, or (15 %) surveys of 1 to 10 years.
- comments on 40 % of simulations (a second one on 10 %), ``rewards`` files on 70 %, ``scheduler``
  files on 40 %, nightly statistics (``altitude``, ``azimuth``; per night, not accumulated) for
  the first three covered nights of every simulation, 10 package environments, one ``completed``
  sequence per night.

Creation times are distinct, so ``daily_id`` is the same whichever tie-break a view uses.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

END = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""No simulation is created at or after this time."""
SPAN_DAYS = 730
PRENIGHT_DAYS = 180
PRENIGHT_RUNS = 500
STATS_VALUES = ("altitude", "azimuth")
STATS_NIGHTS = 3
CONDA_ENVS = 10

ARCHIVE_TABLES = (
    "simulations",
    "completed",
    "mixedvisitseq",
    "tags",
    "comments",
    "files",
    "conda_env",
    "nightly_stats",
)
"""The reference tables the fill writes (and :func:`copy_archive` copies), plus parent-only rows of
``visitseq``, copied with ``ONLY``."""

_FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.u(key TEXT) RETURNS DOUBLE PRECISION LANGUAGE SQL IMMUTABLE AS
$$ SELECT ('x' || SUBSTR(MD5(key), 1, 12))::BIT(48)::BIGINT / 281474976710656.0 $$;
CREATE OR REPLACE FUNCTION pg_temp.h32(key TEXT) RETURNS BYTEA LANGUAGE SQL IMMUTABLE AS
$$ SELECT DECODE(MD5(key) || MD5(key || '/2'), 'hex') $$;
CREATE OR REPLACE FUNCTION pg_temp.dayobs(t TIMESTAMPTZ) RETURNS DATE LANGUAGE SQL IMMUTABLE AS
$$ SELECT DATE((t AT TIME ZONE 'UTC') - INTERVAL '12 hours') $$;
"""

_SPEC = """
CREATE TEMP TABLE synthetic_spec ON COMMIT DROP AS
SELECT g.i, g.prenight, g.created, pg_temp.dayobs(g.created) AS cday, g.telescope,
    MD5('vseq-synthetic-sim-' || g.i)::UUID AS uuid
FROM (
    SELECT i, i <= :p AS prenight,
        CASE WHEN i <= :p
            THEN CAST(:end AS TIMESTAMPTZ) - MAKE_INTERVAL(days => :pdays)
                + (i - 1 + 0.5 * pg_temp.u('c' || i)) * (INTERVAL '1 day' * :pdays / :p)
            ELSE CAST(:end AS TIMESTAMPTZ) - MAKE_INTERVAL(days => :span)
                + (i - :p - 1 + pg_temp.u('c' || i)) * (INTERVAL '1 day' * :span / GREATEST(:n - :p, 1))
        END AS created,
        CASE WHEN pg_temp.u('t' || i) < CASE WHEN i <= :p THEN 0.3 ELSE 0.25 END
            THEN 'auxtel' ELSE 'simonyi' END AS telescope
    FROM GENERATE_SERIES(1, :n) AS i
) AS g
"""

_SIMULATIONS = """
INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, visitseq_url, telescope,
    first_day_obs, last_day_obs, creation_time, scheduler_version, config_url, conda_env_sha256,
    parent_visitseq_uuid, sim_runner_kwargs, parent_last_day_obs)
SELECT s.uuid, pg_temp.h32('visits-' || s.i),
    CASE WHEN s.prenight
        THEN 'Nominal start and overhead, ideal conditions, run at ' || TO_CHAR(s.created AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS')
        ELSE 'research simulation ' || s.i END,
    's3://rubin:rubin-scheduler-prenight/opsim/vseq/' || s.telescope || '/' || s.cday || '/' || s.uuid
        || '/visits.h5',
    s.telescope, r.first_day_obs, r.last_day_obs, s.created,
    '4.' || (s.i % 7) || '.0',
    'https://github.com/lsst-ts/ts_config_scheduler/blob/' || SUBSTR(MD5('cfg' || (s.i % 50)), 1, 10)
        || '/Scheduler/feature_scheduler/maintel/fbs_config_lsst_survey.py',
    pg_temp.h32('env-' || (s.i % :envs)),
    CASE WHEN s.prenight THEN MD5('vseq-synthetic-completed-' || (s.cday - 1))::UUID END,
    JSONB_BUILD_OBJECT(
        'mjd_start', (r.first_day_obs - DATE '1858-11-17') + 1.0,
        'record_rewards', TRUE,
        'n_visit_limit', CASE WHEN s.prenight THEN NULL ELSE 1000 + s.i % 5000 END
    ),
    CASE WHEN s.prenight THEN s.cday - 1 END
FROM synthetic_spec AS s,
LATERAL (
    SELECT f AS first_day_obs,
        CASE WHEN s.prenight THEN f + 2
            WHEN pg_temp.u('long' || s.i) < 0.15 THEN f + 365 * (1 + FLOOR(pg_temp.u('y' || s.i) * 10)::INT)
            ELSE f + FLOOR(pg_temp.u('n' || s.i) * 3)::INT END AS last_day_obs
    FROM (
        SELECT CASE WHEN s.prenight THEN s.cday ELSE s.cday + FLOOR(pg_temp.u('f' || s.i) * 3)::INT END AS f
    ) AS ff
) AS r
ORDER BY s.i
"""

_TAGS = """
INSERT INTO tags (visitseq_uuid, tag)
SELECT s.uuid, t.tag
FROM synthetic_spec AS s,
LATERAL (
    SELECT UNNEST(ARRAY['prenight', 'ideal', 'nominal']) AS tag WHERE s.prenight
    UNION ALL
    SELECT UNNEST(ARRAY[
        (ARRAY['ideal', 'ideal', 'ideal', 'realistic'])[1 + FLOOR(pg_temp.u('a' || s.i) * 4)::INT],
        (ARRAY['nominal', 'nominal', 'degraded', 'downtime'])[1 + FLOOR(pg_temp.u('b' || s.i) * 4)::INT],
        (ARRAY['research', 'baseline', 'rolling', 'ddf', 'v4', 'test'])
            [1 + FLOOR(pg_temp.u('d' || s.i) * 6)::INT]
    ]) WHERE NOT s.prenight
) AS t
ORDER BY s.i
"""

_COMMENTS = """
INSERT INTO comments (visitseq_uuid, comment_time, author, comment)
SELECT s.uuid, s.created + k * INTERVAL '3 hours' + pg_temp.u('ct' || s.i || '-' || k) * INTERVAL '1 hour',
    (ARRAY['neilsen', 'yoachim', 'naghib', 'prenight pipeline'])[1 + (s.i + k) % 4],
    (ARRAY['Looks nominal; used for the night plan.', 'Rerun with the updated downtime schedule.',
           'Bad seeing model, do not use for planning.', 'Compare with the baseline before sharing.'])
        [1 + (s.i * 7 + k) % 4] || ' (' || s.i || '/' || k || ')'
FROM synthetic_spec AS s, GENERATE_SERIES(1, 2) AS k
WHERE pg_temp.u('m' || s.i) < CASE k WHEN 1 THEN 0.4 ELSE 0.1 END
ORDER BY s.i, k
"""

_FILES = """
INSERT INTO files (visitseq_uuid, file_type, file_sha256, file_url)
SELECT s.uuid, f.file_type, pg_temp.h32(f.file_type || s.i),
    's3://rubin:rubin-scheduler-prenight/opsim/vseq/' || s.telescope || '/' || s.cday || '/' || s.uuid
        || '/' || f.file_name
FROM synthetic_spec AS s,
    (VALUES ('rewards', 'rewards.h5', 0.7), ('scheduler', 'scheduler.pickle.xz', 0.4))
        AS f (file_type, file_name, fraction)
WHERE pg_temp.u(f.file_type || s.i) < f.fraction
ORDER BY s.i, f.file_type
"""

_NIGHTLY_STATS = """
INSERT INTO nightly_stats (visitseq_uuid, day_obs, value_name, accumulated, count, mean, std, min,
    p05, q1, median, q3, p95, max)
SELECT s.visitseq_uuid, s.first_day_obs + k, v.value_name, FALSE,
    200 + FLOOR(x.a * 800)::INT,
    v.center + v.scale * (x.a - 0.5), v.scale * 0.2 * (0.5 + x.b),
    v.center - v.scale, v.center - 0.8 * v.scale, v.center - 0.3 * v.scale,
    v.center + v.scale * (x.a - 0.5) * 0.9, v.center + 0.3 * v.scale, v.center + 0.8 * v.scale,
    v.center + v.scale
FROM simulations AS s,
    GENERATE_SERIES(0, :nights - 1) AS k,
    (VALUES ('altitude', 60.0, 25.0), ('azimuth', 180.0, 170.0)) AS v (value_name, center, scale),
    LATERAL (SELECT pg_temp.u(s.visitseq_uuid || v.value_name || k) AS a,
                    pg_temp.u(v.value_name || k || s.visitseq_uuid) AS b) AS x
ORDER BY s.creation_time, k, v.value_name
"""

_CONDA_ENV = """
INSERT INTO conda_env (conda_env_hash, conda_env)
SELECT pg_temp.h32('env-' || e),
    (SELECT JSONB_AGG(JSONB_BUILD_OBJECT(
        'name', 'package' || p, 'version', '1.' || ((p + e) % 20) || '.0', 'channel', 'conda-forge',
        'base_url', 'https://conda.anaconda.org/conda-forge', 'platform', 'linux-64',
        'dist_name', 'package' || p || '-1.' || ((p + e) % 20) || '.0-py311_0',
        'build_number', 0, 'build_string', 'py311_0') ORDER BY p)
     FROM GENERATE_SERIES(1, 40) AS p)
FROM GENERATE_SERIES(0, :envs - 1) AS e
"""

_COMPLETED = """
INSERT INTO completed (visitseq_uuid, visitseq_sha256, visitseq_label, visitseq_url, telescope,
    first_day_obs, last_day_obs, creation_time, query)
SELECT MD5('vseq-synthetic-completed-' || d)::UUID, pg_temp.h32('completed-' || d),
    'Completed visits of ' || d, NULL, 'simonyi', d, d, d + TIME '13:00' AT TIME ZONE 'UTC',
    'SELECT * FROM cdb_lsstcam.visit1 WHERE day_obs = ' || TO_CHAR(d, 'YYYYMMDD')
FROM (SELECT DISTINCT cday - 1 AS d FROM synthetic_spec WHERE prenight) AS days
ORDER BY d
"""


def fill_archive(
    conn: sa.Connection, schema: str, simulations: int, prenight_runs: int | None = None
) -> dict[str, int]:
    """Fill the (empty) archive ``schema`` with ``simulations`` simulations; return row counts.

    ``prenight_runs`` defaults to ``min(PRENIGHT_RUNS, simulations // 2)``. Runs in the caller's
    transaction (the temporary helpers are dropped at commit).
    """
    if prenight_runs is None:
        prenight_runs = min(PRENIGHT_RUNS, simulations // 2)
    if not 0 < prenight_runs < simulations:
        raise ValueError("need at least one pre-night and one research simulation")
    params = {
        "n": simulations,
        "p": prenight_runs,
        "end": END,
        "pdays": PRENIGHT_DAYS,
        "span": SPAN_DAYS,
        "envs": CONDA_ENVS,
        "nights": STATS_NIGHTS,
    }
    conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}", pg_temp')
    conn.exec_driver_sql(_FUNCTIONS)
    for sql in (_SPEC, _CONDA_ENV, _SIMULATIONS, _COMPLETED, _TAGS, _COMMENTS, _FILES, _NIGHTLY_STATS):
        conn.execute(sa.text(sql), params)
    conn.exec_driver_sql("DROP TABLE synthetic_spec")
    return row_counts(conn, schema)


def copy_archive(conn: sa.Connection, source: str, target: str) -> None:
    """Copy every row of the archive ``source`` into the (empty) archive ``target``, in order."""
    conn.exec_driver_sql(f'INSERT INTO "{target}".visitseq SELECT * FROM ONLY "{source}".visitseq')
    for table in ARCHIVE_TABLES:
        conn.exec_driver_sql(f'INSERT INTO "{target}".{table} SELECT * FROM "{source}".{table}')


def row_counts(conn: sa.Connection, schema: str) -> dict[str, int]:
    return {
        table: conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{schema}".{table}').scalar_one()
        for table in ("visitseq", *ARCHIVE_TABLES)
    }
