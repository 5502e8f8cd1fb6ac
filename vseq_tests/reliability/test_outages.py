"""The store or the database goes away in the middle of a write, then comes back.

Each fault is applied while the write is held at a named pause point (``vseq_resources.faults``)
or while the step waits for its Dagster retry, and each test asserts on what the fault caused
(the error raised, the failed request that was retried, the error the retried step failed with),
so that none can pass with the fault missing the operation.

- S3 stopped (``s3_server.stop()``) just before ``visits.h5`` is stored, until a request of the
  store layer has failed: its own retries absorb the outage;
- S3 stopped after ``visits.h5`` is stored, before the side files;
- the metadata database (an embedded server in a temporary directory) stopped before the
  transaction;
- the writer's connection terminated (``pg_terminate_backend``) inside the transaction, before
  the commit.

Each time: one clear ``VseqError``, no row written, at most the files the rollback could not
remove (reported by ``verify`` and removed by ``--repair``), and the same write succeeds once the
service is back. The Dagster step retries transient failures (``ARCHIVE_RETRY_POLICY``) and so
succeeds on its own when the service comes back during the retries.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, materialize

from vseq_assets.completed import completed_sequence_assets
from vseq_assets.consdb import consdb_visits_asset
from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.dagster_resources import ArchiveResource, SqlConsDBResource
from vseq_resources.embedded import embedded_database_url, stop_embedded_database
from vseq_resources.errors import DatabaseUnavailableError, StoreError
from vseq_resources.store import ArchiveStore
from vseq_tests.reliability.conftest import BACKFILL_NIGHTS, visits_of
from vseq_tests.reliability.dagster_job import FAST_RETRIES
from vseq_tests.reliability.support import (
    open_archive,
    row_counts,
    small_visits,
    store_listing,
    terminate_writer,
    wait_for,
)

NIGHT = BACKFILL_NIGHTS[1]
SIDE_FILES = {"scheduler.py": b"def get_scheduler():\n    ...\n", "notes.txt": b"outage\n"}


def _record(archive: VisitSequenceArchive, label: str = "written during an outage"):  # type: ignore[no-untyped-def]
    return archive.record_sequence(
        "simulations",
        small_visits("2026-04-11", 50),
        label=label,
        telescope="simonyi",
        files=SIDE_FILES,
        tags=["prenight"],
        comments=["outage test"],
    )


def _paused_write(
    archive: VisitSequenceArchive, point: str, marker: Path, monkeypatch: pytest.MonkeyPatch, outage
) -> BaseException:  # type: ignore[no-untyped-def]
    """Record in a thread paused at ``point``, call ``outage()``, let it go on; its error."""
    monkeypatch.setenv("VSEQ_FAULT_PAUSE", point)
    monkeypatch.setenv("VSEQ_FAULT_MARKER", str(marker))
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(_record, archive)
        wait_for(marker)
        outage()
        marker.unlink()
        error = future.exception(timeout=600)
    monkeypatch.delenv("VSEQ_FAULT_PAUSE")
    assert error is not None, "the write succeeded despite the outage"
    return error


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def _materialize(archive: ArchiveResource, consdb_url: str, night: str = NIGHT, instance=None):  # type: ignore[no-untyped-def]
    return materialize(
        [
            consdb_visits_asset("simonyi"),
            completed_sequence_assets("simonyi", retry_policy=FAST_RETRIES),
        ],
        partition_key=night,
        resources={"archive": archive, "consdb": SqlConsDBResource(url=consdb_url)},
        raise_on_error=False,
        instance=instance,
    )


def _after_first_retry(instance: DagsterInstance, action) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Run ``action`` once the run's step has failed and is waiting for its retry."""

    def watch() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            runs = instance.get_runs()
            if runs and instance.all_logs(runs[0].run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY):
                break
            time.sleep(0.1)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _retries(result) -> int:  # type: ignore[no-untyped-def]
    return sum(e.event_type == DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)


def _retried_errors(result) -> list[str]:  # type: ignore[no-untyped-def]
    """What each step that was retried had failed with (the whole chain of causes)."""
    return [
        e.event_specific_data.error.to_string()
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY
    ]


def _checks_passed(result) -> bool:  # type: ignore[no-untyped-def]
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    blocking = {"visits_file_reads_back", "metadata_row_points_at_visits"}
    return blocking <= set(evaluations) and all(evaluations.values())


# -- the store ------------------------------------------------------------------------------------


@pytest.mark.full  # about 45 s: the store layer retries for up to 60 s
def test_store_stops_mid_write(
    s3_server,
    s3_archive: VisitSequenceArchive,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts, files = row_counts(s3_archive), store_listing(s3_archive)
    try:
        error = _paused_write(
            s3_archive, "after_visits_upload", tmp_path / "marker", monkeypatch, s3_server.stop
        )
    finally:
        s3_server.start_again()
    assert isinstance(error, StoreError), repr(error)
    assert _one_line(error).startswith("could not store s3://")
    assert row_counts(s3_archive) == counts
    # visits.h5 was stored before the outage and could not be removed while S3 was down.
    report = s3_archive.verify(grace=dt.timedelta(0))
    assert not report.missing and not report.corrupt
    assert len(report.orphans) == 1 and report.orphans[0].endswith("/visits.h5")
    s3_archive.verify(repair=True, grace=dt.timedelta(0))
    assert store_listing(s3_archive) == files
    _record(s3_archive, "after the store came back")
    assert s3_archive.verify(grace=dt.timedelta(0)).ok


def test_short_store_outage_absorbed(
    s3_server,
    pg_url: str,
    db_schema: str,  # type: ignore[no-untyped-def]
    s3_base: str,
    consdb_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3 stops just as the step starts storing ``visits.h5`` and comes back once a request of the
    store layer has failed: its own retries (botocore and lsst.resources, up to about 60 s)
    carry the write through without a Dagster retry; one sequence, checks pass."""
    resource = ArchiveResource(database_url=pg_url, db_schema=db_schema, archive_uri=s3_base, migrate=True)
    failed_requests: list[str] = []
    request_failed = threading.Event()

    def on_retry(caught_exception: BaseException | None = None, **_: object) -> None:
        if caught_exception is not None:  # no answer at all: the server is down
            failed_requests.append(type(caught_exception).__name__)
            request_failed.set()

    # lsst.resources shares one client per endpoint: the store layer's requests go through it.
    client = ArchiveStore(s3_base).base.client
    client.meta.events.register("needs-retry.s3", on_retry)
    marker = tmp_path / "marker"
    monkeypatch.setenv("VSEQ_FAULT_PAUSE", "before_upload")
    monkeypatch.setenv("VSEQ_FAULT_MARKER", str(marker))

    def outage() -> None:
        wait_for(marker)  # the step holds at its first upload
        s3_server.stop()
        marker.unlink()
        request_failed.wait(120)
        s3_server.start_again()

    fault = threading.Thread(target=outage, daemon=True)
    fault.start()
    try:
        result = _materialize(resource, consdb_url)
        fault.join()
    finally:
        client.meta.events.unregister("needs-retry.s3", on_retry)
        if s3_server.process.poll() is not None:
            s3_server.start_again()
    assert failed_requests, "no request of the store layer failed: the outage missed the write"
    assert result.success
    assert _retries(result) == 0  # absorbed by the store layer, not by Dagster
    assert _checks_passed(result)
    _one_completed_sequence(resource)


@pytest.mark.full  # about 2 minutes
def test_long_store_outage_dagster_retries(
    s3_server,
    pg_url: str,
    db_schema: str,  # type: ignore[no-untyped-def]
    s3_base: str,
    consdb_url: str,
    tmp_path: Path,
) -> None:
    """S3 down longer than the store layer retries: the step fails with a transient StoreError,
    Dagster retries it (RetryPolicy with backoff), S3 comes back, the retry succeeds."""
    resource = ArchiveResource(database_url=pg_url, db_schema=db_schema, archive_uri=s3_base, migrate=True)
    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster"))
    s3_server.stop()
    try:
        restart = _after_first_retry(instance, s3_server.start_again)
        result = _materialize(resource, consdb_url, instance=instance)
        restart.join()
    finally:
        if s3_server.process.poll() is not None:
            s3_server.start_again()
    assert result.success
    assert _retries(result) >= 1
    assert all("StoreError" in error and "s3://" in error for error in _retried_errors(result))
    assert _checks_passed(result)
    _one_completed_sequence(resource)


def _one_completed_sequence(resource: ArchiveResource) -> None:
    archive = resource.open()
    try:
        (row,) = archive.find_sequences("completed", telescope="simonyi")
        assert len(archive.get_visits(row["visitseq_uuid"])) == visits_of(NIGHT)
        assert archive.verify(grace=dt.timedelta(0)).ok
    finally:
        archive.metadata.close()


# -- the database ---------------------------------------------------------------------------------


@pytest.fixture
def embedded_state(tmp_path: Path) -> Iterator[Path]:
    """A state directory whose embedded PostgreSQL server this test may stop and restart."""
    state = Path(tmp_path / "state")
    embedded_database_url(state)
    yield state
    stop_embedded_database(state)


def test_database_stops_before_the_transaction(
    embedded_state: Path, file_base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = embedded_database_url(embedded_state)
    archive = open_archive(url, "vsmd_test", file_base, create=True)
    counts, files = row_counts(archive), store_listing(archive)
    error = _paused_write(
        archive,
        "before_transaction",
        tmp_path / "marker",
        monkeypatch,
        lambda: stop_embedded_database(embedded_state),
    )
    assert isinstance(error, DatabaseUnavailableError), repr(error)
    assert "cannot reach the metadata database" in _one_line(error)
    embedded_database_url(embedded_state)
    assert row_counts(archive) == counts
    # The rollback could not ask the database whether a row vouched for the files: they stay,
    # as orphans that verify reports (removing a file a committed row might name is worse).
    report = archive.verify(grace=dt.timedelta(0))
    assert not report.missing and len(report.orphans) == 3
    archive.verify(repair=True, grace=dt.timedelta(0))
    assert store_listing(archive) == files
    _record(archive, "after the database came back")
    assert archive.verify(grace=dt.timedelta(0)).ok
    archive.metadata.close()


def test_database_down_then_back_during_dagster_retries(
    embedded_state: Path, file_base: str, consdb_url: str, tmp_path: Path
) -> None:
    url = embedded_database_url(embedded_state)
    resource = ArchiveResource(database_url=url, db_schema="vsmd_test", archive_uri=file_base, migrate=True)
    resource.open().metadata.close()  # migrated
    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster"))
    stop_embedded_database(embedded_state)
    restart = _after_first_retry(instance, lambda: embedded_database_url(embedded_state))
    result = _materialize(resource, consdb_url, instance=instance)
    restart.join()
    assert result.success
    assert _retries(result) >= 1
    # Opening the archive (its migration check) met the stopped server.
    assert all("connection to server" in error for error in _retried_errors(result))
    assert _checks_passed(result)
    archive = resource.open()
    try:
        assert len(archive.find_sequences("completed", telescope="simonyi")) == 1
        assert archive.verify(grace=dt.timedelta(0)).ok
    finally:
        archive.metadata.close()


def test_connection_dropped_inside_the_transaction(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts, files = row_counts(file_archive), store_listing(file_archive)
    error = _paused_write(
        file_archive,
        "in_transaction",
        tmp_path / "marker",
        monkeypatch,
        lambda: terminate_writer(pg_url, file_archive.metadata.schema),
    )
    assert isinstance(error, DatabaseUnavailableError), repr(error)
    assert "lost the connection to the metadata database" in _one_line(error)
    # The database answered again at once, so the rollback removed every file it had written.
    assert row_counts(file_archive) == counts
    assert store_listing(file_archive) == files
    assert file_archive.verify(grace=dt.timedelta(0)).ok
    _record(file_archive, "after the connection was dropped")


def test_connection_dropped_dagster_step_retried(
    pg_url: str,
    db_schema: str,
    file_base: str,
    consdb_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resource = ArchiveResource(database_url=pg_url, db_schema=db_schema, archive_uri=file_base, migrate=True)
    marker = tmp_path / "marker"
    monkeypatch.setenv("VSEQ_FAULT_PAUSE", "in_transaction")
    monkeypatch.setenv("VSEQ_FAULT_MARKER", str(marker))

    def drop() -> None:
        wait_for(marker)
        terminate_writer(pg_url, db_schema)
        marker.unlink()

    dropper = threading.Thread(target=drop, daemon=True)
    dropper.start()
    result = _materialize(resource, consdb_url)
    dropper.join()
    assert result.success
    assert _retries(result) == 1
    assert "lost the connection to the metadata database" in _retried_errors(result)[0]
    assert _checks_passed(result)
    archive = resource.open()
    try:
        assert len(archive.find_sequences("completed", telescope="simonyi")) == 1
        report = archive.verify(grace=dt.timedelta(0))
        assert report.ok and not report.orphans and not report.young_orphans
    finally:
        archive.metadata.close()
