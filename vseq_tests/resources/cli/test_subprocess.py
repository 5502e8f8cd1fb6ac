"""The installed ``vseqarchive`` console script, run as a real process."""

from __future__ import annotations

import subprocess
import sys
import time
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


def test_help_is_fast() -> None:
    best = min(_timed([VSEQARCHIVE, "--help"]) for _ in range(3))
    assert best < 1.0, f"vseqarchive --help took {best:.2f} s"


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    assert "record-visitseq-metadata" in done.stdout
    return elapsed


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
