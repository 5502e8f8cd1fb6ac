"""SIGKILL of a Dagster run while its completed-sequence step writes, then a real re-execution.

The run executes in a subprocess against the project's instance configuration (``dagster.yaml``:
PostgreSQL storage, run monitoring, pools). It is killed at a fault point inside the archive
write; the run is then marked failed (as ``vseq-nightly`` does at its next start for a dead run
of its host, ``vseq_assets.dagster_instance.fail_dead_runs``, tested in ``test_nightly_runs.py``),
and re-executed from failure (Dagster's "Re-execute from failure"): the ConsDB step's output is
reused from the parent run, the archive step runs again. It must succeed, record exactly one
completed sequence for the night, pass both asset checks, and leave only the dead attempt's
files as orphans.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, ReexecutionOptions, execute_job, reconstructable

from vseq_tests.reliability.conftest import BACKFILL_NIGHTS, visits_of
from vseq_tests.reliability.dagster_job import completed_night_job
from vseq_tests.reliability.support import PYTHON, open_archive, start_paused, store_listing

NIGHT = BACKFILL_NIGHTS[0]
LEFT_BEHIND = {"after_visits_upload": 1, "before_transaction": 1, "in_transaction": 1}


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("after_visits_upload", marks=pytest.mark.full),
        pytest.param("before_transaction", marks=pytest.mark.full),
        "in_transaction",
    ],
)
def test_killed_run_reexecuted_from_failure(
    point: str, rel_env: dict, dagster_instance_home: Path, tmp_path: Path
) -> None:
    paused = start_paused(
        [PYTHON, "-m", "vseq_tests.reliability.dagster_job", NIGHT], point, tmp_path / "marker", env=rel_env
    )
    assert paused.kill() == -9

    archive = open_archive(rel_env["VSEQ_REL_DB_URL"], rel_env["VSEQ_REL_SCHEMA"], rel_env["VSEQ_REL_STORE"])
    try:
        assert archive.find_sequences("completed", telescope="simonyi") == []
        leftovers = store_listing(archive)
        assert len(leftovers) == LEFT_BEHIND[point]

        with DagsterInstance.get() as instance:
            (run,) = instance.get_runs()
            assert run.status == DagsterRunStatus.STARTED  # its process is dead
            instance.report_run_failed(run)  # what fail_dead_runs does for a dead run
            options = ReexecutionOptions.from_failure(run.run_id, instance)
            result = execute_job(
                reconstructable(completed_night_job), instance, reexecution_options=options, tags=run.tags
            )
            assert result.success
            steps = {e.step_key for e in result.all_events if e.is_step_success}
            assert "simonyi__consdb_visits" not in steps  # reused from the killed run
            checks = {
                e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
                for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION"
            }
            assert checks == {
                "visits_file_reads_back": True,
                "metadata_row_points_at_visits": True,
                "night_has_visits": True,
            }

        (row,) = archive.find_sequences(
            "completed", telescope="simonyi", first_day_obs=NIGHT, last_day_obs=NIGHT
        )
        assert len(archive.get_visits(row["visitseq_uuid"])) == visits_of(NIGHT)
        report = archive.verify(grace=dt.timedelta(0))
        assert not report.missing and not report.corrupt
        assert sorted(report.orphans) == leftovers
        assert archive.verify(repair=True, grace=dt.timedelta(0)).removed == leftovers
        assert archive.verify(grace=dt.timedelta(0)).ok
    finally:
        archive.metadata.close()
