"""Jobs and schedules: each telescope's completed night is archived once the night is over.

Dayobs D ends at D+1 12:00 UTC (00:00 in ``Etc/GMT+12``). The schedule of a telescope ticks
every day at ``$VSEQ_COMPLETED_SCHEDULE_TIME`` (``HH:MM`` in dayobs time, default ``00:30``,
i.e. 12:30 UTC, leaving ConsDB half an hour to ingest the last visits; read through
:class:`vseq_resources.config.ScheduleSettings`) and materializes the
partition that has just ended: ``build_schedule_from_partitioned_job`` picks the newest
partition of :data:`~vseq_assets.partitions.completed_partitions` (``end_offset=0``), whose
window closed before the tick.

Backfills: the assets keep Dagster's default backfill policy (one run per partition), so a
backfill of any range becomes one run per night, which the instance's run queue executes in
parallel up to its limits (``concurrency`` in ``dagster.yaml``: ``max_concurrent_runs``, and the
``dagster/backfill`` tag limit).
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

# What define_asset_job returns has no public name in dagster (1.x): imported from its module for
# the type hints only.
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from vseq_resources.config import ScheduleSettings

from .keys import COMPLETED_METADATA, COMPLETED_VISITS, CONSDB_VISITS, NIGHT_REVIEW, asset_key


def default_schedule_status(settings: ScheduleSettings) -> DefaultScheduleStatus:
    """Schedules start stopped (turn them on in the UI) unless ``VSEQ_SCHEDULES_RUNNING=1``."""
    return DefaultScheduleStatus.RUNNING if settings.running else DefaultScheduleStatus.STOPPED


def completed_job(telescope: str) -> UnresolvedAssetJobDefinition:
    """ConsDB visits of a night -> archived completed sequence (with its checks) -> the night's
    review against its pre-night simulation."""
    return define_asset_job(
        name=f"{telescope}_completed_night",
        selection=AssetSelection.assets(
            asset_key(telescope, CONSDB_VISITS),
            asset_key(telescope, COMPLETED_VISITS),
            asset_key(telescope, COMPLETED_METADATA),
            asset_key(telescope, NIGHT_REVIEW),
        ),
        tags={"vseq/telescope": telescope, "vseq/family": "completed"},
        description=f"Archive the completed {telescope} visits of a night from ConsDB; review the night.",
    )


def completed_schedule(job: UnresolvedAssetJobDefinition, settings: ScheduleSettings):
    """Daily at ``completed_time`` dayobs time for the night that has just ended."""
    return _daily_schedule(
        job,
        settings.completed_time,
        settings,
        "Archives the night that has just ended (dayobs D after D+1 12:00 UTC).",
    )


def _daily_schedule(
    job: UnresolvedAssetJobDefinition, time: tuple[int, int], settings: ScheduleSettings, description: str
):
    """The job's newest partition, daily at ``time`` (hour, minute) in dayobs time."""
    hour, minute = time
    return build_schedule_from_partitioned_job(
        job,
        name=f"{job.name}_schedule",
        hour_of_day=hour,
        minute_of_hour=minute,
        default_status=default_schedule_status(settings),
        description=description,
    )


# -- pre-night simulations ---------------------------------------------------------------------


def prenight_job(telescope: str) -> UnresolvedAssetJobDefinition:
    """Completed visits through D-1 (from the archive) -> the night's simulations, archived ->
    the index snapshots of the nights they cover -> the pre-night briefing."""
    from .keys import PRENIGHT_BRIEFING, PRENIGHT_INDEX, PRENIGHT_METADATA, PRENIGHT_SIMS

    return define_asset_job(
        name=f"{telescope}_prenight",
        selection=AssetSelection.assets(
            *(
                asset_key(telescope, name)
                for name in (PRENIGHT_SIMS, PRENIGHT_METADATA, PRENIGHT_INDEX, PRENIGHT_BRIEFING)
            )
        ),
        tags={"vseq/telescope": telescope, "vseq/family": "prenight"},
        description=f"Simulate the coming {telescope} night(s), publish their index and the briefing.",
    )


def prenight_schedule(job: UnresolvedAssetJobDefinition, settings: ScheduleSettings):
    """Daily at ``prenight_time`` dayobs time (default 06:00, i.e. 18:00 UTC: afternoon in Chile,
    after the completed night and before sunset) for that day's dayobs (the newest
    ``end_offset=1`` partition)."""
    return _daily_schedule(
        job,
        settings.prenight_time,
        settings,
        "Simulates the night of the current dayobs (D) from the completed visits through D-1.",
    )
