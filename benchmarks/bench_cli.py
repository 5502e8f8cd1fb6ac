"""Benchmark of ``vseqarchive`` start-up: ``--help`` and one small command (``is-tagged``).

Run with ``.venv/bin/python benchmarks/bench_cli.py [--reps 7]``. Each command runs as its own
process (the installed ``.venv/bin/vseqarchive`` script), on a real PostgreSQL schema holding one
tagged simulation; wall time (median) and peak RSS (the child's own, from ``/usr/bin/time``) are printed,
with ``python -c pass`` as the floor of any Python command. Target (issue 8): under 0.5 s and
150 MB each. Also lists the heavy modules each command imports (``-X importtime``).

The runs are interleaved (one of each command and set-up per round, after a warm-up round), so that
a change of machine load during the run weighs on every figure alike.
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


def summarise(label: str, argv: list[str], samples: list[tuple[float, float, str]]) -> dict[str, Any]:
    wall = statistics.median(s[0] for s in samples)
    rss = max(s[1] for s in samples)
    result = {"command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv)), "seconds": wall}
    result |= {"peak_rss_mb": rss, "output": samples[-1][2].strip().splitlines()[:1]}
    result |= {"all_seconds": [round(s[0], 4) for s in samples]}
    verdict = "met" if wall < 0.5 and rss < 150 else "MISSED"
    print(
        f"  {label:22s} {wall:6.3f} s  peak RSS {rss:6.1f} MB  [{verdict}: < 0.5 s and < 150 MB]", flush=True
    )
    return result


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def installed_bytecode() -> bool:
    """Whether the installation holds compiled bytecode (``uv sync --compile-bytecode``, pip)."""
    init = Path(sa.__file__)
    return (init.parent / "__pycache__" / f"{init.stem}.{sys.implementation.cache_tag}.pyc").exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not VSEQARCHIVE.exists():
        print(f"no {VSEQARCHIVE}: install the project (uv sync) first")
        return
    url = services.postgres_server_url()
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
        print(f"load average before: {load_average()} on {os.cpu_count()} cores")
        # As installed here (uv installs no bytecode unless told to, and this workplace sets
        # PYTHONDONTWRITEBYTECODE: every import then compiles its source), and with bytecode
        # compiled once, as pip or ``uv sync --compile-bytecode`` leave it (caches kept outside the
        # venv, so the project's own sources are compiled too).
        compiled = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "vseq-bench-pycache")
        commands = {
            "python -c pass": ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
            "--help": ("vseqarchive --help", [str(VSEQARCHIVE), "--help"]),
            "is-tagged": ("vseqarchive is-tagged", [str(VSEQARCHIVE), "is-tagged", str(sim), "ideal"]),
        }
        setups = {"as installed": env, "bytecode compiled": compiled}
        samples: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
        for round_ in range(args.reps + 1):  # round 0 warms the file cache and the bytecode cache
            for setup, setup_env in setups.items():
                for name, (_, argv) in commands.items():
                    sample = run_measured(argv, setup_env)
                    if round_:
                        samples.setdefault((setup, name), []).append(sample)
        results: dict[str, Any] = {}
        for setup, setup_env in setups.items():
            if "PYTHONDONTWRITEBYTECODE" not in setup_env:
                note = ""
            elif installed_bytecode():
                note = " (bytecode installed with the packages; PYTHONDONTWRITEBYTECODE set)"
            else:
                note = " (no .pyc, PYTHONDONTWRITEBYTECODE set)"
            print(f" {setup}{note}:")
            results[setup] = {
                name: summarise(label, argv, samples[setup, name]) for name, (label, argv) in commands.items()
            }
            results[setup]["installed_bytecode"] = installed_bytecode()
            assert results[setup]["is-tagged"]["output"] == ["true"], results[setup]["is-tagged"]
        for name, argv in (("--help", ["--help"]), ("is-tagged", ["is-tagged", str(sim), "ideal"])):
            imported = heavy_imports([str(VSEQARCHIVE), *argv], compiled)
            results["bytecode compiled"][name]["heavy_imports"] = imported
            print(f"  {name} imports: {', '.join(imported) or 'none of ' + ', '.join(HEAVY)}")
    finally:
        db.close()
        services.drop_schema(url, schema)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load average after: {load_average()}")
    print(f"peak RSS of this process {peak:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "peak_rss_mb": peak}, indent=2, default=str))


if __name__ == "__main__":
    main()
