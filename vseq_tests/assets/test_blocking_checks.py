"""Blocking checks block: a sequence whose check fails in its own step stops the run there, and is
never pre-loaded, reused or indexed afterwards.

The failures are real: the stored ``visits.h5`` is rewritten (with a pickled payload that would
run if parsed) while the step waits at the fault pause point ``before_read_back``, i.e. after the
file was written and recorded and before the step reads it back. Everything else is real too:
Dagster (``materialize``), PostgreSQL, the ConsDB database, rubin_scheduler.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, asset, materialize

from vseq_assets.briefing import prenight_briefing_asset
from vseq_assets.partitions import completed_partitions
from vseq_assets.prenight import prenight_simulation_assets
from vseq_assets.prenight_index import prenight_index_asset
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.completed_night import archive_completed_night
from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource, SqlConsDBResource
from vseq_resources.faults import MARKER_ENV, PAUSE_ENV
from vseq_resources.metadata.annotations import CHECK_FAILED_TAG
from vseq_resources.readers import ArchiveReader, NoMatchingSimulationsError, load_partition
from vseq_tests.assets.conftest import LSSTCAM_VISITS, NIGHT
from vseq_tests.assets.helpers import check_results, index_resource, materialize_night, materialized
from vseq_tests.resources.simulation.synthetic import synthetic_visits
from vseq_tests.tamper import plant_payload


@contextmanager
def tamper_before_read_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tamper: Callable[[], None]
) -> Iterator[list[str]]:
    """While the block runs, the first step to reach ``before_read_back`` waits there until
    ``tamper()`` has run; yields a list that holds "tampered" once it has."""
    marker = tmp_path / "paused"
    monkeypatch.setenv(PAUSE_ENV, "before_read_back")
    monkeypatch.setenv(MARKER_ENV, str(marker))
    done: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + 600
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            tamper()
            done.append("tampered")
        finally:
            marker.unlink(missing_ok=True)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield done
    thread.join(timeout=600)
    monkeypatch.delenv(PAUSE_ENV)


def _has_materialization(result, key: AssetKey) -> bool:
    return any(e.materialization.asset_key == key for e in result.get_asset_materialization_events())


def test_completed_check_failure_blocks_the_run_and_the_sequence_is_never_used(
    archive_resource: ArchiveResource, consdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_runs: list[str] = []

    @asset(
        key=AssetKey(["simonyi", "night_report"]),
        deps=[AssetKey(["simonyi", "completed_visits"])],
        partitions_def=completed_partitions,
    )
    def night_report() -> None:
        """A downstream asset of someone else, in the same run."""
        report_runs.append("ran")

    resources = {"archive": archive_resource, "consdb": SqlConsDBResource(url=consdb_url)}
    vsa = archive_resource.open()
    payload = tmp_path / "payload-ran"

    def tamper() -> None:
        (row,) = vsa.find_sequences("completed", telescope="simonyi", first_day_obs=NIGHT)
        plant_payload(row["visitseq_url"], payload)

    try:
        with tamper_before_read_back(monkeypatch, tmp_path, tamper) as tampered:
            result = materialize_night(
                "simonyi", NIGHT, resources, raise_on_error=False, downstream=[night_report]
            )
        assert tampered == ["tampered"]
        assert not result.success
        checks = check_results(result)
        assert not checks["visits_file_reads_back"].passed
        assert "SHA-256" in checks["visits_file_reads_back"].description
        assert not payload.exists(), "the check parsed the tampered file"
        failure = result.failure_data_for_node("simonyi_completed_sequence")
        assert failure is not None and "blocking asset check" in str(failure.error)
        # The downstream asset of the same run did not run.
        assert report_runs == []
        assert not _has_materialization(result, AssetKey(["simonyi", "night_report"]))

        failed_uuid = materialized(result, "simonyi", "completed_visits")["uuid"]
        assert vsa.metadata.is_tagged(failed_uuid, CHECK_FAILED_TAG)
        comments = vsa.metadata.get_comments(failed_uuid)["comment"].tolist()
        assert any(c.startswith("check visits_file_reads_back failed: ") for c in comments)
        # Never pre-loaded, never the night's answer.
        following = dt.date.fromisoformat(NIGHT) + dt.timedelta(days=1)
        assert gather_completed_visits(vsa, "simonyi", following).sequences == {}
        assert vsa.metadata.newest_completed("simonyi", NIGHT) is None

        # Same ConsDB content: the run records the night afresh rather than reuse the failed one.
        again = materialize_night("simonyi", NIGHT, resources, downstream=[night_report])
        assert again.success and report_runs == ["ran"]
        fresh = materialized(again, "simonyi", "completed_visits")
        assert fresh["new_sequence"] is True and fresh["uuid"] != failed_uuid
        assert all(check.passed for check in check_results(again).values())
        preloaded = gather_completed_visits(vsa, "simonyi", following)
        assert [str(u) for u in preloaded.sequences.values()] == [fresh["uuid"]]
        assert preloaded.count == LSSTCAM_VISITS
    finally:
        vsa.metadata.close()


PRENIGHT = dt.date(2025, 10, 18)


def test_prenight_check_failure_blocks_index_and_briefing_and_is_never_indexed(
    archive_resource: ArchiveResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    resource = index_resource(archive_resource, tmp_path)
    vsa = resource.open()
    try:
        # Two completed nights before; the later one failed its check: it must not be pre-loaded.
        healthy_night, failed_night = PRENIGHT - dt.timedelta(days=2), PRENIGHT - dt.timedelta(days=1)
        healthy = archive_completed_night(
            vsa,
            "simonyi",
            healthy_night,
            synthetic_visits(120, healthy_night, healthy_night, seed=1),
            query="-- q",
        )
        failed = archive_completed_night(
            vsa,
            "simonyi",
            failed_night,
            synthetic_visits(90, failed_night, failed_night, seed=2),
            query="-- q",
        )
        vsa.metadata.mark_check_failed(failed.uuid, {"visits_file_reads_back": "tampered"}, "tester")

        def tamper() -> None:
            for row in vsa.find_sequences("simulations", telescope="simonyi", first_day_obs=PRENIGHT):
                if "nominal" in vsa.metadata.get_tags(row["visitseq_uuid"]):
                    plant_payload(row["visitseq_url"], tmp_path / "payload-ran")

        prenight = PrenightSimulationResource(
            nights=1,
            duration_hours=0.25,
            variants=["nominal", "delay_60"],
            record_rewards=False,
            site_data_dir=str(tmp_path / "site_data"),
        )
        assets = [
            prenight_simulation_assets("simonyi"),
            prenight_index_asset("simonyi"),
            prenight_briefing_asset("simonyi"),
        ]
        with tamper_before_read_back(monkeypatch, tmp_path, tamper) as tampered:
            result = materialize(
                assets,
                partition_key=PRENIGHT.isoformat(),
                resources={"archive": resource, "prenight": prenight},
                raise_on_error=False,
            )
        assert tampered == ["tampered"]
        assert not result.success
        sims_md = materialized(result, "simonyi", "prenight_sims")
        # The failed completed night was not pre-loaded: only the healthy one, which is the parent.
        assert sims_md["preloaded_visits"] == 120 and sims_md["preloaded_nights"] == 1
        assert materialized(result, "simonyi", "prenight_metadata")["parent_visitseq_uuid"] == str(
            healthy.uuid
        )
        checks = check_results(result)
        assert not checks["simulations_read_back"].passed
        assert "nominal" in checks["simulations_read_back"].description
        assert checks["simulated_after_preloaded"].passed  # the readable variant starts where it should
        assert not (tmp_path / "payload-ran").exists()
        # The index and the briefing of the same run did not run.
        for name in ("prenight_index", "prenight_briefing"):
            assert not _has_materialization(result, AssetKey(["simonyi", name]))

        nominal, delayed = (sims_md["sequences"][v] for v in ("nominal", "delay_60"))
        assert vsa.metadata.is_tagged(nominal, CHECK_FAILED_TAG)
        assert not vsa.metadata.is_tagged(delayed, CHECK_FAILED_TAG)

        # Indexed later (the next run of the index): the failed simulation is not in it.
        index_run = materialize(
            [prenight_index_asset("simonyi")],
            partition_key=PRENIGHT.isoformat(),
            resources={"archive": resource},
        )
        assert index_run.success
        assert all(check.passed for check in check_results(index_run).values())
        reader = ArchiveReader.for_archive(vsa)
        index = load_partition("simonyi/prenight_index", PRENIGHT, reader=reader)
        assert nominal not in [str(u) for u in index.index]  # (a past night's runs are re-simulations)
        with pytest.raises(NoMatchingSimulationsError):
            load_partition("simonyi/prenight_sims", PRENIGHT, reader=reader)
    finally:
        vsa.metadata.close()
