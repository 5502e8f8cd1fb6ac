"""The code location of the distributed tests: vseq's definitions with short simulations.

Everything is :func:`vseq_assets.definitions.build_definitions` from the host's environment
(``VSEQ_EXECUTOR=celery`` and the shared services), except the ``prenight`` resource: the
smallest simulation a pre-night partition's configuration allows (one night, one variant, the
first ``VSEQ_TEST_PRENIGHT_HOURS`` hours, default 0.25, no rewards), so that a test of six
partitions stays short. A job backfill carries no run configuration, hence a location of its own.
"""

from __future__ import annotations

import os

from vseq_assets.definitions import build_definitions
from vseq_resources.dagster_resources import PrenightSimulationResource

HOURS_ENV = "VSEQ_TEST_PRENIGHT_HOURS"

defs = build_definitions(
    resources={
        "prenight": PrenightSimulationResource(
            nights=1,
            variants=["nominal"],
            duration_hours=float(os.environ.get(HOURS_ENV) or 0.25),
            record_rewards=False,
        )
    }
)
