"""``vseq-nightly`` runs that are killed, interrupted or have to wait (issue 19 point 3).

Real ``vseq-nightly`` processes on one instance (the project's ``dagster.yaml``, PostgreSQL
storage in a fresh database, a fresh state directory), against a configured archive and a
synthetic ConsDB. The pre-night step runs in the ``rubin_scheduler`` pool (limit 1):

1. a holder run is paused inside its pre-night step (``after_visits_upload``: simulated, its
   visits stored, not yet recorded) and is shown to hold the pool's only slot;
2. two more runs of the same pre-night must say which pool they wait for and which run holds it,
   use next to no CPU while waiting, and stop promptly on SIGINT and on SIGTERM, their runs
   ending failed with no claim left behind;
3. the holder is SIGKILLed: its run stays STARTED and keeps the slot (the fault);
4. the next ``vseq-nightly`` marks that run failed, frees the slot, and succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from vseq_assets.dagster_instance import PROCESS_TAG
from vseq_assets.prenight import SIMULATION_POOL
from vseq_resources import figure_server
from vseq_tests.reliability.conftest import BACKFILL_NIGHTS
from vseq_tests.reliability.support import (
    PYTHON,
    REPO,
    Paused,
    create_database,
    drop_database,
    start_paused,
    subprocess_env,
)

NIGHT = BACKFILL_NIGHTS[0]
FOLLOWING = BACKFILL_NIGHTS[1]
PRENIGHT = ("--telescope", "simonyi", "--prenight-hours", "0.5")
WAITING = f"waits for a slot of pool {SIMULATION_POOL!r}"


@pytest.fixture
def nightly_env(
    pg_url: str,
    db_schema: str,
    file_base: str,
    consdb_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The environment of ``vseq-nightly`` with configured services and a fresh state directory."""
    from vseq_resources.metadata.database import MetadataDatabase

    MetadataDatabase.from_url(pg_url, db_schema, create=True).close()
    dagster_url = create_database(pg_url, "dagster_nightly")
    env = {
        "VSEQ_STATE_DIR": str(tmp_path / "state"),
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": db_schema,
        "VSEQ_ARCHIVE_URI": file_base,
        "VSEQ_CONSDB_URL": consdb_url,
        "VSEQ_DAGSTER_PG_URL": dagster_url,
    }
    monkeypatch.setenv("VSEQ_DAGSTER_PG_URL", dagster_url)
    yield env
    figure_server.stop(tmp_path / "state")  # started by vseq-nightly for the UI, kept after it
    drop_database(pg_url, dagster_url)


def nightly(*args: str) -> list[str]:
    return [PYTHON, "-m", "vseq_assets.nightly", NIGHT, *args]


def run_nightly(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        nightly(*args), env=subprocess_env(env), cwd=REPO, capture_output=True, text=True, timeout=900
    )


def start_nightly(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            nightly(*args), env=subprocess_env(env), cwd=REPO, stdout=out, stderr=out, text=True
        )


def wait_for_text(log: Path, text: str, process: subprocess.Popen, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        if process.poll() is not None:
            raise AssertionError(
                f"exited ({process.returncode}) before printing {text!r}:\n{content[-4000:]}"
            )
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not printed within {timeout} s:\n{log.read_text()[-4000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slot_holders(instance: DagsterInstance) -> tuple[list[str], list[str]]:
    """Runs holding a slot of the simulation pool, and runs with a step waiting for one."""
    info = instance.event_log_storage.get_concurrency_info(SIMULATION_POOL)
    return [s.run_id for s in info.claimed_slots], [
        s.run_id for s in info.pending_steps if not s.assigned_timestamp
    ]


@pytest.mark.timeout(1800)
def test_killed_prenight_run_frees_its_slot_and_waiting_runs_say_why(
    nightly_env: dict[str, str], tmp_path: Path
) -> None:
    # The completed night first, so that the paused run records no completed sequence: the
    # first sequence it records is its simulation (the night review stores files, no sequence).
    first = run_nightly(nightly_env, "--telescope", "simonyi", "--no-prenight")
    assert first.returncode == 0, first.stderr[-4000:]

    holder = start_paused(
        nightly(*PRENIGHT), "after_visits_upload", tmp_path / "marker", env=nightly_env, timeout=600
    )
    assert holder.pid == holder.process.pid  # in process: the step runs in vseq-nightly itself
    instance = DagsterInstance.from_config(str(Path(nightly_env["VSEQ_STATE_DIR"]) / "dagster_home"))
    try:
        (held_by,), pending = slot_holders(instance)
        assert pending == []
        holder_run = instance.get_run_by_id(held_by)
        assert holder_run.status == DagsterRunStatus.STARTED
        assert holder_run.job_name == "simonyi_prenight"
        assert holder_run.tags[PROCESS_TAG].split()[1] == str(holder.pid)

        # Two more runs of the same pre-night wait for the slot: they say so, idle, and stop.
        waiters = {
            sig: start_nightly(nightly_env, tmp_path / f"{sig.name}.log", *PRENIGHT)
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        for sig, waiter in waiters.items():
            text = wait_for_text(tmp_path / f"{sig.name}.log", WAITING, waiter)
            (line,) = [line for line in text.splitlines() if WAITING in line]
            assert f"run {held_by[:8]} (simonyi_prenight {FOLLOWING}, STARTED, process {holder.pid}" in line
            assert "Ctrl-C stops this run" in line
        before = {sig: cpu_seconds(w.pid) for sig, w in waiters.items()}
        time.sleep(5)
        used = {sig: cpu_seconds(w.pid) - before[sig] for sig, w in waiters.items()}
        assert all(seconds < 1.0 for seconds in used.values()), used  # was 5 s of 5 s (spinning)
        _, pending = slot_holders(instance)
        assert len(pending) == 2  # both really waited for the slot

        stopped_in = {}
        for sig, waiter in waiters.items():
            start = time.monotonic()
            waiter.send_signal(sig)
            assert waiter.wait(timeout=60) == 130
            stopped_in[sig.name] = time.monotonic() - start
            last = (tmp_path / f"{sig.name}.log").read_text().strip().splitlines()[-1]
            assert last.startswith("vseq-nightly: stopped by Ctrl-C/SIGTERM; Dagster run ")
            run = instance.get_run_by_id(last.split("Dagster run ")[1].split()[0])
            assert run.status == DagsterRunStatus.FAILURE
            assert run.job_name == "simonyi_prenight"
        # Stopped (before: never); the time is Dagster's teardown and the exit, load-bound:
        # 5-8 s at load 8, 22-25 s at load 14 on 2 cores.
        assert all(seconds < 60 for seconds in stopped_in.values()), stopped_in
        assert slot_holders(instance) == ([held_by], [])  # no claim left by the stopped runs

        # SIGKILL the holder: its run stays STARTED and keeps the slot.
        assert holder.kill() == -9
        assert instance.get_run_by_id(held_by).status == DagsterRunStatus.STARTED
        assert slot_holders(instance) == ([held_by], [])

        # The next vseq-nightly fails the dead run, frees the slot and simulates the night.
        start = time.monotonic()
        after = run_nightly(nightly_env, *PRENIGHT)
        assert after.returncode == 0, after.stderr[-4000:]
        assert (
            f"run {held_by[:8]} (simonyi_prenight {FOLLOWING}) was left unfinished by a process that is gone"
            in after.stderr
        )
        assert f"freed its slot(s) in pool(s) {SIMULATION_POOL}" in after.stderr
        assert WAITING not in after.stderr
        assert f"simonyi pre-night {FOLLOWING}: OK" in after.stdout
        assert instance.get_run_by_id(held_by).status == DagsterRunStatus.FAILURE
        assert slot_holders(instance) == ([], [])
        print(f"stopped in {stopped_in}; waiting CPU {used}; next run {time.monotonic() - start:.0f} s")
    finally:
        if holder.process.poll() is None:
            holder.process.kill()
        instance.dispose()


# -- database restarts (issue 19 point 4) ------------------------------------------------------------


@pytest.fixture
def embedded_env(
    consdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """``vseq-nightly`` on a fresh state directory: archive, store and Dagster storage in the
    embedded server (restarted by the tests), the synthetic ConsDB from the shared server."""
    from vseq_resources.embedded import stop_embedded_database

    state = tmp_path / "state"
    for name in ("VSEQ_DATABASE_URL", "VSARCHIVE_PGSCHEMA", "VSEQ_ARCHIVE_URI", "VSEQ_DAGSTER_PG_URL"):
        monkeypatch.delenv(name, raising=False)
    yield {"VSEQ_STATE_DIR": str(state), "VSEQ_CONSDB_URL": consdb_url}
    figure_server.stop(state)
    stop_embedded_database(state)


def embedded_instance(state: Path, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    """The instance ``vseq-nightly`` made in the embedded server (the variable is set only now:
    set before, it would reach the next ``vseq-nightly`` as a configured storage)."""
    url = f"postgresql+psycopg2://postgres@/dagster?host={state / 'pgdata'}"
    monkeypatch.setenv("VSEQ_DAGSTER_PG_URL", url)
    return DagsterInstance.from_config(str(state / "dagster_home"))


def postmaster_pid(state: Path) -> int:
    return int((state / "pgdata" / "postmaster.pid").read_text().split()[0])


def completed_rows(state: Path, night: str) -> int:
    """Completed sequences of ``night`` in the embedded archive."""
    import sqlalchemy as sa

    from vseq_resources.embedded import embedded_database_url

    engine = sa.create_engine(embedded_database_url(state))
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM vsmd.completed WHERE first_day_obs = :n"
            return conn.execute(sa.text(query), {"n": night}).scalar_one()
    finally:
        engine.dispose()


def _completed_night_paused_before_upload(env: dict[str, str], tmp_path: Path) -> Paused:
    """``vseq-nightly`` archiving the completed night, paused before its upload (a database
    fault can then be made while the run holds its connections)."""
    return start_paused(
        nightly("--telescope", "simonyi", "--no-prenight"), "before_upload", tmp_path / "marker", env=env
    )


@pytest.mark.timeout(900)
def test_database_restart_during_a_run_is_absorbed(
    embedded_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vseq_resources.embedded import embedded_database_url, stop_embedded_database

    state = Path(embedded_env["VSEQ_STATE_DIR"])
    paused = _completed_night_paused_before_upload(embedded_env, tmp_path)
    before = postmaster_pid(state)
    stop_embedded_database(state)
    embedded_database_url(state)  # started again: every connection of the run's process is dead
    assert postmaster_pid(state) != before
    paused.marker.unlink()
    paused.process.wait(timeout=600)
    err = paused.marker.with_suffix(".log").read_text()
    assert paused.process.returncode == 0, err[-4000:]
    assert "Traceback (most recent call last)" not in err
    assert f"simonyi {NIGHT}: OK" in err  # start_paused sends stdout to the log too
    instance = embedded_instance(state, monkeypatch)
    try:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
    finally:
        instance.dispose()
    assert completed_rows(state, NIGHT) == 1


@pytest.mark.full  # a minute of Dagster's connection retries
@pytest.mark.timeout(900)
def test_database_down_during_a_run_ends_with_a_summary(
    embedded_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vseq_resources.embedded import embedded_database_url, stop_embedded_database

    state = Path(embedded_env["VSEQ_STATE_DIR"])
    paused = _completed_night_paused_before_upload(embedded_env, tmp_path)
    stop_embedded_database(state)
    paused.marker.unlink()
    start = time.monotonic()
    paused.process.wait(timeout=600)
    took = time.monotonic() - start
    text = paused.marker.with_suffix(".log").read_text()
    assert paused.process.returncode == 1, text[-4000:]
    assert "Traceback (most recent call last)" not in text
    summary = text[text.index(f"simonyi {NIGHT}: FAILED (Dagster run ") :].splitlines()
    error = [line for line in summary if line.startswith("  error     ")]
    assert len(error) == 1, summary
    assert "the run stopped outside its steps" in error[0] or "step simonyi__completed" in error[0]
    assert "connection" in error[0]

    # Back up: the next vseq-nightly settles the run left behind and archives the night once.
    embedded_database_url(state)
    again = run_nightly(embedded_env, "--telescope", "simonyi", "--no-prenight")
    assert again.returncode == 0, again.stderr[-4000:]
    assert f"simonyi {NIGHT}: OK" in again.stdout
    instance = embedded_instance(state, monkeypatch)
    try:
        statuses = sorted(run.status.value for run in instance.get_runs())
        assert statuses == ["FAILURE", "SUCCESS"]
    finally:
        instance.dispose()
    assert completed_rows(state, NIGHT) == 1
    print(f"failed {took:.0f} s after the server stopped: {error[0].strip()}")


# -- concurrent first runs (issue 19 point 6) --------------------------------------------------------


@pytest.mark.timeout(1800)
def test_concurrent_first_runs_on_a_fresh_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ``vseq-nightly`` started together on a fresh state directory with nothing configured:
    the embedded server, the ``consdb`` and ``dagster`` databases, the simulated ConsDB night and
    Dagster's pools are set up once, both runs succeed, and the night is archived once."""
    from vseq_resources.embedded import stop_embedded_database

    for name in ("VSEQ_DATABASE_URL", "VSARCHIVE_PGSCHEMA", "VSEQ_ARCHIVE_URI", "VSEQ_DAGSTER_PG_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VSEQ_CONSDB_URL", raising=False)
    monkeypatch.delenv("VSEQ_CONSDB_REST_URL", raising=False)
    state = tmp_path / "state"
    env = {"VSEQ_STATE_DIR": str(state)}
    args = ("--telescope", "auxtel", "--nights", "1", "--no-prenight")
    try:
        processes = [start_nightly(env, tmp_path / f"{i}.log", *args) for i in range(2)]
        codes = [process.wait(timeout=1200) for process in processes]
        logs = [(tmp_path / f"{i}.log").read_text() for i in range(2)]
        assert codes == [0, 0], "\n----\n".join(log[-3000:] for log in logs)
        for log in logs:
            assert f"auxtel {NIGHT}: OK" in log
            assert "Traceback (most recent call last)" not in log
        # They overlapped: one waited while the other set up, then found everything done.
        (waited,) = [log for log in logs if "to finish setting up" in log]
        (first,) = [log for log in logs if log is not waited]
        assert "simulating the night with rubin_scheduler" in first
        assert "already in the local ConsDB" in waited
        assert completed_rows(state, NIGHT) == 1
    finally:
        figure_server.stop(state)  # started by vseq-nightly for the UI, kept after it
        stop_embedded_database(state)


def test_finish_run_keeps_the_end_its_events_recorded(dagster_instance_home: Path) -> None:
    """A run whose end event was stored but whose status update was lost (the database went away
    between the two writes) gets the status of its events; a run with no end event fails."""
    from dagster import DagsterEventType, job, op

    from vseq_assets.dagster_instance import finish_run

    @op
    def nothing() -> None:
        return None

    @job
    def tiny() -> None:
        nothing()

    with DagsterInstance.get() as instance:
        result = tiny.execute_in_process(instance=instance)
        (start,) = [e for e in result.all_events if e.event_type == DagsterEventType.RUN_START]
        instance.run_storage.handle_run_event(result.run_id, start)  # the status update "lost"
        assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.STARTED
        run = instance.get_run_by_id(result.run_id)
        assert finish_run(instance, run, "Stopped.") == DagsterRunStatus.SUCCESS

        never_ended = instance.create_run_for_job(tiny)
        assert finish_run(instance, never_ended, "Stopped.") == DagsterRunStatus.FAILURE
