"""A parallel backfill of up to 14 nights against one archive and one Dagster instance.

Four worker processes materialize the partition runs: every night (every other night of the 14 in
CI, all 14 with VSEQ_RELIABILITY_FULL=1), and some of them (all with VSEQ_RELIABILITY_FULL=1) a
second time, shuffled so that runs of the same night overlap.
Afterwards: every run successful in the instance, exactly one completed sequence per night with
that night's visit count, every check passed, a repeated night reused its sequence, and the store
verifies clean.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from vseq_assets.completed import ARCHIVE_POOL
from vseq_assets.consdb import CONSDB_POOL
from vseq_tests.reliability.backfill import run_partition
from vseq_tests.reliability.conftest import BACKFILL_NIGHTS, visits_of
from vseq_tests.reliability.support import FULL, open_archive, row_counts

WORKERS = 4
"""CI runs 7 nights once and 3 of them a second time (10 runs: the 14-night run took 159 s of a
CI budget the distributed backfill test now shares); VSEQ_RELIABILITY_FULL=1 runs all 14 nights
twice (28 runs)."""


def test_parallel_backfill(rel_env: dict, dagster_instance_home: Path) -> None:
    env = {
        **rel_env,
        "DAGSTER_HOME": os.environ["DAGSTER_HOME"],
        "VSEQ_DAGSTER_PG_URL": os.environ["VSEQ_DAGSTER_PG_URL"],
    }
    first = list(BACKFILL_NIGHTS) if FULL else list(BACKFILL_NIGHTS[::2])
    again = first if FULL else first[::3]
    nights = first + again
    random.Random(7).shuffle(nights)
    with DagsterInstance.get() as instance:
        # The instance's tables and pool limits exist before the runs start, as in production
        # (created by the webserver/daemon). Left to the runs, concurrent first uses of a pool
        # race in Dagster 1.13: one run fails on a unique violation in concurrency_limits.
        for pool in (ARCHIVE_POOL, CONSDB_POOL):
            instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
            # As many slots as workers: blocked steps re-poll slowly, which only slows the test.
            instance.event_log_storage.set_concurrency_slots(pool, WORKERS)
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run_partition, nights, [env] * len(nights)))

    assert all(r["success"] for r in results), [r for r in results if not r["success"]]
    checks = {"visits_file_reads_back", "metadata_row_points_at_visits", "night_has_visits"}
    assert all(all(r["checks"].values()) and set(r["checks"]) == checks for r in results)
    by_night: dict[str, list[dict]] = {}
    for r in results:
        by_night.setdefault(r["night"], []).append(r)
    for night, runs in by_night.items():
        assert len({r["uuid"] for r in runs}) == 1, (night, runs)  # the same sequence both times
        assert sorted(r["new"] for r in runs) == [False] * (len(runs) - 1) + [True]
        assert all(r["visits"] == visits_of(night) for r in runs)

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        assert len(runs) == len(nights)
    archive = open_archive(rel_env["VSEQ_REL_DB_URL"], rel_env["VSEQ_REL_SCHEMA"], rel_env["VSEQ_REL_STORE"])
    try:
        rows = archive.find_sequences("completed", telescope="simonyi")
        assert sorted(r["first_day_obs"].isoformat() for r in rows) == sorted(first)
        assert all(r["first_day_obs"] == r["last_day_obs"] for r in rows)
        counts = row_counts(archive)
        assert counts["visitseq"] == counts["completed"] == len(first) and counts["comments"] == len(first)
        report = archive.verify(grace=dt.timedelta(0))
        assert report.ok and report.checked == len(first) and not report.orphans and not report.young_orphans
    finally:
        archive.metadata.close()
