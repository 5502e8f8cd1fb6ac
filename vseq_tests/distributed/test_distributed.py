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
    runs = load_partition("simonyi/prenight_metadata", night)
    out[night] = [len(visits), sorted(str(uuid) for uuid in runs.index)]
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
    archived = {
        row["first_day_obs"].isoformat(): str(row["visitseq_uuid"])
        for row in _archived(cluster, "simulations")
    }
    assert {night: uuids for night, (_, uuids) in read.items()} == {n: [u] for n, u in archived.items()}
    assert all(count > 0 for count, _ in read.values()), read


def _first_simulation_step(cluster: Cluster, backfill_id: str, timeout: float = 900) -> tuple[str, str, str]:
    """(run id, step key, worker host) of the first pre-night simulation step a worker began."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        began = cluster.step_hosts(run.run_id for run in cluster.runs(backfill_id))
        for run_id, key, name, _ in sorted(began, key=lambda b: b[3]):
            if key.endswith("prenight_simulations"):
                return run_id, key, worker_of(name)
        time.sleep(0.2)
    raise TimeoutError("no pre-night simulation step began")


def test_worker_killed_mid_step_loses_nothing(cluster: Cluster) -> None:
    """SIGKILL of a worker host's processes while it simulates a partition: the broker hands the
    step to the other worker (acknowledged late) or the run fails saying why; nothing is lost,
    and the backfill run again completes every partition once."""
    cluster.wait(cluster.backfill(f"{TELESCOPE}_completed_night", COMPLETED_NIGHTS), len(COMPLETED_NIGHTS))
    prenight = cluster.backfill(f"{TELESCOPE}_prenight", PRENIGHT_NIGHTS)
    run_id, step, victim = _first_simulation_step(cluster, prenight)
    next(host for host in cluster.workers if host.name == victim).kill()  # mid-step: it simulates
    runs = cluster.wait(prenight, len(PRENIGHT_NIGHTS))

    killed_run = next(run for run in runs if run.run_id == run_id)
    executions = [worker_of(name) for rid, key, name, _ in cluster.step_hosts([run_id]) if key == step]
    if killed_run.status == DagsterRunStatus.SUCCESS:
        # The step was retried elsewhere: begun on the victim, finished on the survivor.
        assert executions[0] == victim and executions[-1] != victim, executions
    else:
        assert killed_run.status == DagsterRunStatus.FAILURE
        failure = cluster.run_failure(run_id)
        print(f"the killed run failed: {failure}")
        assert failure, "a failed run must say why"
    others = [run for run in runs if run.run_id != run_id]
    assert all(run.status == DagsterRunStatus.SUCCESS for run in others), [
        (r.run_id, r.status) for r in others
    ]

    # The backfill again, on the surviving worker: every partition complete, none twice.
    again = cluster.wait(cluster.backfill(f"{TELESCOPE}_prenight", PRENIGHT_NIGHTS), len(PRENIGHT_NIGHTS))
    assert all(run.status == DagsterRunStatus.SUCCESS for run in again), [(r.run_id, r.status) for r in again]
    simulated = sorted(row["first_day_obs"].isoformat() for row in _archived(cluster, "simulations"))
    assert simulated == list(PRENIGHT_NIGHTS)
    report = _verify(cluster)
    print(f"verify after the kill: ok={report.ok}, orphans={len(report.orphans)}")
    assert report.ok, report
