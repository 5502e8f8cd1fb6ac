"""The installed ``vseqarchive`` console script, run as a real process."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from .conftest import Vseq, subprocess_env

VSEQARCHIVE = str(Path(sys.executable).with_name("vseqarchive"))


def run(vseq: Vseq, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VSEQARCHIVE, *args],
        env=subprocess_env(vseq),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=vseq.workdir,
    )


HEAVY_MODULES = ("pandas", "numpy", "sqlalchemy", "tables", "lsst.resources", "rubin_scheduler", "dagster")
"""What ``--help`` must not import: start-up cost is measured by ``benchmarks/bench_cli.py``; the
test checks its cause, so that it cannot fail on a loaded machine nor pass on an idle one."""


def test_help_imports_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "from vseq_resources.cli import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        f"print('LOADED', *sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "record-visitseq-metadata" in done.stdout
    assert done.stdout.splitlines()[-1] == "LOADED"


def test_console_script_help() -> None:
    done = subprocess.run([VSEQARCHIVE, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "record-visitseq-metadata" in done.stdout


def test_console_script_end_to_end(cli_env: Vseq, opsim_db: Path) -> None:
    made = run(
        cli_env,
        "record-visitseq-metadata",
        "simulations",
        str(opsim_db),
        "from a shell",
        "--first_day_obs",
        "20260411",
        "--last_day_obs",
        "20260412",
    )
    assert made.returncode == 0, made.stderr
    sim = made.stdout.strip()
    assert str(uuid.UUID(sim)) == sim and made.stdout == sim + "\n"
    archived = run(cli_env, "archive-file", sim, str(opsim_db), "visits")
    assert archived.returncode == 0, archived.stderr
    assert archived.stderr == ""  # not a terminal: no progress output
    assert archived.stdout.endswith(f"/{sim}/visits.h5\n")

    failed = run(cli_env, "get-visitseq-metadata", str(uuid.UUID(int=1)))
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("vseqarchive: error:")
