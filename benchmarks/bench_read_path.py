"""Benchmark of the one verified read path against reading a stored ``visits.h5`` unverified.

Run with ``.venv/bin/python benchmarks/bench_read_path.py [--visits 2000000] [--reps 3] [--s3]``.

A survey's visits (``bench_visits.synthetic_observations``) are stored with ``ArchiveStore``
(``file://`` in a temporary directory; with ``--s3`` also on a SeaweedFS started for the run) and
read, whole and one night, three ways (median of ``--reps``, page cache warm):

- **unverified**: ``read_visits_h5(url)``, what the readers did before (no checksum);
- **hash in place**: hash the stored object, then ``read_visits_h5`` of it (what ``get_visits``
  did before; on ``file://`` it parses a file that could change between hash and parse);
- **verified** (now): ``read_stored_visits``: one pass copying the bytes to a private temporary
  file while hashing them, then parsing that copy (the parsed bytes are the checked bytes).

Ratios are against the unverified read of the same file. Prints the load average (the machine is
shared: read ratios, not seconds) and this process's CPU time; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_visits import synthetic_observations  # noqa: E402

from vseq_resources.store import ArchiveStore  # noqa: E402
from vseq_resources.stored_visits import read_stored_visits  # noqa: E402
from vseq_resources.visits import dayobs_ordinals, read_visits_h5  # noqa: E402


def median_seconds(call: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench(base: str, frame: Any, night: dt.date, reps: int) -> None:
    store = ArchiveStore(base)
    seq = uuid.uuid4()
    stored = store.put_visits("simonyi", "2026-01-01", seq, frame)
    url, sha = stored.url, stored.sha256
    print(f"{base.split(':', 1)[0]}: {stored.size / 1e6:.1f} MB, {len(frame):,} visits", flush=True)
    for label, nights in (("whole", None), (f"one night ({night})", [night])):
        unverified = median_seconds(lambda n=nights: read_visits_h5(url, nights=n), reps)
        in_place = median_seconds(
            lambda n=nights: (store.sha256_of(url), read_visits_h5(url, nights=n)), reps
        )
        verified = median_seconds(lambda n=nights: read_stored_visits(url, sha, sequence=seq, nights=n), reps)
        print(
            f"  {label:24s} unverified {unverified:7.3f} s | hash in place {in_place:7.3f} s "
            f"(x{in_place / unverified:.2f}) | verified copy {verified:7.3f} s "
            f"(x{verified / unverified:.2f})",
            flush=True,
        )
    store.delete(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2_000_000, help="about this many visits (ten years)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="also on a SeaweedFS S3 server")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    nights = 3653
    frame = synthetic_observations(dt.date(2026, 1, 1), nights, max(1, args.visits // nights))
    ordinals = dayobs_ordinals(frame["observationStartMJD"])
    night = dt.date.fromordinal(int(ordinals[len(frame) // 2]))
    with tempfile.TemporaryDirectory(prefix="vseq-bench-read-", dir="/var/tmp") as tmp:
        bench(Path(tmp).as_uri() + "/", frame, night, args.reps)
    if args.s3:
        sys.path.insert(0, str(REPO))
        from vseq_tests import services

        server = services.start_s3_server()
        os.environ.update(server.env)
        try:
            bench(f"s3://{server.create_bucket()}/vseq/", frame, night, args.reps)
        finally:
            server.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"load average after: {os.getloadavg()}; CPU {usage.ru_utime + usage.ru_stime:.1f} s", flush=True)


if __name__ == "__main__":
    main()
