"""The Dagster definitions of vseq (what ``dagster dev`` and ``workspace.yaml`` load).

Only assembly: each family module builds its assets per telescope; this module binds them
together with the jobs, schedules and resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import Definitions, ExecutorDefinition, in_process_executor

from vseq_resources.config import TELESCOPES, DagsterSettings, ScheduleSettings, Settings

from .completed import completed_sequence_assets
from .consdb import consdb_visits_asset
from .night_review import night_review_asset
from .plausibility_checks import plausibility_checks
from .prenight import prenight_simulation_assets
from .prenight_index import prenight_reader_definitions
from .resources import build_resources
from .schedules import completed_job, completed_schedule, prenight_job, prenight_schedule


def telescope_definitions(telescope: str, schedule: ScheduleSettings) -> Definitions:
    """Everything of one telescope's completed nights, and their reviews."""
    job = completed_job(telescope)
    return Definitions(
        assets=[
            consdb_visits_asset(telescope),
            completed_sequence_assets(telescope),
            night_review_asset(telescope),
        ],
        jobs=[job],
        schedules=[completed_schedule(job, schedule)],
    )


def prenight_definitions(telescope: str, schedule: ScheduleSettings | None = None) -> Definitions:
    """The pre-night simulations of one telescope, their index snapshots and briefing, their
    checks, job and schedule (``schedule`` default: read from the environment)."""
    job = prenight_job(telescope)
    return Definitions.merge(
        Definitions(
            assets=[prenight_simulation_assets(telescope)],
            jobs=[job],
            schedules=[prenight_schedule(job, schedule or ScheduleSettings.from_env())],
        ),
        prenight_reader_definitions(telescope),
    )


EXECUTOR = in_process_executor
"""Every run executes its steps one after the other in the run's own process.

Dagster's default (the multiprocess executor) starts a process per step, which imports the
definitions and the step's libraries again (dagster, pandas, SQLAlchemy, astropy, rubin_scheduler,
matplotlib); in process, a run pays those imports once (the figures are in `docs/benchmarks.md`,
"4. Nightly pipeline"). The steps of a run form a chain (ConsDB -> archive; simulations -> index
-> briefing) with small checks beside it, so little parallelism is lost; the assets, steps,
checks, retries and pools are the same, and runs (schedules, backfills, the two telescopes) still
run in parallel, each in its own process, up to the instance's limits."""


def executor_for(settings: DagsterSettings) -> ExecutorDefinition:
    """The executor ``VSEQ_EXECUTOR`` names: :data:`EXECUTOR` (one machine, the default) or the
    Celery executor of the distributed mode (:mod:`vseq_assets.celery`), where each step is a task
    that any worker host may execute."""
    if settings.executor == "celery":
        from .celery import celery_executor_definition

        return celery_executor_definition()
    return EXECUTOR


def build_definitions(
    settings: Settings | None = None, resources: Mapping[str, Any] | None = None
) -> Definitions:
    """Everything, for ``settings`` (default: the environment, read once now: a bad value fails
    the loading with one line naming the variable). ``resources`` replace the settings' resources
    of the same keys (a test's short simulations, say)."""
    settings = settings or Settings.from_env()
    bound = {**build_resources(settings), **(resources or {})}
    return Definitions.merge(
        *(telescope_definitions(telescope, settings.schedule) for telescope in TELESCOPES),
        *(prenight_definitions(telescope, settings.schedule) for telescope in TELESCOPES),
        Definitions(asset_checks=plausibility_checks()),
        Definitions(resources=bound, executor=executor_for(settings.dagster)),
    )


defs = build_definitions()
