"""Benchmark of the metadata queries for any night, any age limit and any archive size.

Run with ``.venv/bin/python benchmarks/bench_metadata.py [--sizes 1000 10000 100000] [--reps 7]``;
the 1M size separately: ``--sizes 1000000`` (about 35 min on a loaded 2-core machine, most of it
building the archives and timing production's SQL on production's schema; ``--keep`` keeps the
schemas and ``--reuse`` times kept ones again without building them).

For each size, two schemas with identical rows, both in the PostgreSQL of the tests (default
server settings, JIT included: the script prints ``jit`` and ``jit_above_cost``):

- ``production``: created by production's DDL (``vseq_tests/fixtures/reference_schema.sql``) and
  filled in bulk by set-based SQL (:mod:`vseq_tests.resources.metadata.synthetic_archive`, one
  ``INSERT ... SELECT ... generate_series`` per table);
- ``adopted``: the same rows copied in, then adopted by ``migrate()`` (what happens to
  production's ``vsmd``). Both are ``VACUUM ANALYZE``d.

The archive has busy nights: ``size / 25`` pre-night simulations over 180 days (67 per night at
100k, 667 at 1M), beside research simulations of 1-3 nights or 1-10 years (15 %) that cover every
recent night but never carry ``prenight``. Questions (newest night = the last one; past night = 100
nights before it, still busy):

- pre-night simulations (tags prenight/ideal/nominal) of the newest night within 2 days, and of a
  past night with no age limit (``ArchiveReader.prenight_index``), each without and with stats;
- ``search`` of a past night's pre-night simulations (the CLI), and of a night's completed
  sequence (the readers);
- the newest completed sequence of a night (``newest_completed``: what the pre-load, the IO
  manager, ``load_partition`` and the night review read);
- (day, daily_id) -> UUID on the busiest day of a past month, and UUID -> ``simulations_extra``.

Each is asked in up to four ways: **api** (``MetadataDatabase`` on the adopted schema),
**indexed SQL** (hand-written SQL through the indexes of the adopted schema, written for the
question at hand: the lower bound the API is held to, within 2x), **production** (production's own
SQL, from rubin_sim 2.6.2 ``vseqmetadata``, on production's schema) and **production, adopted**
(the same SQL on the adopted schema: existing readers after ``vseqarchive migrate``). Answers are
compared before any time is printed. Each variant: median of several calls after a warm-up
(at least 15 for calls under 50 ms; calls over 2 s: 3 calls), rows fetched into a DataFrame, all
sizes interleaved call by call so that they see the same machine load.

Prints per question: rows, milliseconds (median and best), the API's ratio to the indexed SQL, the
ratio of production's time on production's schema to its time on the adopted one, how each grows
with the archive against its answer, the load average and CPU time, and the EXPLAIN ANALYZE plans
of the slowest API question and of the slowest production question on the adopted schema.
Timings are never asserted: targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from vseq_resources.metadata import MetadataDatabase, migrate
from vseq_resources.metadata.connection import configure_engine
from vseq_resources.metadata.values import plain
from vseq_tests import services
from vseq_tests.resources.metadata.support import create_reference_schema
from vseq_tests.resources.metadata.synthetic_archive import END, copy_archive, fill_archive, row_counts

PRENIGHT_TAGS = ("prenight", "ideal", "nominal")
MAX_AGE_DAYS = 2
NO_AGE_LIMIT_DAYS = 36500
"""Production's SQL always has an age limit: 100 years is none."""
NOW = END
NIGHT = (END - dt.timedelta(hours=12)).date()
PAST_NIGHT = NIGHT - dt.timedelta(days=100)
TELESCOPE = "simonyi"
BUSY_FRACTION = 25
"""One simulation in this many is a pre-night one (busy nights at every size)."""
Normalize = Callable[[Any], Any]
SLOW_CALL = 2.0
FAST_CALL = 0.05
SCHEMA_PREFIX = "queries_bench"
TARGET_SMALL, TARGET_LARGE = 100_000, 1_000_000
"""The sizes issue 15's growth and production targets are stated for."""
GROWTH_NOISE_S = 0.0002
"""How far medians of identical sub-millisecond calls move between runs (see :func:`report`)."""
DAY_OBS = "DATE((creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"

# -- production's SQL (rubin_sim 2.6.2 vseqmetadata: sims_on_nights, sims_on_night_with_stats,
# get_sim_uuid, get_visitseq_metadata), NOW() replaced by a fixed time so that runs compare.
PROD_PRENIGHT = """
SELECT * FROM simulations_extra AS s
WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs
    AND CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs
    AND telescope = :telescope
    AND tags @> CAST(:tags AS JSONB)
    AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)
"""
PROD_PRENIGHT_STATS = """
WITH aggstats AS (
    SELECT visitseq_uuid,
        JSONB_OBJECT_AGG(value_name, TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs') AS stats
    FROM nightly_stats AS ns
    WHERE ns.day_obs = CAST(:night AS DATE)
    GROUP BY ns.visitseq_uuid
)
SELECT s.*, ns.stats
FROM simulations_extra AS s
LEFT JOIN aggstats AS ns ON s.visitseq_uuid = ns.visitseq_uuid
WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs
    AND telescope = :telescope
    AND tags @> CAST(:tags AS JSONB)
    AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)
"""
PROD_DAILY_ID = """
SELECT visitseq_uuid FROM simulations_extra
WHERE CAST(:day AS DATE) = DATE(creation_time - INTERVAL '12 hours') AND :daily_id = daily_id
"""
PROD_METADATA = "SELECT * FROM simulations_extra WHERE visitseq_uuid = :uuid"

# -- hand-written SQL through the adopted schema's indexes, one per question.
_CLASSES = """
    FROM GENERATE_SERIES(0, 31) AS k (c) CROSS JOIN LATERAL (
        SELECT sp.visitseq_uuid FROM simulation_tag_spans AS sp
        WHERE sp.tag = :driver AND sp.telescope = :telescope AND sp.span_class = k.c
            AND sp.first_day_obs BETWEEN (CASE WHEN k.c < 20 THEN CAST(:night AS DATE) - ((1 << k.c) - 1)
                ELSE DATE '-infinity' END) AND :night
            AND sp.last_day_obs >= :night {age}
    ) AS sp"""


def _day_of(alias: str) -> str:
    return DAY_OBS.replace("creation_time", f"{alias}.creation_time")


_DAILY_ID = f"""(SELECT COUNT(*) FROM simulations AS r
        WHERE {_day_of("r")} = {_day_of("m")}
            AND (r.creation_time, r.visitseq_uuid) <= (m.creation_time, m.visitseq_uuid)) AS daily_id"""
_EXTRA = f"""
    {DAY_OBS.replace("creation_time", "m.creation_time")} AS sim_creation_day_obs,
    {_DAILY_ID},
    m.visitseq_uuid, m.visitseq_label, m.visitseq_url, m.telescope, m.first_day_obs, m.last_day_obs,
    m.creation_time, m.scheduler_version, m.config_url, m.sim_runner_kwargs, m.conda_env_sha256,
    m.parent_visitseq_uuid, m.parent_last_day_obs,
    COALESCE((SELECT JSONB_AGG(t.tag ORDER BY t.tag) FROM tags AS t
        WHERE t.visitseq_uuid = m.visitseq_uuid), '[]') AS tags,
    COALESCE((SELECT JSONB_OBJECT_AGG(c.comment_time, c.comment) FROM comments AS c
        WHERE c.visitseq_uuid = m.visitseq_uuid), '{{}}') AS comments,
    COALESCE((SELECT JSONB_OBJECT_AGG(f.file_type, f.file_url) FROM files AS f
        WHERE f.visitseq_uuid = m.visitseq_uuid), '{{}}') AS files"""
_STATS = """,
    (SELECT JSONB_OBJECT_AGG(ns.value_name, TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs')
     FROM nightly_stats AS ns WHERE ns.visitseq_uuid = m.visitseq_uuid AND ns.day_obs = :night) AS stats"""
_OTHER_TAGS = """
    AND EXISTS (SELECT 1 FROM tags AS a WHERE a.visitseq_uuid = m.visitseq_uuid AND a.tag = 'ideal')
    AND EXISTS (SELECT 1 FROM tags AS b WHERE b.visitseq_uuid = m.visitseq_uuid AND b.tag = 'nominal')"""


def indexed_prenight(stats: bool, age: bool) -> str:
    """Pre-night simulations: candidates from the ``prenight`` rows of the tag spans, their
    columns aggregated per row, each creation day of the answer ranked once."""
    age_sql = "AND sp.creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)" if age else ""
    extra = _EXTRA.replace(_DAILY_ID + ",", "").replace(f"{_day_of('m')} AS sim_creation_day_obs,", "")
    columns = "visitseq_uuid, visitseq_label, visitseq_url, telescope, first_day_obs, last_day_obs, "
    columns += "creation_time, scheduler_version, config_url, sim_runner_kwargs, conda_env_sha256, "
    columns += "parent_visitseq_uuid, parent_last_day_obs, tags, comments, files"
    return f"""
WITH found AS MATERIALIZED (
    SELECT {extra}{_STATS if stats else ""}, {_day_of("m")} AS day
    FROM (SELECT sp.visitseq_uuid {_CLASSES.format(age=age_sql)}) AS c
    JOIN simulations AS m ON m.visitseq_uuid = c.visitseq_uuid
    WHERE TRUE {_OTHER_TAGS}
), numbers AS (
    SELECT r.visitseq_uuid, r.n FROM (SELECT DISTINCT day FROM found) AS d CROSS JOIN LATERAL (
        SELECT w.visitseq_uuid, ROW_NUMBER() OVER (ORDER BY w.creation_time, w.visitseq_uuid) AS n
        FROM simulations AS w WHERE {_day_of("w")} = d.day
    ) AS r
)
SELECT f.day AS sim_creation_day_obs, numbers.n AS daily_id, {columns}{", stats" if stats else ""}
FROM found AS f JOIN numbers USING (visitseq_uuid)
ORDER BY f.creation_time, f.visitseq_uuid"""


INDEXED_SEARCH = f"""
SELECT m.visitseq_uuid, 'simulations' AS "table", m.visitseq_label, m.telescope, m.first_day_obs,
    m.last_day_obs, m.creation_time, m.visitseq_url, m.visitseq_sha256,
    COALESCE((SELECT JSONB_AGG(t.tag ORDER BY t.tag) FROM tags AS t
        WHERE t.visitseq_uuid = m.visitseq_uuid), '[]') AS tags
FROM (SELECT sp.visitseq_uuid {_CLASSES.format(age="")}) AS c
JOIN simulations AS m ON m.visitseq_uuid = c.visitseq_uuid
ORDER BY m.creation_time, m.visitseq_uuid"""
INDEXED_COMPLETED = """
SELECT v.visitseq_uuid, 'completed' AS "table", v.visitseq_label, v.telescope, v.first_day_obs,
    v.last_day_obs, v.creation_time, v.visitseq_url, v.visitseq_sha256,
    COALESCE((SELECT JSONB_AGG(t.tag ORDER BY t.tag) FROM tags AS t
        WHERE t.visitseq_uuid = v.visitseq_uuid), '[]') AS tags
FROM completed AS v WHERE v.telescope = :telescope AND v.first_day_obs = :night AND v.last_day_obs = :night
ORDER BY v.creation_time, v.visitseq_uuid"""
INDEXED_NEWEST_COMPLETED = """
SELECT v.*, fc.file_sha256 AS visits_sha256 FROM completed AS v
LEFT JOIN file_checksums AS fc ON fc.file_url = v.visitseq_url
WHERE v.telescope = :telescope AND v.first_day_obs = :night AND v.last_day_obs = :night
    AND v.visitseq_url IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM tags AS t WHERE t.visitseq_uuid = v.visitseq_uuid AND t.tag = 'check_failed')
ORDER BY v.creation_time DESC, v.visitseq_uuid LIMIT 1"""
INDEXED_DAILY_ID = f"""
SELECT visitseq_uuid FROM simulations WHERE {DAY_OBS} = :day
ORDER BY creation_time, visitseq_uuid OFFSET :skip LIMIT 1"""
INDEXED_METADATA = f"SELECT {_EXTRA} FROM simulations AS m WHERE m.visitseq_uuid = :uuid"

ANALYZED = ("visitseq", "simulations", "completed", "tags", "comments", "files", "nightly_stats")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Variant:
    """One way of asking a question (the API, or some SQL on one of the schemas)."""

    call: Callable[[], Any]
    normalize: Normalize
    explain: tuple[sa.Engine, str, dict[str, Any]] | None = None
    """The SQL of the variant (for EXPLAIN), when it is SQL."""
    samples: list[float] = field(default_factory=list)
    answer: Any = None

    def run(self) -> None:
        started = time.perf_counter()
        result = self.call()
        self.samples.append(time.perf_counter() - started)
        if self.answer is None:
            self.answer = self.normalize(result)

    def wants_more(self, reps: int) -> bool:
        slow = self.samples and self.samples[0] > SLOW_CALL
        fast = self.samples and max(self.samples) < FAST_CALL
        return len(self.samples) < (3 if slow else max(reps, 15) + 1 if fast else reps + 1)

    @property
    def seconds(self) -> float:
        """Median of the calls after the first (a warm-up), or of all of them for slow calls."""
        timed = self.samples if self.samples[0] > SLOW_CALL else self.samples[1:]
        return statistics.median(timed)

    @property
    def best(self) -> float:
        return min(self.samples)


def sql_frame(engine: sa.Engine, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """What a reader gets: the rows of a query, as a DataFrame."""
    with engine.connect() as conn:
        result = conn.execute(sa.text(sql), params)
        return pd.DataFrame([[plain(v) for v in row] for row in result], columns=list(result.keys()))


def _normal(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, float) and value != value:
        return None
    return value


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, sorted by UUID: the form answers are compared in."""
    records = [{k: _normal(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]
    return sorted(records, key=lambda row: row["visitseq_uuid"])


def first_uuid(found: Any) -> list[str]:
    if isinstance(found, pd.DataFrame):
        return [str(u) for u in found["visitseq_uuid"]]
    return [str(found)]


def newest_uuid(found: dict[str, Any] | None) -> list[str]:
    """The UUID of ``newest_completed``'s answer, as :func:`first_uuid` gives the SQL's."""
    return [] if found is None else [str(found["visitseq_uuid"])]


def check_same(question: str, answers: dict[str, Any]) -> None:
    labels = list(answers)
    for label in labels[1:]:
        if answers[label] != answers[labels[0]]:
            raise SystemExit(
                f"{question}: {label} and {labels[0]} disagree:\n  {answers[label]}\n  {answers[labels[0]]}"
            )


def build(engine: sa.Engine, url: str, n: int, production: str, adopted: str) -> dict[str, float]:
    """Create, fill, copy, adopt and analyse both schemas; return the seconds each step took."""
    took = {}
    for schema in (production, adopted):
        services.drop_schema(url, schema)
        create_reference_schema(url, schema)
    started = time.perf_counter()
    with engine.begin() as conn:
        counts = fill_archive(conn, production, n, prenight_runs=max(n // BUSY_FRACTION, 10))
    took["fill"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        copy_archive(conn, production, adopted)
    took["copy"] = time.perf_counter() - started
    started = time.perf_counter()
    migrate(engine, adopted)
    took["adopt"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for schema in (production, adopted):
            conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            for table in ANALYZED:
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        conn.exec_driver_sql(f'SET search_path TO "{adopted}"')
        for table in ("simulation_tag_spans", "simulations_extra_columns"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    took["analyze"] = time.perf_counter() - started
    rows = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    print(
        f"  built in {sum(took.values()):.1f} s "
        + " ".join(f"({k} {v:.1f} s)" for k, v in took.items())
        + f"; rows: {rows}",
        flush=True,
    )
    return took


def store_completed(engine: sa.Engine, adopted: str) -> None:
    """Give the adopted schema's completed sequences what an archived night has (the synthetic
    archive leaves them without): a ``visits.h5`` URL and its recorded checksum, so that
    ``newest_completed`` has an answer to find. Idempotent (for ``--reuse``)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{adopted}"')
        conn.exec_driver_sql(
            "UPDATE completed SET visitseq_url = 'file:///synthetic/completed/' || visitseq_uuid "
            "|| '/visits.h5' WHERE visitseq_url IS NULL"
        )
        conn.exec_driver_sql(
            "INSERT INTO file_checksums (file_url, visitseq_uuid, file_sha256, size_bytes) "
            "SELECT visitseq_url, visitseq_uuid, visitseq_sha256, 1000000 FROM completed "
            "ON CONFLICT DO NOTHING"
        )


def probes(engine: sa.Engine) -> tuple[dt.date, int, uuid.UUID]:
    """The (day, daily_id) and UUID asked for: the middle simulation of the busiest day of the
    month a year back, and the first simulation created after the middle of the span."""
    with engine.connect() as conn:
        day, count = conn.execute(
            sa.text(
                f"SELECT {DAY_OBS} AS d, COUNT(*) FROM simulations WHERE creation_time BETWEEN :a AND :b "
                "GROUP BY d ORDER BY 2 DESC, 1 LIMIT 1"
            ),
            {"a": END - dt.timedelta(days=380), "b": END - dt.timedelta(days=350)},
        ).one()
        sim = conn.execute(
            sa.text(
                "SELECT visitseq_uuid FROM simulations WHERE creation_time > :t "
                "ORDER BY creation_time LIMIT 1"
            ),
            {"t": END - dt.timedelta(days=365)},
        ).scalar_one()
    return day, count // 2 + 1, sim


def prepare_size(url: str, n: int, reuse: bool, only: list[str], prefix: str) -> dict[str, Any]:
    """Build (or reuse) both schemas of one size and the questions asked of them."""
    production, adopted = f"{prefix}_prod_{n}", f"{prefix}_adopted_{n}"
    print(f"\n== {n:,} simulations ==", flush=True)
    admin = sa.create_engine(url)
    if reuse:
        with admin.connect() as conn:
            print(f"  reusing {production}, {adopted}: {row_counts(conn, adopted)}", flush=True)
        build_times: dict[str, float] = {}
    else:
        build_times = build(admin, url, n, production, adopted)
    store_completed(admin, adopted)
    admin.dispose()

    db = MetadataDatabase(sa.create_engine(url), adopted)
    prod_engine, adopted_engine = sa.create_engine(url), sa.create_engine(url)
    configure_engine(prod_engine, production)
    configure_engine(adopted_engine, adopted)
    day, daily_id, sim = probes(prod_engine)

    def sql(engine: sa.Engine, text: str, params: dict[str, Any], norm: Normalize) -> Variant:
        return Variant(partial(sql_frame, engine, text, params), norm, (engine, text, params))

    def production_sql(text: str, params: dict[str, Any], norm: Normalize) -> dict[str, Variant]:
        return {
            "production": sql(prod_engine, text, params, norm),
            "production, adopted": sql(adopted_engine, text, params, norm),
        }

    def prenight(night: dt.date, age: int | None, stats: bool) -> dict[str, Variant]:
        params = {
            "night": night,
            "telescope": TELESCOPE,
            "tags": json.dumps(list(PRENIGHT_TAGS)),
            "now": NOW,
            "age": f"{age or NO_AGE_LIMIT_DAYS} days",
            "driver": "prenight",
        }
        api = partial(
            db.prenight_simulations,
            night,
            TELESCOPE,
            tags=PRENIGHT_TAGS,
            max_simulation_age=age,
            with_stats=stats,
            now=NOW,
        )
        return {
            "api": Variant(api, rows_of),
            "indexed SQL": sql(adopted_engine, indexed_prenight(stats, age is not None), params, rows_of),
            **production_sql(PROD_PRENIGHT_STATS if stats else PROD_PRENIGHT, params, rows_of),
        }

    search_params = {"night": PAST_NIGHT, "telescope": TELESCOPE, "driver": "prenight"}
    completed_night = PAST_NIGHT - dt.timedelta(days=1)
    questions: dict[str, dict[str, Variant]] = {
        "prenight newest, 2 days": prenight(NIGHT, MAX_AGE_DAYS, False),
        "prenight past, no limit": prenight(PAST_NIGHT, None, False),
        "+stats newest, 2 days": prenight(NIGHT, MAX_AGE_DAYS, True),
        "+stats past, no limit": prenight(PAST_NIGHT, None, True),
        "search past prenight": {
            "api": Variant(
                partial(
                    db.search,
                    telescope=TELESCOPE,
                    day_obs=PAST_NIGHT,
                    tags=("prenight",),
                    table="simulations",
                ),
                rows_of,
            ),
            "indexed SQL": sql(adopted_engine, INDEXED_SEARCH, search_params, rows_of),
        },
        "search completed": {
            "api": Variant(
                partial(db.search, telescope=TELESCOPE, day_obs=completed_night, table="completed"), rows_of
            ),
            "indexed SQL": sql(
                adopted_engine, INDEXED_COMPLETED, {"night": completed_night, "telescope": TELESCOPE}, rows_of
            ),
        },
        "newest completed": {
            "api": Variant(partial(db.newest_completed, TELESCOPE, completed_night), newest_uuid),
            "indexed SQL": sql(
                adopted_engine,
                INDEXED_NEWEST_COMPLETED,
                {"night": completed_night, "telescope": TELESCOPE},
                first_uuid,
            ),
        },
        "daily_id -> uuid": {
            "api": Variant(partial(db.uuid_for_daily_id, day, daily_id), first_uuid),
            "indexed SQL": sql(
                adopted_engine, INDEXED_DAILY_ID, {"day": day, "skip": daily_id - 1}, first_uuid
            ),
            **production_sql(PROD_DAILY_ID, {"day": day, "daily_id": daily_id}, first_uuid),
        },
        "uuid -> metadata": {
            "api": Variant(lambda: pd.DataFrame([db.simulation_metadata(sim)]), rows_of),
            "indexed SQL": sql(adopted_engine, INDEXED_METADATA, {"uuid": sim}, rows_of),
            **production_sql(PROD_METADATA, {"uuid": sim}, rows_of),
        },
    }
    if only:
        questions = {name: v for name, v in questions.items() if any(word in name for word in only)}
    return {
        "size": n,
        "schemas": (production, adopted),
        "build": build_times,
        "questions": questions,
        "engines": (db, prod_engine, adopted_engine),
    }


def time_all(prepared: list[dict[str, Any]], reps: int) -> None:
    """Time every variant of every question, sizes interleaved call by call; then compare."""
    pending = True
    while pending:
        pending = False
        for size in prepared:
            for variants in size["questions"].values():
                for variant in variants.values():
                    if variant.wants_more(reps):
                        variant.run()
                        pending = True
    for size in prepared:
        for name, variants in size["questions"].items():
            check_same(f"{size['size']:,} {name}", {label: v.answer for label, v in variants.items()})


def print_size(size: dict[str, Any]) -> dict[str, Any]:
    print(f"\n== {size['size']:,} simulations: median ms (best) ==")
    figures: dict[str, Any] = {"size": size["size"], "build_seconds": size["build"], "questions": {}}
    for name, variants in size["questions"].items():
        rows = len(variants["api"].answer)
        figures["questions"][name] = {"rows": rows}
        cells = []
        for label, variant in variants.items():
            figures["questions"][name][label] = {
                "median_s": variant.seconds,
                "best_s": variant.best,
                "calls": len(variant.samples),
            }
            cells.append(f"{label} {variant.seconds * 1e3:.1f} ({variant.best * 1e3:.1f})")
        api_ratio = variants["api"].seconds / variants["indexed SQL"].seconds
        ratio = f"; api/indexed x{api_ratio:.2f}"
        if "production" in variants:
            gain = variants["production"].seconds / variants["production, adopted"].seconds
            ratio += f"; production schema/adopted x{gain:.0f}"
        print(f"  {name:24s} rows {rows:5d}: " + "; ".join(cells) + ratio, flush=True)
    return figures


def report(figures: list[dict[str, Any]]) -> list[str]:
    """The targets of issue 15: the API within 2x of the indexed SQL at every size; production's
    SQL >= 50x faster on the adopted schema than on its own at 1M; from 100k to 1M, the API's time
    grows no faster than its answer (rows, at least 1).

    A fixed-size answer (one row) still costs a little more on a larger archive whatever the SQL
    (deeper indexes, fewer pages in cache: the same daily-id SQL measured 394 -> 440 us through
    the API and 561 -> 599 us by hand), which is a large ratio of a sub-millisecond time. So the
    growth is also met when the API's added time is no more than the hand-written SQL's on the
    same data plus :data:`GROWTH_NOISE_S` (what medians of identical sub-millisecond calls move
    between runs). The last two targets are judged only when the run has those sizes."""
    lines = ["\nTargets:"]
    by_size = {f["size"]: f["questions"] for f in figures}
    judged = TARGET_SMALL in by_size and TARGET_LARGE in by_size
    small_size, large_size = (
        (TARGET_SMALL, TARGET_LARGE) if judged else (figures[0]["size"], figures[-1]["size"])
    )
    for name in figures[0]["questions"]:
        worst = max(
            f["questions"][name]["api"]["median_s"] / f["questions"][name]["indexed SQL"]["median_s"]
            for f in figures
        )
        line = f"  {name:24s} api/indexed worst x{worst:.2f} [{'met' if worst <= 2 else 'MISSED'} <= 2]"
        large = figures[-1]["questions"][name]
        if "production" in large:
            gain = large["production"]["median_s"] / large["production, adopted"]["median_s"]
            verdict = ("met" if gain >= 50 else "MISSED") if large_size >= TARGET_LARGE else "judged at 1M"
            line += f"; production at {figures[-1]['size']:,}: x{gain:.0f} [{verdict} >= 50]"
        if len(figures) > 1:
            small, large = by_size[small_size][name], by_size[large_size][name]
            api = (small["api"]["median_s"], large["api"]["median_s"])
            hand = (small["indexed SQL"]["median_s"], large["indexed SQL"]["median_s"])
            answer = max(large["rows"], 1) / max(small["rows"], 1)
            met = (
                api[1] / api[0] <= max(answer, 1)
                or api[1] - api[0] <= max(hand[1] - hand[0], 0) + GROWTH_NOISE_S
            )
            verdict = ("met" if met else "MISSED") if judged else "judged from 100k to 1M"
            line += (
                f"; {small_size:,} -> {large_size:,}: api time x{api[1] / api[0]:.2f} "
                f"({(api[1] - api[0]) * 1e3:+.2f} ms), answer x{answer:.1f}, "
                f"indexed SQL {(hand[1] - hand[0]) * 1e3:+.2f} ms [{verdict}]"
            )
        lines.append(line)
    return lines


def explain(variant: Variant) -> str:
    engine, text, params = variant.explain  # type: ignore[misc]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS) {text}"), params).scalars()
        return "\n".join(f"    {line}" for line in rows)


def explain_api(db: MetadataDatabase, statement: list[str]) -> None:
    """Capture the SQL the API sends (for EXPLAIN) with a cursor event."""

    def capture(conn, cursor, sql, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statement.append(cursor.mogrify(sql, parameters).decode())

    sa.event.listen(db.engine, "before_cursor_execute", capture)


def print_plans(prepared: list[dict[str, Any]]) -> None:
    """EXPLAIN ANALYZE of the slowest API question (the SQL it sent) and of the slowest
    production question on the adopted schema, at the largest size."""
    size = prepared[-1]
    api_name = max(size["questions"], key=lambda q: size["questions"][q]["api"].seconds)
    db = size["engines"][0]
    sent: list[str] = []
    explain_api(db, sent)
    size["questions"][api_name]["api"].call()
    print(f"\nPlan of the slowest API question at {size['size']:,} ({api_name}), last statement it sent:")
    adopted_engine = size["engines"][2]
    with adopted_engine.connect() as conn:
        for line in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sent[-1]}").scalars():
            print(f"    {line}")
    prod = [q for q, v in size["questions"].items() if "production, adopted" in v]
    if not prod:  # --only chose questions production's SQL does not ask
        return
    slowest = max(prod, key=lambda q: size["questions"][q]["production, adopted"].seconds)
    print(f"\nPlan of the slowest production question on the adopted schema ({slowest}):")
    print(explain(size["questions"][slowest]["production, adopted"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--reps", type=int, default=7, help="timed calls per question (after a warm-up)")
    parser.add_argument("--keep", action="store_true", help="keep the schemas afterwards")
    parser.add_argument("--reuse", action="store_true", help="time schemas kept by an earlier --keep run")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--schema-prefix",
        default=SCHEMA_PREFIX,
        help="name the schemas <prefix>_prod_<size> and <prefix>_adopted_<size> (runs beside each other)",
    )
    parser.add_argument("--only", nargs="+", default=[], help="time only the questions naming these words")
    args = parser.parse_args()
    url = services.postgres_server_url()
    with sa.create_engine(url).connect() as conn:
        settings = {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar()
            for name in ("server_version", "jit", "jit_above_cost", "max_parallel_workers_per_gather")
        }
    print(f"PostgreSQL at {sa.make_url(url).render_as_string(hide_password=True)}: {settings}")
    print(f"newest night {NIGHT}, past night {PAST_NIGHT}, {TELESCOPE}, now {NOW}")
    print(f"load average at start {os.getloadavg()}, {os.cpu_count()} CPUs", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    prepared = [prepare_size(url, n, args.reuse, args.only, args.schema_prefix) for n in args.sizes]
    try:
        timing_load = os.getloadavg()
        time_all(prepared, args.reps)
        figures = [print_size(size) for size in prepared]
        for line in report(figures):
            print(line)
        print_plans(prepared)
        print(f"\nload average while timing {timing_load} -> {os.getloadavg()}")
    finally:
        for size in prepared:
            for engine in size["engines"]:
                engine.dispose() if isinstance(engine, sa.Engine) else engine.close()
            if not args.keep:
                for schema in size["schemas"]:
                    services.drop_schema(url, schema)
    print(
        f"wall time {time.perf_counter() - started:.0f} s; this process's CPU "
        f"{time.process_time() - cpu:.0f} s; peak RSS {peak_rss_mb():.0f} MB"
    )
    if args.json:
        document = {"settings": settings, "results": figures, "peak_rss_mb": peak_rss_mb()}
        args.json.write_text(json.dumps(document, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
