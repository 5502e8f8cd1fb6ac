"""The distributed mode on three hosts and a reader (issue 18): a backfill spread over two Celery
workers that share nothing but PostgreSQL, S3 and the broker.

The hosts are network namespaces, each with its own empty disk (:mod:`.hosts`). The daemon's
host runs the daemon, the code server and the runs' processes; the two worker hosts execute every
step; a fourth host that took no part reads the result with vseq's reader.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter

import pytest
from dagster import DagsterRunStatus

from vseq_tests.distributed.cluster import TELESCOPE, Cluster, worker_of
from vseq_tests.distributed.conftest import COMPLETED_NIGHTS, PRENIGHT_NIGHTS
from vseq_tests.reliability.support import open_archive

pytestmark = pytest.mark.timeout(1500)

READ_PARTITIONS = """
import json
from vseq_resources.readers import load_partition
out = {}
for night in NIGHTS:
    visits = load_partition("simonyi/prenight_sims", night)
    out[night] = [len(visits), str(visits.attrs.get("visitseq_uuid"))]
print(json.dumps(out))
"""


def _archived(cluster: Cluster, table: str) -> list[dict]:
    archive = open_archive(cluster.pg_url, cluster.schema, cluster.env["VSEQ_ARCHIVE_URI"])
    try:
        return archive.find_sequences(table, telescope=TELESCOPE)
    finally:
        archive.metadata.close()


def _verify(cluster: Cluster) -> object:
    archive = open_archive(cluster.pg_url, cluster.schema, cluster.env["VSEQ_ARCHIVE_URI"])
    try:
        return archive.verify(grace=dt.timedelta(0))
    finally:
        archive.metadata.close()


def test_backfill_spread_over_two_workers(cluster: Cluster) -> None:
    began_at = time.monotonic()
    completed = cluster.backfill(f"{TELESCOPE}_completed_night", COMPLETED_NIGHTS)
    completed_runs = cluster.wait(completed, len(COMPLETED_NIGHTS))
    completed_at = time.monotonic()
    prenight = cluster.backfill(f"{TELESCOPE}_prenight", PRENIGHT_NIGHTS)
    prenight_runs = cluster.wait(prenight, len(PRENIGHT_NIGHTS))
    runs = completed_runs + prenight_runs
    print(  # the figures docs/benchmarks.md quotes, in the test's output (-s)
        f"completed backfill {completed_at - began_at:.0f} s, pre-night backfill "
        f"{time.monotonic() - completed_at:.0f} s; runs: {cluster.run_seconds(runs)}"
    )
    assert all(run.status == DagsterRunStatus.SUCCESS for run in runs), [(r.run_id, r.status) for r in runs]

    # Every step ran on a worker host, and both workers took part, pre-night simulations included.
    began = cluster.step_hosts(run.run_id for run in runs)
    by_worker = Counter(worker_of(name) for _, _, name, _ in began)
    assert set(by_worker) == {"worker-1", "worker-2"}, by_worker
    simulated_on = {worker_of(name) for _, key, name, _ in began if key.endswith("prenight_simulations")}
    assert simulated_on == {"worker-1", "worker-2"}, began

    # Every partition archived exactly once (one completed sequence per night, one simulation per
    # pre-night partition), and the store holds nothing else.
    nights = sorted(row["first_day_obs"].isoformat() for row in _archived(cluster, "completed"))
    assert nights == list(COMPLETED_NIGHTS)
    simulated = sorted(row["first_day_obs"].isoformat() for row in _archived(cluster, "simulations"))
    assert simulated == list(PRENIGHT_NIGHTS)
    report = _verify(cluster)
    assert report.ok and not report.orphans, report

    # Readable from a host that took no part: vseq's reader, from the database and the store.
    read = cluster.read_from(cluster.reader, f"NIGHTS = {json.dumps(PRENIGHT_NIGHTS)}\n{READ_PARTITIONS}")
    uuids = {str(row["uuid"]) for row in _archived(cluster, "simulations")}
    assert set(read) == set(PRENIGHT_NIGHTS)
    assert all(count > 0 for count, _ in read.values()), read
    assert {uuid for _, uuid in read.values()} == uuids
