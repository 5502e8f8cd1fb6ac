"""The same backfill on the distributed mode with 1 and with 2 Celery worker hosts.

    .venv/bin/python benchmarks/bench_distributed.py [--hours 0.25] [--nights 6] [--results DIR]

Each size gets a cluster of its own (``vseq_tests/distributed/cluster.py``: hosts as network
namespaces, each with its own empty disk, sharing PostgreSQL, SeaweedFS and RabbitMQ): a daemon
host, N worker hosts. The backfill is the distributed test's: the completed job for ``--nights``
nights, then the pre-night job for the ``--nights`` partitions that follow them (one telescope;
one night, one variant, the first ``--hours`` hours of it per simulation). Needs root (``ip
netns``), socat, and RabbitMQ on 127.0.0.1:5672.

Printed and written to ``DIR/distributed.json``: wall time of each backfill, the CPU time
(user+sys) of every process on the cluster's hosts (sampled from ``/proc`` every 0.25 s, so a
process shorter than that is missed), the machine's load, and per partition the seconds its steps
took on a worker (Dagster's step start to step end) and its run took end to end; the ratio of
the 1-worker to the 2-worker wall time, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from vseq_tests import services
from vseq_tests.distributed.cluster import TELESCOPE, Cluster
from vseq_tests.distributed.location import HOURS_ENV


class CpuMeter:
    """CPU seconds (user+sys) of every process in the cluster's network namespaces."""

    def __init__(self, cluster: Cluster) -> None:
        self.namespaces = {
            os.stat(f"/run/netns/{h.namespace}").st_ino for h in cluster.network.hosts.values()
        }
        self.seen: dict[tuple[int, str], float] = {}
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino not in self.namespaces:
                    continue
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            start = fields[19]  # the process's start time: a reused pid is another process
            self.seen[(int(entry), start)] = (int(fields[11]) + int(fields[12])) / self.ticks

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self._sample()
            time.sleep(0.25)

    def __enter__(self) -> CpuMeter:
        self._sample()
        self.start = dict(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.start.get(key, 0.0) for key, cpu in self.seen.items())


def step_seconds(cluster: Cluster, runs: list[Any]) -> dict[str, float]:
    """Per partition: seconds its steps took on a worker (Dagster's step start to step end)."""
    from dagster import DagsterEventType

    out: dict[str, float] = defaultdict(float)
    for run in runs:
        began: dict[str, float] = {}
        records = cluster.instance().all_logs(
            run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
        )
        for record in records:
            key = record.dagster_event.step_key
            if record.dagster_event.event_type == DagsterEventType.STEP_START:
                began[key] = record.timestamp
            elif key in began:
                out[run.tags["dagster/partition"]] += record.timestamp - began.pop(key)
    return {k: round(v, 1) for k, v in out.items()}


def measure(
    workers: int, nights: list[str], prenights: list[str], pg_url: str, s3: services.S3Server
) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="vseq-bench-dist-", dir="/var/tmp"))
    cluster = Cluster(workdir, pg_url, s3, nights, workers=workers)
    try:
        figures: dict[str, Any] = {"workers": workers, "load_before": os.getloadavg()}
        with CpuMeter(cluster) as meter:
            for job, partitions in (
                (f"{TELESCOPE}_completed_night", nights),
                (f"{TELESCOPE}_prenight", prenights),
            ):
                began = time.monotonic()
                runs = cluster.wait(cluster.backfill(job, partitions), len(partitions), timeout=7200)
                failed = [r.run_id for r in runs if r.status.value != "SUCCESS"]
                if failed:
                    raise RuntimeError(f"{job}: runs failed: {failed}")
                figures[job] = {
                    "wall_s": round(time.monotonic() - began, 1),
                    "worker_step_s": step_seconds(cluster, runs),
                    "run_s": cluster.run_seconds(runs),
                }
        figures["cpu_s"] = round(meter.seconds, 1)
        figures["load_after"] = os.getloadavg()
        return figures
    finally:
        cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=0.25, help="hours simulated per pre-night partition")
    parser.add_argument("--nights", type=int, default=6, help="partitions per backfill")
    parser.add_argument("--results", type=Path, default=Path("/var/tmp/vseq-bench-results"))
    args = parser.parse_args()
    os.environ.setdefault("VSEQ_OFFLINE", "1")
    os.environ[HOURS_ENV] = str(args.hours)  # the hosts inherit it through the cluster's env
    nights = [f"2025-10-{day:02d}" for day in range(1, args.nights + 1)]
    prenights = [f"2025-10-{day:02d}" for day in range(2, args.nights + 2)]
    workdir = Path(tempfile.mkdtemp(prefix="vseq-bench-pg-", dir="/var/tmp"))
    pg_url = services.postgres_server_url(workdir)
    s3 = services.start_s3_server()
    os.environ.update(s3.env)
    try:
        results = [measure(n, nights, prenights, pg_url, s3) for n in (1, 2)]
    finally:
        s3.stop()
    prenight_job = f"{TELESCOPE}_prenight"
    for figures in results:
        steps = figures[prenight_job]["worker_step_s"]
        figures["prenight_worker_s_per_partition"] = round(statistics.mean(steps.values()), 1)
    one, two = results
    summary = {
        "hours_per_simulation": args.hours,
        "partitions": args.nights,
        "cores": os.cpu_count(),
        "results": results,
        "ratio_1_to_2_workers": {
            job: round(one[job]["wall_s"] / two[job]["wall_s"], 2)
            for job in (f"{TELESCOPE}_completed_night", prenight_job)
        },
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "distributed.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
