"""A run in Dagster's hidden ``__ASSET_JOB`` (what a backfill launched from an asset's page runs)
gets the ``vseq/telescope`` and ``vseq/family`` tags from its steps, as runs of vseq's jobs carry
them from the job; on a real instance, with the real completed-night assets."""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, Definitions

from vseq_assets.definitions import prenight_definitions, telescope_definitions
from vseq_assets.run_tags import FAMILY_TAG, TELESCOPE_TAG
from vseq_resources.config import ScheduleSettings
from vseq_resources.dagster_resources import (
    ArchiveResource,
    PrenightSimulationResource,
    SqlConsDBResource,
    VseqArchiveIOManager,
)
from vseq_tests.assets.conftest import NIGHT


def test_asset_job_runs_get_the_telescope_and_family_tags(
    archive_resource: ArchiveResource, consdb_url: str
) -> None:
    defs = Definitions.merge(
        telescope_definitions("auxtel", ScheduleSettings()),
        prenight_definitions("auxtel", ScheduleSettings()),
        Definitions(
            resources={
                "archive": archive_resource,
                "consdb": SqlConsDBResource(url=consdb_url),
                "vseq_archive": VseqArchiveIOManager(archive=archive_resource),
                "prenight": PrenightSimulationResource(),
            }
        ),
    )
    backfill_tags = {"dagster/backfill": "uitest01"}  # what an asset backfill's runs carry
    with DagsterInstance.ephemeral() as instance:
        hidden = defs.resolve_implicit_global_asset_job_def()
        assert hidden.name == "__ASSET_JOB"
        # As the daemon submits an asset backfill's run: the hidden job, a subset of its assets.
        selection = [
            AssetKey(["auxtel", name]) for name in ("consdb_visits", "completed_visits", "completed_metadata")
        ]
        result = hidden.execute_in_process(
            partition_key=NIGHT, instance=instance, tags=backfill_tags, asset_selection=selection
        )
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run.job_name == "__ASSET_JOB"
        assert run.tags[TELESCOPE_TAG] == "auxtel" and run.tags[FAMILY_TAG] == "completed"
        assert run.tags["dagster/backfill"] == "uitest01"

        named = defs.resolve_job_def("auxtel_completed_night").execute_in_process(
            partition_key=NIGHT, instance=instance
        )
        run = instance.get_run_by_id(named.run_id)
        assert run.job_name == "auxtel_completed_night"
        assert run.tags[TELESCOPE_TAG] == "auxtel" and run.tags[FAMILY_TAG] == "completed"
