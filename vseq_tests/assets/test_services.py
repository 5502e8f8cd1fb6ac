"""``vseq-services`` after a "reboot": everything down, start brings back the embedded server,
Dagster's instance and the figure server without running anything; `dagster` connects with the
printed variables, the printed schedule command turns the schedules on; stop and status agree.

Runs the real command in subprocesses on a state directory of its own (an embedded server of its
own: nothing configured)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from vseq_assets.services import NOT_RUNNING

BIN = Path(sys.executable).parent
CONFIGURED = (
    "VSEQ_DATABASE_URL",
    "VSARCHIVE_PGHOST",
    "VSARCHIVE_PGDATABASE",
    "VSARCHIVE_PGUSER",
    "VSARCHIVE_PGPORT",
    "VSEQ_ARCHIVE_URI",
    "VSEQ_PRENIGHT_INDEX_URI",
    "VSEQ_DAGSTER_PG_URL",
    "VSEQ_STORE_HTTP_URL",
    "VSEQ_CONSDB_URL",
    "VSEQ_CONSDB_REST_URL",
    "DAGSTER_HOME",
)


def _services(state: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    return subprocess.run(
        [str(BIN / "vseq-services"), "--state-dir", str(state), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _printed_command(output: str, verb: str) -> tuple[dict[str, str], list[str]]:
    """The variables and arguments of the printed ``dagster <verb>`` command."""
    lines = output.splitlines()
    (i,) = [n for n, line in enumerate(lines) if re.search(rf"/dagster {verb}\b", line)]
    words = shlex.split(lines[i - 1].rstrip("\\") + " " + lines[i])
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    return env, [w for w in words if "=" not in w or w.startswith("-")]


@pytest.fixture
def state() -> Path:
    path = Path(tempfile.mkdtemp(prefix="vseq-services-", dir="/var/tmp"))
    yield path
    _services(path, "stop")
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie left for a reaper that never comes does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(900)  # five commands load the code location, each 10-30 s
def test_start_status_stop_after_a_reboot(state: Path) -> None:
    down = _services(state, "status")
    assert down.returncode == NOT_RUNNING, down.stderr
    assert "embedded PostgreSQL: stopped" in down.stdout and "figure server: stopped" in down.stdout
    assert "vseq-services start" in down.stderr

    started = _services(state, "start", "--figures-port", "0")
    assert started.returncode == 0, started.stderr
    pid = int(re.search(r"embedded PostgreSQL: running \(pid (\d+)\)", started.stdout).group(1))
    figures = re.search(r"figure server: running \(pid \d+\), (http://127\.0\.0\.1:\d+/)", started.stdout)
    assert figures and (state / "dagster_home" / "dagster.yaml").is_file()
    assert "password" not in started.stdout.lower()

    # dagster itself connects to the instance with the printed variables ...
    env, words = _printed_command(started.stdout, "dev")
    assert words[-5:] == ["dev", "-m", "vseq_assets.definitions", "-p", "3000"]
    assert env["VSEQ_STORE_HTTP_URL"] == figures.group(1) and env["VSEQ_STATE_DIR"] == str(state)
    base = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    listed = subprocess.run(
        [str(BIN / "dagster"), "run", "list"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    # ... and the printed schedule command turns every schedule on.
    env, words = _printed_command(started.stdout, "schedule start")
    assert words[1:] == ["schedule", "start", "--start-all", "-m", "vseq_assets.definitions"]
    on = subprocess.run(words, env={**base, **env}, capture_output=True, text=True, timeout=180)
    assert on.returncode == 0 and "Started all schedules" in on.stdout, on.stderr
    listed = subprocess.run(
        [str(BIN / "dagster"), "schedule", "list", "-m", "vseq_assets.definitions", "--running"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert listed.stdout.count("[RUNNING]") == 4, listed.stdout + listed.stderr

    # The figure server answers; a second start keeps both servers.
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(figures.group(1) + "nothing.png", timeout=10)
    again = _services(state, "start", "--figures-port", "0")
    assert again.returncode == 0 and f"(pid {pid})" in again.stdout and figures.group(1) in again.stdout
    up = _services(state, "status")
    assert up.returncode == 0 and f"(pid {pid})" in up.stdout

    stopped = _services(state, "stop")
    assert stopped.returncode == 0
    assert "figure server: stopped" in stopped.stdout and "embedded PostgreSQL: stopped" in stopped.stdout
    assert not _alive(pid) and not (state / "pgdata" / "postmaster.pid").exists()
    after = _services(state, "status")
    assert after.returncode == NOT_RUNNING and "embedded PostgreSQL: stopped" in after.stdout
