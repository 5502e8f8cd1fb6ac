"""What reading the settings costs a metadata-only ``vseqarchive`` command: vseq's dataclass
settings against the same settings as a pydantic model (the alternative ``config.py`` explains).

Run with ``.venv/bin/python benchmarks/bench_settings.py [--reps 15]``. Each variant is its own
Python process that imports what a metadata-only command imports anyway (SQLAlchemy with its
PostgreSQL dialect, click), then reads the archive settings from the environment:

- ``dataclass``: ``vseq_resources.config.ArchiveSettings.from_env()``, as the CLI does;
- ``pydantic``: the same, then the same fields validated by a pydantic model (what a pydantic
  settings object would add: importing pydantic and building and validating one model).

Bytecode is compiled once into a temporary ``PYTHONPYCACHEPREFIX`` (as an installation that
compiles it has it); the variants run interleaved round by round after a warm-up round, so a
change of machine load weighs on both alike. Prints the median wall and CPU time (user + system
of the child) of each, their difference and ratio, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = "import sqlalchemy, sqlalchemy.dialects.postgresql, click\n"
DATACLASS = COMMON + "from vseq_resources.config import ArchiveSettings\nArchiveSettings.from_env()\n"
PYDANTIC = (
    DATACLASS
    + """
from pydantic import BaseModel


class PydanticArchiveSettings(BaseModel):
    database_url: str | None = None
    schema_name: str = "vsmd"
    archive_uri: str | None = None
    prenight_index_uri: str | None = None
    state_dir: str


PydanticArchiveSettings(state_dir="/var/tmp/vseq-bench")
"""
)
VARIANTS = {"dataclass": DATACLASS, "pydantic": PYDANTIC}


def run_once(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vseq-bench-pyc-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        load_before = os.getloadavg()
        for code in VARIANTS.values():  # warm-up: compiles the bytecode
            run_once(code, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
        for _ in range(args.reps):
            for name, code in VARIANTS.items():
                times[name].append(run_once(code, env))
        load_after = os.getloadavg()
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in times.items()
    }
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {args.reps} rounds")
    for name, (wall, cpu) in medians.items():
        print(f"{name:<10} wall {wall:.3f} s  CPU {cpu:.3f} s (medians)")
    (wall_a, cpu_a), (wall_b, cpu_b) = medians["dataclass"], medians["pydantic"]
    print(
        f"pydantic adds {wall_b - wall_a:.3f} s wall ({wall_b / wall_a:.2f}x) and "
        f"{cpu_b - cpu_a:.3f} s CPU ({cpu_b / cpu_a:.2f}x)"
    )
    if args.json:
        report = {name: {"wall": wall, "cpu": cpu} for name, (wall, cpu) in medians.items()}
        report["load_average"] = {"before": load_before[0], "after": load_after[0]}
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
