"""The Dagster definitions of vseq (what ``dagster dev`` and ``workspace.yaml`` load).

Only assembly: each family module builds its assets per telescope; this module binds them
together with the jobs, schedules and resources.
"""

from __future__ import annotations

from dagster import Definitions

from vseq_resources.config import TELESCOPES

from .checks import completed_checks
from .completed import completed_sequence_assets
from .consdb import consdb_visits_asset
from .prenight import prenight_checks, prenight_simulation_assets
from .prenight_index import prenight_reader_definitions
from .resources import build_resources
from .schedules import completed_job, completed_schedule, prenight_job, prenight_schedule


def telescope_definitions(telescope: str) -> Definitions:
    """Everything of one telescope."""
    job = completed_job(telescope)
    return Definitions(
        assets=[consdb_visits_asset(telescope), completed_sequence_assets(telescope)],
        asset_checks=completed_checks(telescope),
        jobs=[job],
        schedules=[completed_schedule(job)],
    )


def prenight_definitions(telescope: str) -> Definitions:
    """The pre-night simulations of one telescope, their index snapshots and briefing, their
    checks, job and schedule."""
    job = prenight_job(telescope)
    return Definitions.merge(
        Definitions(
            assets=[prenight_simulation_assets(telescope)],
            asset_checks=prenight_checks(telescope),
            jobs=[job],
            schedules=[prenight_schedule(job)],
        ),
        prenight_reader_definitions(telescope),
    )


def build_definitions() -> Definitions:
    return Definitions.merge(
        *(telescope_definitions(telescope) for telescope in TELESCOPES),
        *(prenight_definitions(telescope) for telescope in TELESCOPES),
        Definitions(resources=build_resources()),
    )


defs = build_definitions()
