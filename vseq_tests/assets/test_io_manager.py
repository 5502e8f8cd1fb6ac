"""A downstream code location reads vseq's archived partitions through the vseq archive IO manager.

vseq's own assets are materialized for real into a temporary archive (a completed night from a
real ConsDB; the following night's pre-night simulation, index snapshots and briefing), then
the downstream location (:mod:`vseq_tests.downstream_location`, which declares vseq's assets as
``AssetSpec`` s) materializes its report assets on a real Dagster instance and gets the frames.
A tampered visits file fails the downstream run before it is parsed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, Definitions, asset, materialize

from vseq_assets.briefing import prenight_briefing_asset
from vseq_assets.prenight import prenight_simulation_assets
from vseq_assets.prenight_index import prenight_index_asset
from vseq_resources.dagster_resources import (
    ArchiveResource,
    PrenightSimulationResource,
    SqlConsDBResource,
    VseqArchiveIOManager,
)
from vseq_tests import downstream_location
from vseq_tests.assets.conftest import LSSTCAM_VISITS, NIGHT
from vseq_tests.assets.helpers import (
    index_resource,
    materialize_night,
    materialized,
    prenight_clock,
    use_archive_from_environment,
)
from vseq_tests.tamper import plant_payload

FOLLOWING = "2025-10-17"  # NIGHT + 1: the pre-night partition pre-loaded with NIGHT's visits


@pytest.fixture
def archived(
    archive_resource: ArchiveResource, consdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    """vseq's assets materialized for real; the environment names their archive (as a
    downstream deployment's would)."""
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    prenight_clock(monkeypatch, FOLLOWING)
    resource = index_resource(archive_resource, tmp_path)
    completed = materialize_night(
        "simonyi", NIGHT, {"archive": resource, "consdb": SqlConsDBResource(url=consdb_url)}
    )
    prenight = PrenightSimulationResource(
        nights=1, duration_hours=0.5, variants=["nominal"], site_data_dir=str(tmp_path / "site_data")
    )
    planned = materialize(
        [
            prenight_simulation_assets("simonyi"),
            prenight_index_asset("simonyi"),
            prenight_briefing_asset("simonyi"),
        ],
        partition_key=FOLLOWING,
        resources={"archive": resource, "prenight": prenight},
    )
    assert completed.success and planned.success
    settings = resource.settings()
    use_archive_from_environment(monkeypatch, settings)
    monkeypatch.setenv("VSEQ_STATE_DIR", str(settings.state_dir))
    return {
        "completed": materialized(completed, "simonyi", "completed_visits"),
        "sims": materialized(planned, "simonyi", "prenight_sims"),
        "resource": resource,
    }


def _failure_text(result) -> str:  # noqa: ANN001 - an ExecuteInProcessResult
    """The messages of the run's one step failure and of its causes."""
    (failure,) = result.get_step_failure_events()
    error, texts = failure.step_failure_data.error, []
    while error is not None:
        texts.append(error.message)
        error = error.cause
    return "\n".join(texts)


def test_downstream_location_gets_the_frames(archived: dict, tmp_path: Path) -> None:
    defs = downstream_location.defs
    with DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster")) as instance:
        night = defs.resolve_job_def("night_report_job").execute_in_process(
            partition_key=NIGHT, instance=instance
        )
        plan = defs.resolve_job_def("plan_report_job").execute_in_process(
            partition_key=FOLLOWING, instance=instance
        )
        assert night.success and plan.success
        materializations = instance.get_latest_materialization_event(AssetKey("night_report"))
        assert materializations is not None

    report = night.output_for_node("night_report")
    assert int(report["visits"].sum()) == LSSTCAM_VISITS
    assert set(report["visitseq_uuid"]) == {archived["completed"]["uuid"]}
    vsa = archived["resource"].open()
    try:
        visits = vsa.get_visits(archived["completed"]["uuid"])
    finally:
        vsa.metadata.close()
    assert dict(zip(report["band"], report["visits"], strict=True)) == visits.groupby("band").size().to_dict()

    summary = plan.output_for_node("plan_report")
    nominal = archived["sims"]["sequences"]["nominal"]
    assert summary["planned_visits"] == archived["sims"]["visit_counts"]["nominal"] > 0
    assert summary["simulations_of_the_partition"] == [nominal]
    assert summary["simulations_covering_the_night"] == 1
    assert summary["figures"] and all(name.startswith("briefing_") for name in summary["figures"])


def test_tampered_partition_fails_the_downstream_run(archived: dict, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    plant_payload(archived["completed"]["url"], marker)
    job = downstream_location.defs.resolve_job_def("night_report_job")
    result = job.execute_in_process(
        partition_key=NIGHT, instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    message = _failure_text(result)
    assert "refusing to read the visits of sequence" in message and archived["completed"]["uuid"] in message
    assert not marker.exists(), "the IO manager parsed the tampered file"


def test_io_manager_refuses_to_store(tmp_path: Path) -> None:
    @asset(io_manager_key="vseq_archive")
    def misdirected() -> int:
        return 1

    defs = Definitions(
        assets=[misdirected], resources={"vseq_archive": VseqArchiveIOManager(archive=ArchiveResource())}
    )
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)
    assert not result.success
    assert "the vseq archive IO manager only reads" in _failure_text(result)
