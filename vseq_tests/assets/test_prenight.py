"""Materialize pre-night simulations for real: archived completed visits -> rubin_scheduler -> archive.

A short simulation (one hour of one night, two variants) of the default configuration runs
through ``dagster.materialize`` with real resources: PostgreSQL (the ``pg_url`` server, a fresh
metadata schema) and a temporary ``file://`` store, pre-loaded with two completed nights recorded
first as part 1 records them. The runs happen in the afternoon before the night (the pre-night
run's clock is set), so their simulations are predictions of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dagster import materialize

from vseq_assets.prenight import prenight_simulation_assets
from vseq_resources.completed_night import archive_completed_night
from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource
from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.visits import read_visits_h5
from vseq_tests.assets.helpers import check_results, materialized, prenight_clock
from vseq_tests.resources.simulation.synthetic import synthetic_visits

NIGHT = dt.date(2025, 10, 18)
PREVIOUS = NIGHT - dt.timedelta(days=1)
COMPLETED_PER_NIGHT = 150


@pytest.fixture(scope="module")
def site_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prenight_site_data")


@pytest.fixture
def completed(archive_resource: ArchiveResource, monkeypatch: pytest.MonkeyPatch) -> dict[dt.date, str]:
    """Two archived completed nights before NIGHT (the newest recorded twice: the newer one wins)."""
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    prenight_clock(monkeypatch, NIGHT)
    vsa = archive_resource.open()
    uuids = {}
    try:
        for offset, night in enumerate((PREVIOUS - dt.timedelta(days=1), PREVIOUS)):
            visits = synthetic_visits(COMPLETED_PER_NIGHT, night, night, seed=offset)
            uuids[night] = archive_completed_night(vsa, "simonyi", night, visits, query="-- synthetic").uuid
        newer = synthetic_visits(COMPLETED_PER_NIGHT + 10, PREVIOUS, PREVIOUS, seed=7)
        uuids[PREVIOUS] = archive_completed_night(vsa, "simonyi", PREVIOUS, newer, query="-- newer").uuid
    finally:
        vsa.metadata.close()
    return {night: str(u) for night, u in uuids.items()}


def _run(archive: ArchiveResource, prenight: PrenightSimulationResource):
    return materialize(
        [prenight_simulation_assets("simonyi")],
        partition_key=NIGHT.isoformat(),
        resources={"archive": archive, "prenight": prenight},
    )


@pytest.mark.timeout(900)  # three pre-night runs, two of them simulating
def test_prenight_simulations_archived(
    archive_resource: ArchiveResource, completed: dict[dt.date, str], site_data_dir: Path
) -> None:
    prenight = PrenightSimulationResource(
        nights=1,
        duration_hours=1.0,
        variants=["nominal", "seeing_1.2"],
        record_rewards=True,
        site_data_dir=str(site_data_dir),
    )
    result = _run(archive_resource, prenight)
    assert result.success
    sims_md = materialized(result, "simonyi", "prenight_sims")
    rows_md = materialized(result, "simonyi", "prenight_metadata")
    assert set(sims_md["sequences"]) == {"nominal", "seeing_1.2"}
    assert sims_md["sequences"] == rows_md["sequences"]
    assert sims_md["preloaded_visits"] == COMPLETED_PER_NIGHT + COMPLETED_PER_NIGHT + 10
    assert sims_md["preloaded_sources"] == {"archive": 2, "local_cache": 0}
    assert sims_md["site_data_kind"] == "vseq_approximate"
    assert sims_md["label"].startswith("Nominal start and overhead, ideal conditions, run at ")
    assert all(n > 20 for n in sims_md["visit_counts"].values())
    assert len(sims_md["preview"].records) == 8
    assert rows_md["parent_visitseq_uuid"] == completed[PREVIOUS]
    assert rows_md["parent_last_day_obs"] == PREVIOUS.isoformat()
    checks = check_results(result)
    assert checks["simulations_read_back"].passed, checks["simulations_read_back"].description
    assert checks["simulated_after_preloaded"].passed, checks["simulated_after_preloaded"].description

    vsa = archive_resource.open()
    try:
        nominal = sims_md["sequences"]["nominal"]
        row = vsa.get_metadata(nominal, table="simulations")
        assert row["first_day_obs"] == row["last_day_obs"] == NIGHT
        assert str(row["parent_visitseq_uuid"]) == completed[PREVIOUS]
        assert row["parent_last_day_obs"] == PREVIOUS
        assert row["config_url"] == "python:vseq_resources.simulation.default_config:get_scheduler"
        assert row["scheduler_version"]
        assert row["conda_env_sha256"]
        kwargs = row["sim_runner_kwargs"]
        assert kwargs["site_data"]["kind"] == "vseq_approximate"
        assert kwargs["variant"] == "nominal" and kwargs["duration_hours"] == 1.0
        assert kwargs["preloaded"]["completed_sequences"] == [
            completed[PREVIOUS - dt.timedelta(days=1)],
            completed[PREVIOUS],
        ]
        expected_tags = {"prenight", "ideal", "nominal", "rewards", "approximate_sky"}
        assert set(vsa.metadata.get_tags(nominal)) == expected_tags
        seeing = sims_md["sequences"]["seeing_1.2"]
        assert "nominal" not in vsa.metadata.get_tags(seeing)

        visits = read_visits_h5(row["visitseq_url"])
        assert len(visits) == sims_md["visit_counts"]["nominal"]
        assert len(read_visits_h5(row["visitseq_url"], key="info")) > 0
        preloaded_max = kwargs["preloaded"]["last_mjd"]
        assert visits["observationStartMJD"].min() > preloaded_max
        assert visits["observationStartMJD"].min() >= dayobs_mjd_start(NIGHT)

        files = vsa.metadata.get_files(nominal)
        assert {"scheduler_config", "rewards"} <= set(files)
        config_copy = vsa.get_file(nominal, "scheduler_config", Path(site_data_dir) / "config_copy.py")
        assert "def get_scheduler" in config_copy.read_text()
        rewards_copy = vsa.get_file(nominal, "rewards", Path(site_data_dir) / "rewards_copy.h5")
        assert len(read_visits_h5(rewards_copy, key="obs_rewards")) == len(visits)

        stats = vsa.metadata.query_nightly_stats(nominal)
        nightly = stats[(stats["value_name"] == "airmass") & ~stats["accumulated"]]
        assert int(nightly["count"].iloc[0]) == len(visits)

        (mixed,) = vsa.find_sequences("mixedvisitseq", telescope="simonyi")
        assert mixed["visitseq_url"] is None
        assert str(mixed["early_parent_uuid"]) == completed[PREVIOUS]
        assert str(mixed["late_parent_uuid"]) == nominal
        assert mixed["last_early_day_obs"] == PREVIOUS and mixed["first_late_day_obs"] == NIGHT
        assert mixed["first_day_obs"] == PREVIOUS - dt.timedelta(days=1)

        # A re-run with identical inputs adds nothing: it reuses the archived simulations and says so.
        again = _run(archive_resource, prenight)
        assert again.success
        again_md = materialized(again, "simonyi", "prenight_sims")
        assert again_md["sequences"] == sims_md["sequences"]
        assert again_md["outcome"] == {v: f"reused {u}" for v, u in sims_md["sequences"].items()}
        assert again_md["added_count"] == 0 and again_md["reused_count"] == 2
        assert again_md["prenight_run"] == sims_md["prenight_run"]
        # The completed visits read the first time come from the local cache now.
        assert again_md["preloaded_sources"] == {"archive": 0, "local_cache": 2}
        assert all(check.passed for check in check_results(again).values())
        assert len(vsa.find_sequences("simulations", telescope="simonyi", first_day_obs=NIGHT)) == 2
        assert len(vsa.find_sequences("mixedvisitseq", telescope="simonyi")) == 1

        # A changed input (the night before archived again with new visits) simulates again.
        newest = synthetic_visits(COMPLETED_PER_NIGHT + 20, PREVIOUS, PREVIOUS, seed=9)
        archive_completed_night(vsa, "simonyi", PREVIOUS, newest, query="-- newest")
        nominal_only = PrenightSimulationResource(
            nights=1, duration_hours=1.0, variants=["nominal"], site_data_dir=str(site_data_dir)
        )
        third = _run(archive_resource, nominal_only)
        assert third.success
        third_md = materialized(third, "simonyi", "prenight_sims")
        new_uuid = third_md["sequences"]["nominal"]
        assert new_uuid != nominal and third_md["outcome"] == {"nominal": "added"}
        assert third_md["prenight_run"] != sims_md["prenight_run"]
        sims = vsa.find_sequences("simulations", telescope="simonyi", first_day_obs=NIGHT)
        assert len(sims) == 3 and str(sims[0]["visitseq_uuid"]) == new_uuid
        inputs = {str(r["visitseq_uuid"]): r["sim_runner_kwargs"]["inputs_sha256"] for r in sims}
        assert inputs[new_uuid] != inputs[nominal]
    finally:
        vsa.metadata.close()


def test_without_completed_visits(
    archive_resource: ArchiveResource, site_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing archived yet: the simulation starts from scratch, without parent or mixed row."""
    prenight_clock(monkeypatch, NIGHT)
    prenight = PrenightSimulationResource(
        nights=1,
        duration_hours=0.5,
        variants=["nominal"],
        record_rewards=False,
        site_data_dir=str(site_data_dir),
    )
    result = _run(archive_resource, prenight)
    assert result.success
    rows_md = materialized(result, "simonyi", "prenight_metadata")
    assert rows_md["parent_visitseq_uuid"] == ""
    assert "mixedvisitseq_uuid" not in rows_md
    assert all(check.passed for check in check_results(result).values())
    vsa = archive_resource.open()
    try:
        (row,) = vsa.find_sequences("simulations", telescope="simonyi")
        assert row["parent_visitseq_uuid"] is None and row["parent_last_day_obs"] is None
        assert "rewards" not in vsa.metadata.get_files(row["visitseq_uuid"])
    finally:
        vsa.metadata.close()


def test_prenight_schedule_dependency_and_pool() -> None:
    """06:00 dayobs time (18:00 UTC) asks for that day's dayobs; D depends on completed D-1."""
    from dagster import AssetKey, DagsterInstance, build_schedule_context

    from vseq_assets.definitions import defs
    from vseq_assets.partitions import prenight_partitions

    schedule = defs.resolve_schedule_def("simonyi_prenight_schedule")
    assert schedule.execution_timezone == "Etc/GMT+12"
    assert schedule.cron_schedule == "0 6 * * *"
    with DagsterInstance.ephemeral() as instance:
        tick = dt.datetime(2025, 10, 18, 18, 0, tzinfo=dt.UTC)
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2025-10-18"]

    job = defs.resolve_job_def("simonyi_prenight")
    assert job.partitions_def == prenight_partitions
    graph = defs.resolve_asset_graph()
    sims = AssetKey(["simonyi", "prenight_sims"])
    completed = AssetKey(["simonyi", "completed_metadata"])
    assert completed in graph.get(sims).parent_keys
    upstream = graph.get_parent_partition_keys_for_child("2025-10-18", completed, sims)
    assert upstream.partitions_subset.get_partition_keys() == ["2025-10-17"]
    node = graph.get(sims)
    assert node.pools == {"rubin_scheduler"} or "rubin_scheduler" in str(node.pools)
