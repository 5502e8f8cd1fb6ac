"""Materialize completed nights for real: ConsDB (SQL and REST) -> archive, with the checks."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import AssetCheckSeverity, DagsterEventType, EnvVar

from vseq_resources.consdb.local import fill_nights
from vseq_resources.dagster_resources import ArchiveResource, RestConsDBResource, SqlConsDBResource
from vseq_resources.dayobs import dayobs_of, today_dayobs
from vseq_resources.visits import read_visits_h5
from vseq_tests.assets.conftest import EMPTY_NIGHT, LATISS_VISITS, LSSTCAM_VISITS, NIGHT, REST_TOKEN
from vseq_tests.assets.helpers import check_results, links_a_browser_refuses, materialize_night, materialized
from vseq_tests.resources.consdb.synthetic import synthetic_night
from vseq_tests.tamper import plant_payload


def _completed_rows(archive: ArchiveResource, telescope: str, night: str) -> list[dict]:
    vsa = archive.open()
    try:
        return vsa.find_sequences("completed", telescope=telescope, first_day_obs=night, last_day_obs=night)
    finally:
        vsa.metadata.close()


def test_normal_night(archive_resource: ArchiveResource, consdb_url: str) -> None:
    resources = {"archive": archive_resource, "consdb": SqlConsDBResource(url=consdb_url)}
    result = materialize_night("simonyi", NIGHT, resources)
    assert result.success

    visits_md = materialized(result, "simonyi", "completed_visits")
    row_md = materialized(result, "simonyi", "completed_metadata")
    consdb_md = materialized(result, "simonyi", "consdb_visits")
    assert visits_md["uuid"] == row_md["uuid"]
    assert visits_md["visit_count"] == LSSTCAM_VISITS == consdb_md["visit_count"]
    assert visits_md["new_sequence"] is True
    created = dt.datetime.fromtimestamp(row_md["creation_time"], dt.UTC)
    creation_dayobs = dayobs_of(created).isoformat()
    assert visits_md["url"].endswith(f"/simonyi/{creation_dayobs}/{visits_md['uuid']}/visits.h5")
    assert links_a_browser_refuses(result) == []  # the file:// store's URLs shown as paths
    assert set(visits_md["bands"].replace(" ", "").split(",")) >= {"g:50", "r:50", "i:20"}
    assert visits_md["first_visit_time"] < visits_md["last_visit_time"]
    assert len(visits_md["preview"].records) == 8

    checks = check_results(result)
    assert checks["visits_file_reads_back"].passed, checks["visits_file_reads_back"].description
    assert checks["metadata_row_points_at_visits"].passed

    rows = _completed_rows(archive_resource, "simonyi", NIGHT)
    assert [str(r["visitseq_uuid"]) for r in rows] == [visits_md["uuid"]]
    row = rows[0]
    assert row["first_day_obs"] == row["last_day_obs"] == dt.date(2025, 10, 16)
    assert "v.day_obs = 20251016" in row["query"] and "cdb_lsstcam.visit1" in row["query"]
    visits = read_visits_h5(row["visitseq_url"])
    assert len(visits) == LSSTCAM_VISITS
    assert visits["observationStartMJD"].is_monotonic_increasing

    vsa = archive_resource.open()
    try:
        stats = vsa.metadata.query_nightly_stats(row["visitseq_uuid"])
    finally:
        vsa.metadata.close()
    nightly = stats[(stats["value_name"] == "altitude") & ~stats["accumulated"]]
    assert int(nightly["count"].iloc[0]) == LSSTCAM_VISITS
    assert {"airmass", "seeingFwhmEff", "fiveSigmaDepth"} <= set(stats["value_name"])


def test_empty_night_is_archived_with_a_warning(archive_resource: ArchiveResource, consdb_url: str) -> None:
    resources = {"archive": archive_resource, "consdb": SqlConsDBResource(url=consdb_url)}
    result = materialize_night("simonyi", EMPTY_NIGHT, resources)
    assert result.success
    visits_md = materialized(result, "simonyi", "completed_visits")
    assert visits_md["visit_count"] == 0
    assert visits_md["bands"] == "none"
    assert visits_md["empty_night"] is True
    assert "20 exposure(s) of day_obs 20251017" in visits_md["empty_night_reason"]
    assert materialized(result, "simonyi", "completed_metadata")["empty_night"] is True
    consdb_md = materialized(result, "simonyi", "consdb_visits")
    assert consdb_md["empty_night"] is True and consdb_md["consdb_exposures"] == 20
    checks = check_results(result)
    warning = checks["night_has_visits"]
    assert not warning.passed and warning.severity == AssetCheckSeverity.WARN
    assert warning.description.startswith("empty night: ConsDB has 20 exposure(s)")
    assert checks["visits_file_reads_back"].passed and checks["metadata_row_points_at_visits"].passed
    (row,) = _completed_rows(archive_resource, "simonyi", EMPTY_NIGHT)
    assert row["first_day_obs"] == row["last_day_obs"] == dt.date(2025, 10, 17)
    assert len(read_visits_h5(row["visitseq_url"])) == 0
    vsa = archive_resource.open()
    try:
        (comment,) = vsa.metadata.get_comments(row["visitseq_uuid"])["comment"]
    finally:
        vsa.metadata.close()
    assert "empty night: ConsDB has 20 exposure(s)" in comment


def test_night_consdb_has_not_ingested_is_retried_then_fails(
    archive_resource: ArchiveResource, consdb_url: str
) -> None:
    # Nothing in the test ConsDB is that recent: no exposure of the night or after.
    night = (today_dayobs() - dt.timedelta(days=2)).isoformat()
    resources = {"archive": archive_resource, "consdb": SqlConsDBResource(url=consdb_url)}
    result = materialize_night(
        "simonyi",
        night,
        resources,
        raise_on_error=False,
        not_ingested_retries=2,
        not_ingested_wait_seconds=0,
    )
    assert not result.success
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 2
    failure = result.failure_data_for_node("simonyi__consdb_visits")
    assert failure is not None
    message = failure.user_failure_data.description
    assert "\n" not in message
    assert f"has not ingested day_obs {night.replace('-', '')} (lsstcam)" in message
    assert f"(tried 3 times): nothing archived; materialize partition {night} again once ConsDB has it" in (
        message
    )
    assert _completed_rows(archive_resource, "simonyi", night) == []


def test_rerun_same_content_then_changed_content(
    archive_resource: ArchiveResource, consdb_url: str, consdb_engine: sa.Engine
) -> None:
    night = "2025-10-20"
    fill_nights(consdb_engine, "lsstcam", synthetic_night(night, 40, seed=5))
    resources = {"archive": archive_resource, "consdb": SqlConsDBResource(url=consdb_url)}

    first = materialized(materialize_night("simonyi", night, resources), "simonyi", "completed_metadata")
    again = materialize_night("simonyi", night, resources)
    second = materialized(again, "simonyi", "completed_metadata")
    assert second["uuid"] == first["uuid"]
    assert second["new_sequence"] is False
    assert second["status"].startswith("unchanged")
    assert all(check.passed for check in check_results(again).values())
    assert len(_completed_rows(archive_resource, "simonyi", night)) == 1

    # The night is re-processed: one visit fewer, in ConsDB.
    fill_nights(consdb_engine, "lsstcam", synthetic_night(night, 39, seed=5))
    changed = materialize_night("simonyi", night, resources)
    third = materialized(changed, "simonyi", "completed_metadata")
    assert third["uuid"] != first["uuid"]
    assert third["new_sequence"] is True
    assert third["supersedes"] == first["uuid"]
    assert third["status"].startswith("changed")
    assert materialized(changed, "simonyi", "completed_visits")["visit_count"] == 39
    rows = _completed_rows(archive_resource, "simonyi", night)
    assert [str(r["visitseq_uuid"]) for r in rows] == [third["uuid"], first["uuid"]]


def test_rest_backed_run(
    archive_resource: ArchiveResource, rest_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VSEQ_TEST_CONSDB_TOKEN", REST_TOKEN)
    consdb = RestConsDBResource(base_url=rest_base_url, token=EnvVar("VSEQ_TEST_CONSDB_TOKEN"))
    result = materialize_night("auxtel", NIGHT, {"archive": archive_resource, "consdb": consdb})
    assert result.success
    visits_md = materialized(result, "auxtel", "completed_visits")
    assert visits_md["visit_count"] == LATISS_VISITS
    assert all(check.passed for check in check_results(result).values())
    (row,) = _completed_rows(archive_resource, "auxtel", NIGHT)
    assert "cdb_latiss.visit1" in row["query"]
    # The token never reaches what Dagster records.
    for event in result.all_events:
        assert REST_TOKEN not in str(event)


def test_rest_wrong_token_fails_clearly(archive_resource: ArchiveResource, rest_base_url: str) -> None:
    consdb = RestConsDBResource(base_url=rest_base_url, token="not-the-token", retries=0)
    result = materialize_night(
        "auxtel", NIGHT, {"archive": archive_resource, "consdb": consdb}, raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("auxtel__consdb_visits")
    assert failure is not None and "refused the access token" in str(failure.error)
    assert _completed_rows(archive_resource, "auxtel", NIGHT) == []


def test_check_fails_on_tampered_file(
    archive_resource: ArchiveResource, consdb_url: str, tmp_path: Path
) -> None:
    resources = {"archive": archive_resource, "consdb": SqlConsDBResource(url=consdb_url)}
    first = materialize_night("simonyi", NIGHT, resources)
    url = materialized(first, "simonyi", "completed_visits")["url"]
    marker = tmp_path / "payload-ran"
    plant_payload(url, marker)  # changed in the store, with code that runs if it is parsed

    # Same ConsDB content: the existing sequence is reused, and the check reads it back.
    rerun = materialize_night("simonyi", NIGHT, resources, raise_on_error=False)
    assert materialized(rerun, "simonyi", "completed_visits")["new_sequence"] is False
    checks = check_results(rerun)
    assert not checks["visits_file_reads_back"].passed
    description = checks["visits_file_reads_back"].description
    assert "refusing to read" in description and "SHA-256" in description, description
    assert not marker.exists(), "the check parsed the tampered file"
    assert checks["metadata_row_points_at_visits"].passed
    assert uuid.UUID(materialized(rerun, "simonyi", "completed_visits")["uuid"])


def test_local_demo_consdb_fills_the_night_a_backfill_asks_for(
    archive_resource: ArchiveResource, tmp_path: Path
) -> None:
    """The local demo ConsDB (embedded server) simulates a past night when its step asks for it."""
    from vseq_resources.consdb.demo import nights_present
    from vseq_resources.dagster_resources import LocalConsDBResource
    from vseq_resources.embedded import stop_embedded_database

    state = tmp_path / "demo_state"
    night = "2026-01-10"
    consdb = LocalConsDBResource(state_dir=str(state))
    try:
        result = materialize_night("auxtel", night, {"archive": archive_resource, "consdb": consdb})
        assert result.success
        consdb_md = materialized(result, "auxtel", "consdb_visits")
        assert consdb_md["visit_count"] > 0 and consdb_md["empty_night"] is False
        assert consdb_md["consdb_exposures"] == consdb_md["visit_count"] + 20  # and the calibrations
        assert materialized(result, "auxtel", "completed_visits")["visit_count"] == consdb_md["visit_count"]
        assert all(check.passed for check in check_results(result).values())
        engine = sa.create_engine(consdb.client().engine.url)
        try:
            assert nights_present(engine, "latiss", [dt.date.fromisoformat(night)]) == {
                dt.date.fromisoformat(night): consdb_md["visit_count"]
            }
        finally:
            engine.dispose()
    finally:
        consdb.teardown_after_execution(None)  # type: ignore[arg-type]
        stop_embedded_database(state)
