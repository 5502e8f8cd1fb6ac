"""One partition of the parallel backfill, run in a worker process (spawned by test_backfill.py).

Each call materializes the completed-night assets and checks of one night in the instance of
``$DAGSTER_HOME`` (the project's dagster.yaml: PostgreSQL run and event storage), like one run of
a Dagster backfill; several workers run at once against the same archive and instance.
"""

from __future__ import annotations

import os
import time
from typing import Any


def run_partition(night: str, env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    from dagster import DagsterInstance

    from vseq_resources.dagster_resources import ArchiveResource, SqlConsDBResource
    from vseq_tests.assets.helpers import check_results, materialize_night, materialized

    resources = {
        "archive": ArchiveResource(
            database_url=env["VSEQ_REL_DB_URL"],
            db_schema=env["VSEQ_REL_SCHEMA"],
            archive_uri=env["VSEQ_REL_STORE"],
        ),
        "consdb": SqlConsDBResource(url=env["VSEQ_REL_CONSDB_URL"]),
    }
    began = time.monotonic()
    with DagsterInstance.get() as instance:
        result = materialize_night("simonyi", night, resources, instance=instance, raise_on_error=False)
        out: dict[str, Any] = {
            "night": night,
            "success": result.success,
            "run_id": result.run_id,
            "seconds": round(time.monotonic() - began, 1),
        }
        if not result.success:
            failures = [e for e in result.all_events if e.is_failure]
            out["error"] = str(failures[0].event_specific_data) if failures else "unknown"
        if result.success:
            row = materialized(result, "simonyi", "completed_metadata")
            out.update(
                uuid=row["uuid"],
                new=row["new_sequence"],
                visits=row["visit_count"],
                checks={k: v.passed for k, v in check_results(result).items()},
            )
        return out
