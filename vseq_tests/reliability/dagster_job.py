"""The completed-night job of the reliability tests, reconstructable in any process.

Resources come from the environment, so the killed run's process and the test that re-executes
it build the same job: ``VSEQ_REL_DB_URL``, ``VSEQ_REL_SCHEMA``, ``VSEQ_REL_STORE``,
``VSEQ_REL_CONSDB_URL`` (the archive and the synthetic ConsDB). They are ``EnvVar`` fields,
read when a step runs (a job definition cached by Dagster in one process still sees each test's
values). The retry policy is the production one with a 1 s delay.

``python -m vseq_tests.reliability.dagster_job NIGHT`` executes one partition in the instance of
``$DAGSTER_HOME`` and prints the run id; the reliability tests run it with a fault point set and
SIGKILL it there.
"""

from __future__ import annotations

import sys

from dagster import Backoff, Definitions, EnvVar, RetryPolicy, define_asset_job, in_process_executor

from vseq_assets.completed import completed_sequence_assets
from vseq_assets.consdb import consdb_visits_asset
from vseq_resources.dagster_resources import ArchiveResource, SqlConsDBResource

TELESCOPE = "simonyi"
JOB = "reliability_completed_night"
FAST_RETRIES = RetryPolicy(max_retries=4, delay=1, backoff=Backoff.EXPONENTIAL)


def definitions(retry_policy: RetryPolicy | None = FAST_RETRIES) -> Definitions:
    return Definitions(
        assets=[
            consdb_visits_asset(TELESCOPE),
            completed_sequence_assets(TELESCOPE, retry_policy=retry_policy),
        ],
        jobs=[define_asset_job(JOB, executor_def=in_process_executor)],
        resources={
            "archive": ArchiveResource(
                database_url=EnvVar("VSEQ_REL_DB_URL"),
                db_schema=EnvVar("VSEQ_REL_SCHEMA"),
                archive_uri=EnvVar("VSEQ_REL_STORE"),
            ),
            "consdb": SqlConsDBResource(url=EnvVar("VSEQ_REL_CONSDB_URL")),
        },
    )


def completed_night_job():  # type: ignore[no-untyped-def]
    return definitions().resolve_job_def(JOB)


def main(night: str) -> None:
    from dagster import DagsterInstance, execute_job, reconstructable

    with DagsterInstance.get() as instance:
        result = execute_job(
            reconstructable(completed_night_job), instance=instance, tags={"dagster/partition": night}
        )
        print(result.run_id, result.success, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
