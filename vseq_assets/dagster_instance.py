"""The Dagster instance as vseq runs it: whose process a run is, dead runs failed, pool waits that
say what they wait for and stop on Ctrl-C.

Dagster 1.13 leaves three things to the deployment when runs execute in process (``vseq-nightly``,
and every run worker of the default run launcher):

- **A killed run keeps its pool slots.** A run whose process dies (``SIGKILL``, a crash, a reboot)
  stays ``STARTED`` and keeps every slot it claimed (``rubin_scheduler`` has 1): later runs wait
  for it forever. Run monitoring cannot see the death of an in-process run (the default run
  launcher has no worker health check). So each run ``vseq-nightly`` launches carries the host,
  pid and process start time of its process (:func:`process_tags`), and :func:`fail_dead_runs`
  reports a run failed and frees its slots once that process is gone: ``vseq-nightly`` calls it
  at start, and a step waiting for a slot calls it on the holders of the slot.
- **A step waiting for a slot is silent, spins at 100 % CPU and ignores Ctrl-C/SIGTERM.** The
  in-process executor polls without sleeping (``interval_to_next_pending_claim_check`` never
  returns a positive interval) and only looks at a captured interrupt inside a step.
  :class:`PoolWaitingEventLogStorage` (configured in ``dagster.yaml``) makes a blocked claim
  wait for :data:`WAIT_POLL_SECONDS` itself, says which pool it waits for and which runs hold it
  (log line and run event), and raises ``DagsterExecutionInterruptedError`` on Ctrl-C/SIGTERM, so
  the run ends failed with its pending claim removed.
- **Pooled storage connections are not checked before use** (``optimize_for_webserver``, which
  ``vseq-nightly`` uses to keep connections): :func:`ping_on_checkout` makes the pool replace a
  connection that a database restart closed, instead of failing the storage call.

When a run's execution raises instead of ending (its storage went away under it), Dagster leaves
it ``STARTED``: :func:`settle_stopped_run` ends it (:func:`finish_run`) and says why in one line,
and :func:`run_error` names the failed step of a failed run, for ``vseq-nightly``'s summary.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from dagster import (
    DagsterEventType,
    DagsterExecutionInterruptedError,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
)
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

log = logging.getLogger(__name__)

LAUNCHED_BY_TAG = "vseq/launched_by"
PROCESS_TAG = "vseq/process"
"""``<host> <pid> <start>``: the process that executes the run in process (``<start>``: its start
time in clock ticks after boot, from ``/proc``, so that a reused pid is not taken for it)."""
WAIT_POLL_SECONDS = 1.0
"""How long a blocked slot claim waits before Dagster asks again (interrupts are seen within 0.1 s)."""
HOLDER_CHECK_SECONDS = 30.0
"""How often a waiting step checks whether the runs holding its pool are still alive."""
UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


# -- whose process a run is ------------------------------------------------------------------------


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks after boot), or None where ``/proc`` is missing."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # Field 22; the command name (field 2) may hold spaces, so count after its ')'.
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_tags() -> dict[str, str]:
    """Tags naming this process, for a run it executes in process."""
    pid = os.getpid()
    return {PROCESS_TAG: f"{socket.gethostname()} {pid} {_start_ticks(pid) or '-'}"}


def process_alive(tags: Mapping[str, str]) -> bool | None:
    """Whether the process named by a run's :data:`PROCESS_TAG` still runs; None when unknown
    (no tag, or another host)."""
    try:
        host, pid_text, start = tags[PROCESS_TAG].split()
        pid = int(pid_text)
    except (KeyError, ValueError):
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return start == "-" or _start_ticks(pid) in (start, None)


@dataclass(frozen=True)
class DeadRun:
    """A run whose process was gone, now reported failed, and the pools whose slots it held."""

    run_id: str
    job_name: str
    partition: str | None
    process: str
    pools: tuple[str, ...]

    def describe(self) -> str:
        night = f" {self.partition}" if self.partition else ""
        freed = f"; freed its slot(s) in pool(s) {', '.join(self.pools)}" if self.pools else ""
        return (
            f"run {self.run_id[:8]} ({self.job_name}{night}) was left unfinished by a process that "
            f"is gone (host, pid, start: {self.process}): marked failed{freed}"
        )


def held_pools(instance: DagsterInstance, run_ids: Iterable[str]) -> dict[str, list[str]]:
    """Run id -> pools in which it holds a slot or has a step waiting."""
    storage = instance.event_log_storage
    wanted = set(run_ids)
    held: dict[str, list[str]] = {run_id: [] for run_id in wanted}
    if not wanted or not storage.supports_global_concurrency_limits:
        return held
    for key, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        holders = {slot.run_id for slot in info.claimed_slots} | {s.run_id for s in info.pending_steps}
        for run_id in holders & wanted:
            held[run_id].append(key)
    return held


def fail_dead_runs(instance: DagsterInstance, run_ids: Iterable[str] | None = None) -> list[DeadRun]:
    """Report failed every unfinished run (of ``run_ids``, else all) whose process is gone, and free
    its pool slots and pending claims. Runs of other hosts or without a process tag are left alone."""
    filters = RunsFilter(statuses=UNFINISHED, run_ids=list(run_ids) if run_ids is not None else None)
    dead = [run for run in instance.get_runs(filters=filters) if process_alive(run.tags) is False]
    if not dead:
        return []
    pools = held_pools(instance, (run.run_id for run in dead))
    found = []
    for run in dead:
        gone = DeadRun(
            run.run_id,
            run.job_name,
            run.tags.get("dagster/partition"),
            run.tags[PROCESS_TAG],
            tuple(pools[run.run_id]),
        )
        finish_run(instance, run, f"Its process is gone (host, pid, start: {gone.process}).")
        log.warning("%s", gone.describe())
        found.append(gone)
    return found


TERMINAL_EVENTS = {DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED}


def finish_run(instance: DagsterInstance, run: DagsterRun, reason: str) -> DagsterRunStatus:
    """End an unfinished run whose execution stopped (its process died, or the storage failed under
    it) and free its pool slots; returns its final status.

    A run whose own end event was stored but whose status was not (the database went away between
    the two writes) gets the status of that event; any other run is reported failed with ``reason``.
    """
    (last,) = instance.event_log_storage.get_logs_for_run(
        run.run_id, of_type=TERMINAL_EVENTS, limit=1, ascending=False
    ) or (None,)
    if last is not None and last.dagster_event is not None:
        instance.run_storage.handle_run_event(run.run_id, last.dagster_event)
    else:
        instance.report_run_failed(run, f"{reason} Marked failed by vseq.")
    # Dagster frees the slots of a finished run only in its daemon, after
    # run_monitoring.free_slots_after_run_end_seconds: free them now.
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return instance.get_run_by_id(run.run_id).status


# -- how a run ended ---------------------------------------------------------------------------------


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run (Dagster ended it failed); carries its run id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


INTERRUPTIONS = frozenset({"DagsterExecutionInterruptedError", "KeyboardInterrupt"})


def interrupted(result: Any) -> bool:
    """Whether Ctrl-C/SIGTERM ended a run (in a step, or while it waited for a slot)."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None and error.cls_name in INTERRUPTIONS:
            return True
    return False


@dataclass
class StoppedRun:
    """Stands for the result of a run whose execution raised instead of ending (nothing of it is
    known here but its id and why it stopped)."""

    run_id: str
    stopped: str
    success: bool = False
    all_events: tuple = ()

    def get_asset_materialization_events(self) -> list:
        return []

    def get_asset_check_evaluations(self) -> list:
        return []


def error_chain(err: BaseException, depth: int = 3) -> str:
    """``Type: first line`` of an error and of what caused it, on one line."""
    parts: list[str] = []
    seen: BaseException | None = err
    while seen is not None and len(parts) < depth:
        lines = str(seen).strip().splitlines()
        first = lines[0] if lines else ""
        if not parts or first not in parts[-1]:  # SQLAlchemy repeats the driver's message
            parts.append(f"{type(seen).__name__}: {first}".strip())
        seen = seen.__cause__ or seen.__context__
    return "; caused by ".join(parts)


def settle_stopped_run(instance: Any, run_id: str, err: BaseException) -> str:
    """End a run whose execution raised (its status would stay STARTED) and say why it stopped."""
    from vseq_assets.dagster_instance import finish_run

    cause = error_chain(err)
    try:
        run = instance.get_run_by_id(run_id)
        if run is None:
            state = "the run was never recorded"
        elif run.is_finished:
            state = f"Dagster records the run as {run.status.value}"
        else:
            status = finish_run(instance, run, f"Its execution stopped: {cause}.")
            state = f"Dagster records the run as {status.value}"
    except Exception:  # the storage is still out of reach
        state = "its run is left unfinished; the next vseq-nightly marks it failed"
    return f"the run stopped outside its steps: {cause} ({state})"


def run_error(result: Any) -> str | None:
    """Why a run failed, naming the failed step: the ``error`` line of its summary."""
    if result.success:
        return None
    if isinstance(result, StoppedRun):
        return result.stopped
    for event in result.all_events:
        if event.is_step_failure:
            return f"step {event.step_key} failed: {str(event.step_failure_data.error.message).strip()}"
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None) if event.is_run_failure else None
        if error is not None:  # raised outside the steps
            return f"the run failed outside its steps: {error.message.strip().splitlines()[0]}"
    return "the run failed"


# -- storage ------------------------------------------------------------------------------------------


def _ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool ``checkout`` listener: a connection the server closed is replaced (SQLAlchemy retries
    the checkout with a new connection on ``DisconnectionError``)."""
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as err:  # psycopg2 OperationalError/InterfaceError: closed or broken
        raise sa.exc.DisconnectionError(str(err)) from err


def ping_on_checkout(engine: sa.Engine) -> None:
    """Check each pooled connection of ``engine`` before use (SQLAlchemy's ``pool_pre_ping``, for an
    engine made without it)."""
    if not sa.event.contains(engine, "checkout", _ping):
        sa.event.listen(engine, "checkout", _ping)


class PoolWaitingEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres' event log storage whose blocked slot claims wait, report and can be
    interrupted (see the module docstring). Configured as ``event_log_storage`` in ``dagster.yaml``
    with the same config as ``PostgresEventLogStorage``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waits: dict[tuple[str, str], _Wait] = {}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> PoolWaitingEventLogStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> Any:
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        wait = self._waits.get((run_id, step_key))
        if status.is_claimed:
            if wait is not None:
                del self._waits[(run_id, step_key)]
                log.warning(
                    "step %s of run %s got a slot of pool %r after %.0f s",
                    step_key, run_id[:8], concurrency_key, time.monotonic() - wait.since,
                )  # fmt: skip
            return status
        if wait is None:
            wait = self._waits[(run_id, step_key)] = _Wait(time.monotonic())
        self._report_wait(wait, concurrency_key, run_id, step_key)
        _sleep_unless_interrupted(WAIT_POLL_SECONDS, concurrency_key)
        # Ask again as soon as Dagster's loop comes back: the waiting happened here.
        return status.with_sleep_interval(0.0)

    def _report_wait(self, wait: _Wait, key: str, run_id: str, step_key: str) -> None:
        now = time.monotonic()
        info = self.get_concurrency_info(key)
        holders = sorted({slot.run_id for slot in info.claimed_slots if slot.run_id != run_id})
        if holders and now - wait.checked >= HOLDER_CHECK_SECONDS:
            wait.checked = now
            if fail_dead_runs(self._instance, holders):
                return  # their slots are free: the next claim gets one
        if holders == wait.holders:
            return
        wait.holders = holders
        message = (
            f"step {step_key} waits for a slot of pool {key!r} (limit {info.limit}), "
            f"held by {_describe_runs(self._instance, holders) or 'no run (queued claims first)'}; "
            "Ctrl-C stops this run"
        )
        log.warning("run %s: %s", run_id[:8], message)
        run = self._instance.get_run_by_id(run_id)
        if run is not None:
            self._instance.report_engine_event(message, run)


@dataclass
class _Wait:
    since: float
    checked: float = float("-inf")
    holders: list[str] | None = None


def _describe_runs(instance: DagsterInstance, run_ids: list[str]) -> str:
    parts = []
    for run_id in run_ids:
        run: DagsterRun | None = instance.get_run_by_id(run_id)
        if run is None:
            parts.append(f"run {run_id[:8]} (deleted)")
            continue
        partition = run.tags.get("dagster/partition")
        process = run.tags.get(PROCESS_TAG)
        where = f", process {process.split()[1]} on {process.split()[0]}" if process else ""
        parts.append(
            f"run {run_id[:8]} ({run.job_name}{' ' + partition if partition else ''}, "
            f"{run.status.value}{where})"
        )
    return ", ".join(parts)


def _sleep_unless_interrupted(seconds: float, key: str) -> None:
    # Dagster captures SIGINT/SIGTERM during a run and looks at them only inside steps; its
    # captured flag has no public accessor (dagster._utils.interrupts), hence the private import.
    # Taken (popped), so that the teardown of the run's resources is not interrupted too.
    from dagster._utils.interrupts import pop_captured_interrupt

    deadline = time.monotonic() + seconds
    while True:
        if pop_captured_interrupt():
            raise DagsterExecutionInterruptedError(f"interrupted while waiting for a slot of pool {key!r}")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))
