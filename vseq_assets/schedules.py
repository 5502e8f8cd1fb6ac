"""Jobs and schedules: each telescope's completed night is archived once the night is over.

Dayobs D ends at D+1 12:00 UTC (00:00 in ``Etc/GMT+12``). The schedule of a telescope ticks
every day at ``$VSEQ_COMPLETED_SCHEDULE_TIME`` (``HH:MM`` in dayobs time, default ``00:30``,
i.e. 12:30 UTC, leaving ConsDB half an hour to ingest the last visits) and materializes the
partition that has just ended: ``build_schedule_from_partitioned_job`` picks the newest
partition of :data:`~vseq_assets.partitions.completed_partitions` (``end_offset=0``), whose
window closed before the tick.

Backfills: the assets keep Dagster's default backfill policy (one run per partition), so a
backfill of any range becomes one run per night, which the instance's run queue executes in
parallel up to its limits (``concurrency`` in ``dagster.yaml``: ``max_concurrent_runs``, and the
``dagster/backfill`` tag limit).
"""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    build_schedule_from_partitioned_job,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from .keys import COMPLETED_METADATA, COMPLETED_VISITS, CONSDB_VISITS, asset_key

SCHEDULE_TIME_ENV = "VSEQ_COMPLETED_SCHEDULE_TIME"
DEFAULT_SCHEDULE_TIME = "00:30"
SCHEDULE_STATUS_ENV = "VSEQ_SCHEDULES_RUNNING"


def schedule_time() -> tuple[int, int]:
    """(hour, minute) of the daily tick, in dayobs time (``Etc/GMT+12``)."""
    text = os.environ.get(SCHEDULE_TIME_ENV) or DEFAULT_SCHEDULE_TIME
    try:
        hour, minute = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{SCHEDULE_TIME_ENV} must be HH:MM, not {text!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"{SCHEDULE_TIME_ENV} must be HH:MM, not {text!r}")
    return hour, minute


def default_schedule_status() -> DefaultScheduleStatus:
    """Schedules start stopped (turn them on in the UI) unless ``VSEQ_SCHEDULES_RUNNING=1``."""
    running = os.environ.get(SCHEDULE_STATUS_ENV, "").lower() in ("1", "true", "yes")
    return DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED


def completed_job(telescope: str) -> UnresolvedAssetJobDefinition:
    """ConsDB visits of a night -> archived completed sequence (with its checks)."""
    return define_asset_job(
        name=f"{telescope}_completed_night",
        selection=AssetSelection.assets(
            asset_key(telescope, CONSDB_VISITS),
            asset_key(telescope, COMPLETED_VISITS),
            asset_key(telescope, COMPLETED_METADATA),
        ),
        tags={"vseq/telescope": telescope, "vseq/family": "completed"},
        description=f"Archive the completed {telescope} visits of a night from ConsDB.",
    )


def completed_schedule(job: UnresolvedAssetJobDefinition):
    return _daily_schedule(
        job, schedule_time(), "Archives the night that has just ended (dayobs D after D+1 12:00 UTC)."
    )


def _daily_schedule(job: UnresolvedAssetJobDefinition, time: tuple[int, int], description: str):
    """The job's newest partition, daily at ``time`` (hour, minute) in dayobs time."""
    hour, minute = time
    return build_schedule_from_partitioned_job(
        job,
        name=f"{job.name}_schedule",
        hour_of_day=hour,
        minute_of_hour=minute,
        default_status=default_schedule_status(),
        description=description,
    )


# -- pre-night simulations ---------------------------------------------------------------------

PRENIGHT_SCHEDULE_TIME_ENV = "VSEQ_PRENIGHT_SCHEDULE_TIME"
DEFAULT_PRENIGHT_SCHEDULE_TIME = "06:00"
"""06:00 in dayobs time is 18:00 UTC: afternoon in Chile, after the completed night (archived at
00:30 dayobs time) and before sunset."""


def prenight_schedule_time() -> tuple[int, int]:
    """(hour, minute) of the pre-night tick, in dayobs time (``Etc/GMT+12``)."""
    return _hour_minute(PRENIGHT_SCHEDULE_TIME_ENV, DEFAULT_PRENIGHT_SCHEDULE_TIME)


def _hour_minute(variable: str, default: str) -> tuple[int, int]:
    text = os.environ.get(variable) or default
    try:
        hour, minute = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{variable} must be HH:MM, not {text!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"{variable} must be HH:MM, not {text!r}")
    return hour, minute


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


def prenight_schedule(job: UnresolvedAssetJobDefinition):
    """Daily at 06:00 dayobs time for that day's dayobs (the newest ``end_offset=1`` partition)."""
    return _daily_schedule(
        job,
        prenight_schedule_time(),
        "Simulates the night of the current dayobs (D) from the completed visits through D-1.",
    )
