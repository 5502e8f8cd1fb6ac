"""Benchmark of ``vseqarchive`` start-up: ``--help`` and one small command (``is-tagged``).

Run with ``.venv/bin/python benchmarks/bench_cli.py [--reps 7]``. Each command runs as its own
process (the installed ``.venv/bin/vseqarchive`` script), on a real PostgreSQL schema holding one
tagged simulation; wall time (median) and peak RSS (the child's own, from ``/usr/bin/time``) are printed,
with ``python -c pass`` as the floor of any Python command. Target (issue 8): under 0.5 s and
150 MB each. Also lists the heavy modules each command imports (``-X importtime``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from vseq_resources.metadata import MetadataDatabase
from vseq_tests import services

VSEQARCHIVE = Path(sys.executable).with_name("vseqarchive")
TIME = "/usr/bin/time"
HEAVY = (
    "pandas",
    "numpy",
    "sqlalchemy",
    "psycopg2",
    "lsst.resources",
    "tables",
    "alembic",
    "rubin_scheduler",
)


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one process.

    The peak RSS comes from ``/usr/bin/time`` (the child's own ``wait4`` figure): a child forked
    from this Python would report this process's RSS too, which Linux keeps across ``exec``.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%M", "-o", report.name, *argv], capture_output=True, text=True, env=env
        )
        elapsed = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
        return elapsed, int(report.read().split()[-1]) / 1024, done.stdout


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level packages a command imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env, check=True
    )
    seen = set()
    for line in done.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        for heavy in HEAVY:
            if name == heavy:
                seen.add(heavy)
    return sorted(seen)


def measure(label: str, argv: list[str], env: dict[str, str], reps: int) -> dict[str, Any]:
    run_measured(argv, env)  # warm the file cache
    samples = [run_measured(argv, env) for _ in range(reps)]
    wall = statistics.median(s[0] for s in samples)
    rss = max(s[1] for s in samples)
    result = {"command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv)), "seconds": wall}
    result |= {"peak_rss_mb": rss, "output": samples[-1][2].strip().splitlines()[:1]}
    verdict = "met" if wall < 0.5 and rss < 150 else "MISSED"
    print(
        f"  {label:22s} {wall:6.3f} s  peak RSS {rss:6.1f} MB  [{verdict}: < 0.5 s and < 150 MB]", flush=True
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not VSEQARCHIVE.exists():
        print(f"no {VSEQARCHIVE}: install the project (uv sync) first")
        return
    url = services.postgres_server_url(Path(tempfile.mkdtemp(prefix="vseq-bench-pg-", dir="/var/tmp")))
    schema = services.new_schema_name("bench_cli")
    db = MetadataDatabase.from_url(url, schema, create=True)
    try:
        sim = db.insert_visitseq(
            "simulations",
            {
                "visitseq_sha256": b"\0" * 32,
                "visitseq_label": "cli benchmark",
                "telescope": "simonyi",
                "first_day_obs": dt.date(2026, 4, 11),
                "last_day_obs": dt.date(2026, 4, 11),
            },
        )
        db.tag(sim, "prenight", "ideal")
        parsed = sa.make_url(url)
        env = dict(
            os.environ, VSARCHIVE_PGSCHEMA=schema, VSEQ_ARCHIVE_URI=Path(tempfile.gettempdir()).as_uri()
        )
        env |= {
            "VSARCHIVE_PGHOST": parsed.host or "",
            "VSARCHIVE_PGPORT": str(parsed.port or 5432),
            "VSARCHIVE_PGUSER": parsed.username or "",
            "VSARCHIVE_PGDATABASE": parsed.database or "",
        }
        print(f"{VSEQARCHIVE} against schema {schema} ({args.reps} runs each, median wall, max peak RSS)")
        # As installed here (uv installs no bytecode and this workplace sets PYTHONDONTWRITEBYTECODE:
        # every import compiles its source), and with bytecode compiled once, as pip or
        # ``uv sync --compile-bytecode`` installs leave it (caches kept outside the venv).
        compiled = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "vseq-bench-pycache")
        results: dict[str, Any] = {}
        for setup, setup_env in (("as installed", env), ("bytecode compiled", compiled)):
            note = " (no .pyc, PYTHONDONTWRITEBYTECODE set)" if "PYTHONDONTWRITEBYTECODE" in setup_env else ""
            print(f" {setup}{note}:")
            results[setup] = {
                "python -c pass": measure(
                    "python -c pass (floor)", [sys.executable, "-c", "pass"], setup_env, args.reps
                ),
                "--help": measure("vseqarchive --help", [str(VSEQARCHIVE), "--help"], setup_env, args.reps),
                "is-tagged": measure(
                    "vseqarchive is-tagged",
                    [str(VSEQARCHIVE), "is-tagged", str(sim), "ideal"],
                    setup_env,
                    args.reps,
                ),
            }
            assert results[setup]["is-tagged"]["output"] == ["true"], results[setup]["is-tagged"]
        for name, argv in (("--help", ["--help"]), ("is-tagged", ["is-tagged", str(sim), "ideal"])):
            imported = heavy_imports([str(VSEQARCHIVE), *argv], compiled)
            results["bytecode compiled"][name]["heavy_imports"] = imported
            print(f"  {name} imports: {', '.join(imported) or 'none of ' + ', '.join(HEAVY)}")
    finally:
        db.close()
        services.drop_schema(url, schema)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process {peak:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "peak_rss_mb": peak}, indent=2, default=str))


if __name__ == "__main__":
    main()
