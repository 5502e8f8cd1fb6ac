"""Benchmark of the metadata queries as the archive grows: vseq against the reference archive.

Run with ``.venv/bin/python benchmarks/bench_metadata.py [--sizes 1000 10000 100000] [--reps 7]``
(1M: ``--sizes 1000000``, separately: 25-30 min estimated from 100k). For each size, two schemas
with identical rows:

- ``ref``: created by the reference DDL (``vseq_tests/fixtures/reference_schema.sql``) and
  filled in bulk by SQL (:mod:`vseq_tests.resources.metadata.synthetic_archive`);
- ``vseq``: created the same way, the same rows copied in, then adopted by ``migrate()`` (what
  happens to production's ``vsmd``).

Both are ``VACUUM ANALYZE``d. Then, in the same run, each question is timed: median of several
calls after a warm-up call (at least 15 for calls under 50 ms, 3 for calls over 2 s), rows fetched
into a DataFrame, the calls of all sizes interleaved so that every size sees the same machine load:

- **vseq**: ``MetadataDatabase`` on the ``vseq`` schema;
- **reference**: the reference's SQL (``simulations_extra`` with the filters of section 3 of the
  interface doc) on the ``ref`` schema;
- **ref SQL on vseq** (existing readers): the same reference SQL on the ``vseq`` schema.

The answers are compared (same UUIDs, ``daily_id``, tags and stats) before any time is printed.
Also timed, the reference's SQL only: the daily-id lookup returning every column, a night's
``nightly_stats`` rows, and the pre-night query with stats exactly as the reference codes it (every
night aggregated; one call each).
Prints times, ratios and the peak RSS of this process; with ``--json PATH`` writes the figures.
Timings are never asserted: the targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import tempfile
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
from vseq_tests.resources.metadata.synthetic_archive import END, copy_archive, fill_archive

PRENIGHT_TAGS = ("prenight", "ideal", "nominal")
MAX_AGE_DAYS = 2
NOW = END
NIGHT = (END - dt.timedelta(hours=12)).date()
TELESCOPE = "simonyi"
Normalize = Callable[[Any], Any]
SLOW_CALL = 2.0
"""Seconds: a call slower than this is measured 3 times (the first one included), not ``reps``."""
FAST_CALL = 0.05
"""Seconds: a call faster than this is measured at least 15 times (the machine is shared)."""

# The reference's SQL (rubin_sim.sim_archive sims_on_nights / sims_on_night_with_stats and the
# lookups by UUID and by daily id), with the interface doc's semantics: the stats are those of the
# night asked for (the reference's own code aggregates every night of a sequence, more work).
REF_WHERE = """
WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs
    AND telescope = :telescope
    AND tags @> CAST(:tags AS JSONB)
    AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL)
"""
REF_PRENIGHT = "SELECT * FROM simulations_extra AS s" + REF_WHERE
REF_PRENIGHT_STATS = (
    """
WITH aggstats AS (
    SELECT visitseq_uuid,
        JSONB_OBJECT_AGG(value_name, TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs') AS stats
    FROM nightly_stats AS ns
    WHERE ns.day_obs = CAST(:night AS DATE)
    GROUP BY ns.visitseq_uuid
)
SELECT s.*, ns.stats
FROM simulations_extra AS s
LEFT JOIN aggstats AS ns ON s.visitseq_uuid = ns.visitseq_uuid"""
    + REF_WHERE
)
REF_PRENIGHT_STATS_AS_CODED = REF_PRENIGHT_STATS.replace("    WHERE ns.day_obs = CAST(:night AS DATE)\n", "")
"""The reference's code as written: every night's rows aggregated (the last one of each name wins)."""
REF_NIGHT_STATS = "SELECT * FROM nightly_stats WHERE day_obs = :night"
"""A reader asking for the statistics of one night straight from the table."""
REF_DAILY_ID = (
    "SELECT visitseq_uuid FROM simulations_extra WHERE sim_creation_day_obs = :day AND daily_id = :daily_id"
)
REF_DAILY_ROW = "SELECT * FROM simulations_extra WHERE sim_creation_day_obs = :day AND daily_id = :daily_id"
"""The same lookup asking for the whole row (tags, comments and files aggregated too)."""
REF_METADATA = "SELECT * FROM simulations_extra WHERE visitseq_uuid = :uuid"

ANALYZED = ("visitseq", "simulations", "completed", "tags", "comments", "files", "nightly_stats")
QUESTIONS = ("prenight", "prenight+stats", "daily_id->uuid", "uuid->metadata")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Variant:
    """One way of asking a question (vseq's API, or the reference SQL on one of the schemas)."""

    call: Callable[[], Any]
    normalize: Normalize
    once: bool = False
    """Slow by its own text on every schema: timed by its first call only."""
    samples: list[float] = field(default_factory=list)
    answer: Any = None

    def run(self) -> None:
        started = time.perf_counter()
        result = self.call()
        self.samples.append(time.perf_counter() - started)
        if self.answer is None:
            self.answer = self.normalize(result)

    def wants_more(self, reps: int) -> bool:
        if self.once:
            return not self.samples
        slow = self.samples and self.samples[0] > SLOW_CALL
        fast = self.samples and max(self.samples) < FAST_CALL
        return len(self.samples) < (3 if slow else max(reps, 15) + 1 if fast else reps + 1)

    @property
    def seconds(self) -> float:
        """Median of the calls after the first (a warm-up), or of all of them for slow calls."""
        timed = self.samples if self.once or self.samples[0] > SLOW_CALL else self.samples[1:]
        return statistics.median(timed)

    @property
    def best(self) -> float:
        return min(self.samples)


def sql_frame(engine: sa.Engine, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """What a reader of the reference gets: the rows of a query, as a DataFrame."""
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


def _row_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["visitseq_uuid"], str(row.get("value_name")), str(row.get("day_obs")))


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, sorted by UUID: the form both answers are compared in."""
    records = [{k: _normal(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]
    return sorted(records, key=_row_key)


def uuids_of(frame: pd.DataFrame) -> list[str]:
    return sorted(map(str, frame["visitseq_uuid"]))


def check_same(question: str, ours: Any, theirs: Any) -> None:
    if ours != theirs:
        raise SystemExit(f"{question}: vseq and the reference disagree:\n  vseq: {ours}\n  ref:  {theirs}")


def build(engine: sa.Engine, url: str, n: int, ref: str, ours: str) -> dict[str, float]:
    """Create, fill, copy, adopt and analyse both schemas; return the seconds each step took."""
    took = {}
    for schema in (ref, ours):
        services.drop_schema(url, schema)
        create_reference_schema(url, schema)
    started = time.perf_counter()
    with engine.begin() as conn:
        counts = fill_archive(conn, ref, n)
    took["fill"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        copy_archive(conn, ref, ours)
    took["copy"] = time.perf_counter() - started
    started = time.perf_counter()
    migrate(engine, ours)
    took["adopt"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for schema in (ref, ours):
            conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            for table in ANALYZED:
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


def probes(engine: sa.Engine) -> tuple[dt.date, int, uuid.UUID]:
    """The (day, daily_id) and UUID asked for: the middle simulation of the busiest day of the
    middle month, and the first simulation created after the middle of the span."""
    with engine.connect() as conn:
        day, count = conn.execute(
            sa.text(
                "SELECT DATE((creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours') AS d, COUNT(*) "
                "FROM simulations WHERE creation_time BETWEEN :a AND :b GROUP BY d ORDER BY 2 DESC, 1 LIMIT 1"
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


def prepare_size(url: str, n: int) -> dict[str, Any]:
    """Build both schemas of one size and the questions asked of them."""
    ref, ours = f"bench_ref_{n}", f"bench_vseq_{n}"
    print(f"\n== {n:,} simulations ==", flush=True)
    admin = sa.create_engine(url)
    build_times = build(admin, url, n, ref, ours)
    admin.dispose()

    db = MetadataDatabase(sa.create_engine(url), ours)
    ref_engine = sa.create_engine(url)
    configure_engine(ref_engine, ref)
    day, daily_id, sim = probes(ref_engine)
    params = {
        "night": NIGHT,
        "telescope": TELESCOPE,
        "tags": json.dumps(list(PRENIGHT_TAGS)),
        "now": NOW,
        "age": f"{MAX_AGE_DAYS} days",
    }

    def api_prenight(stats: bool) -> Callable[[], pd.DataFrame]:
        return partial(
            db.prenight_simulations,
            NIGHT,
            TELESCOPE,
            tags=PRENIGHT_TAGS,
            max_simulation_age=MAX_AGE_DAYS,
            with_stats=stats,
            now=NOW,
        )

    def reference(
        sql: str, sql_params: dict[str, Any], norm: Normalize, once: bool = False
    ) -> dict[str, Variant]:
        return {
            "reference": Variant(partial(sql_frame, ref_engine, sql, sql_params), norm, once),
            "ref SQL on vseq": Variant(partial(sql_frame, db.engine, sql, sql_params), norm, once),
        }

    def first_uuid(frame: pd.DataFrame) -> list[Any]:
        return list(frame["visitseq_uuid"])

    questions: dict[str, dict[str, Variant]] = {
        "prenight": {
            "vseq": Variant(api_prenight(False), rows_of),
            **reference(REF_PRENIGHT, params, rows_of),
        },
        "prenight+stats": {
            "vseq": Variant(api_prenight(True), rows_of),
            **reference(REF_PRENIGHT_STATS, params, rows_of),
        },
        "daily_id->uuid": {
            "vseq": Variant(partial(db.uuid_for_daily_id, day, daily_id), lambda u: [u]),
            **reference(REF_DAILY_ID, {"day": day, "daily_id": daily_id}, first_uuid),
        },
        "uuid->metadata": {
            "vseq": Variant(partial(db.simulation_metadata, sim), lambda d: rows_of(pd.DataFrame([d]))),
            **reference(REF_METADATA, {"uuid": sim}, rows_of),
        },
        # Readers' queries with no API counterpart: the reference's SQL on both schemas only.
        "day #n, all columns": reference(REF_DAILY_ROW, {"day": day, "daily_id": daily_id}, rows_of),
        "night's stats": reference(REF_NIGHT_STATS, {"night": NIGHT}, rows_of),
        "stats as coded": reference(REF_PRENIGHT_STATS_AS_CODED, params, uuids_of, once=True),
    }
    return {
        "size": n,
        "schemas": (ref, ours),
        "build": build_times,
        "questions": questions,
        "engines": (db, ref_engine),
    }


def time_all(prepared: list[dict[str, Any]], reps: int) -> None:
    """Time every variant of every question, sizes interleaved call by call, so that all sizes
    see the same load (the machine is shared); then check the answers agree."""
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
            expected = variants["reference"].answer
            for label, variant in variants.items():
                check_same(f"{size['size']:,} {name} ({label})", variant.answer, expected)


def print_size(size: dict[str, Any]) -> dict[str, Any]:
    print(f"\n== {size['size']:,} simulations: median ms (best), ratio to the reference ==")
    figures: dict[str, Any] = {"size": size["size"], "build_seconds": size["build"], "questions": {}}
    for name, variants in size["questions"].items():
        ref = variants["reference"].seconds
        rows = len(variants["reference"].answer)
        cells = []
        figures["questions"][name] = {"rows": rows}
        for label, variant in variants.items():
            figures["questions"][name][label] = {
                "median_s": variant.seconds,
                "best_s": variant.best,
                "calls": len(variant.samples),
            }
            ratio = "" if label == "reference" else f" x{ref / variant.seconds:.0f}"
            cells.append(f"{label} {variant.seconds * 1e3:.2f} ({variant.best * 1e3:.2f}){ratio}")
        print(f"  {name:15s} rows {rows:4d}: " + "; ".join(cells), flush=True)
    return figures


def report(figures: list[dict[str, Any]]) -> list[str]:
    """The target lines: at the largest size, vseq >= 100x the reference, the reference SQL on the
    vseq schema >= 50x, and vseq within 2x of its time at the smallest size."""
    if len(figures) < 2:
        return []
    small, large = figures[0], figures[-1]
    lines = [f"\nTargets at {large['size']:,} simulations (scaling against {small['size']:,}):"]
    for name in QUESTIONS:
        q, q0 = large["questions"][name], small["questions"][name]
        ref = q["reference"]["median_s"]
        speedup = ref / q["vseq"]["median_s"]
        readers = ref / q["ref SQL on vseq"]["median_s"]
        growth = q["vseq"]["median_s"] / q0["vseq"]["median_s"]
        best_growth = q["vseq"]["best_s"] / q0["vseq"]["best_s"]
        lines.append(
            f"  {name:15s} vseq x{speedup:5.0f} [{'met' if speedup >= 100 else 'MISSED'} >= 100]; "
            f"reference SQL on vseq schema x{readers:4.0f} [{'met' if readers >= 50 else 'MISSED'} >= 50]; "
            f"vseq at {large['size'] // small['size']}x the archive: x{growth:.2f} median, "
            f"x{best_growth:.2f} best [{'met' if growth <= 2 else 'MISSED'} <= 2]"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--reps", type=int, default=7, help="timed calls per question (after a warm-up)")
    parser.add_argument("--keep", action="store_true", help="keep the bench_* schemas afterwards")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    url = services.postgres_server_url(Path(tempfile.mkdtemp(prefix="vseq-bench-pg-", dir="/var/tmp")))
    with sa.create_engine(url).connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    print(f"PostgreSQL {version} at {sa.make_url(url).render_as_string(hide_password=True)}")
    print(
        f"night {NIGHT}, {TELESCOPE}, tags {', '.join(PRENIGHT_TAGS)}, max age {MAX_AGE_DAYS} days, now {NOW}"
    )
    started = time.perf_counter()
    prepared = [prepare_size(url, n) for n in args.sizes]
    try:
        time_all(prepared, args.reps)
        figures = [print_size(size) for size in prepared]
    finally:
        for size in prepared:
            for engine in size["engines"]:
                engine.dispose() if isinstance(engine, sa.Engine) else engine.close()
            if not args.keep:
                for schema in size["schemas"]:
                    services.drop_schema(url, schema)
    for line in report(figures):
        print(line)
    print(f"\nwall time {time.perf_counter() - started:.0f} s; peak RSS {peak_rss_mb():.0f} MB")
    if args.json:
        document = {"results": figures, "peak_rss_mb": peak_rss_mb()}
        args.json.write_text(json.dumps(document, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
