"""Run every benchmark, one process each, and summarise wall time and peak RSS.

    .venv/bin/python benchmarks/run_all.py [--quick] [--skip-simulation] [--skip-pipeline] [--results DIR]

- ``bench_metadata.py``: metadata queries at 1k, 10k and 100k simulations, vseq against the
  reference archive and the reference's SQL on a vseq-migrated schema (about 4 min);
- ``bench_visits.py``: archiving and reading one night and a ten-year survey (about 4 min);
- ``bench_read_path.py``: the verified read path against unverified reads, ``file://`` and S3;
- ``bench_cli.py``: ``vseqarchive`` start-up (under 1 min);
- ``bench_settings.py``: what reading the settings costs a command, dataclasses against pydantic
  (under 1 min);
- ``bench_simulation.py`` (site data, one default night, pre-loading a year of visits from a frame
  and through the archive; about 6 min; ``--skip-simulation`` leaves it out);
- ``bench_pipeline.py`` (``vseq-nightly`` for one dayobs on a fresh state directory, then on
  another dayobs, with where the time goes; about 5 min; the schedules' default simulations, 3
  variants of 3 nights, take ``bench_pipeline.py --variant nominal --variant delay_60 --variant
  seeing_1.2 --sim-nights 3``, about 7 min; ``--skip-pipeline`` leaves it out).

``--quick`` shrinks the sizes (1k and 10k simulations, 200k visits) and skips the simulation and
pipeline benchmarks, for a smoke run. Each
benchmark's figures go to ``DIR/<name>.json`` (default ``/var/tmp/vseq-bench-results``). The 1M
simulations size is separate: ``.venv/bin/python benchmarks/bench_metadata.py --sizes 1000000``.
Results and the machine they were measured on: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {os.cpu_count()} cores, {memory:.0f} GB, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--skip-simulation", action="store_true", help="leave out bench_simulation.py")
    parser.add_argument("--skip-pipeline", action="store_true", help="leave out bench_pipeline.py")
    parser.add_argument("--results", type=Path, default=Path("/var/tmp/vseq-bench-results"))
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    runs = {
        "metadata": ["bench_metadata.py", *(["--sizes", "1000", "10000"] if args.quick else [])],
        "visits": ["bench_visits.py", *(["--visits", "200000"] if args.quick else [])],
        "read_path": ["bench_read_path.py", "--s3", *(["--visits", "200000"] if args.quick else [])],
        "cli": ["bench_cli.py"],
        "settings": ["bench_settings.py"],
    }
    if not (args.quick or args.skip_simulation):
        runs["simulation"] = ["bench_simulation.py"]
    if not (args.quick or args.skip_pipeline):
        runs["pipeline"] = ["bench_pipeline.py"]
    print(machine(), flush=True)
    summary = []
    for name, (script, *options) in runs.items():
        print(f"\n######## {script} {' '.join(options)}", flush=True)
        command = [sys.executable, str(HERE / script), *options]
        if name != "simulation":
            command += ["--json", str(args.results / f"{name}.json")]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with tempfile.NamedTemporaryFile("r") as report:
            started = time.perf_counter()
            done = subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", report.name, *command], env=env, cwd=REPO
            )
            elapsed = time.perf_counter() - started
            rss = report.read().split()
        peak = f"{int(rss[-1]) / 1024:.0f} MB" if rss and rss[-1].isdigit() else "?"
        summary.append((script, done.returncode, elapsed, peak))
    print("\n######## summary")
    for script, status, elapsed, peak in summary:
        verdict = "ok" if status == 0 else f"FAILED ({status})"
        print(f"  {script:22s} {verdict:12s} {elapsed:6.0f} s  peak RSS {peak}")
    print(f"figures in {args.results}")
    sys.exit(max(status for _, status, _, _ in summary))


if __name__ == "__main__":
    main()
