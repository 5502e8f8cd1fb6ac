"""The variants a pre-night partition runs are chosen in the run's configuration, and tagged as
production tags them.

Two short real simulations (half an hour each, no completed visits) through ``dagster.materialize``
with the ``prenight`` resource configured in ``run_config``, as the launchpad or a schedule would.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dagster import materialize

from vseq_assets.prenight import prenight_simulation_assets
from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource
from vseq_resources.dayobs import dayobs_mjd_start
from vseq_tests.assets.helpers import materialized, prenight_clock

NIGHT = dt.date(2025, 10, 18)


def test_variants_chosen_in_run_config(
    archive_resource: ArchiveResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    prenight_clock(monkeypatch, NIGHT)
    settings = {
        "nights": 1,
        "duration_hours": 0.5,
        "record_rewards": False,
        "record_mixed": False,
        "site_data_dir": str(tmp_path),
    }
    run_config = {"resources": {"prenight": {"config": {**settings, "variants": ["nominal", "delay_240"]}}}}
    result = materialize(
        [prenight_simulation_assets("simonyi")],
        partition_key=NIGHT.isoformat(),
        resources={"archive": archive_resource, "prenight": PrenightSimulationResource()},
        run_config=run_config,
    )
    assert result.success
    sequences = materialized(result, "simonyi", "prenight_sims")["sequences"]
    assert set(sequences) == {"nominal", "delay_240"}
    vsa = archive_resource.open()
    try:
        tags = {variant: set(vsa.metadata.get_tags(uuid)) for variant, uuid in sequences.items()}
        assert tags["nominal"] == {"prenight", "ideal", "nominal", "approximate_sky"}
        assert tags["delay_240"] == {"prenight", "ideal", "delay_240", "approximate_sky"}
        rows = {variant: vsa.get_metadata(uuid, table="simulations") for variant, uuid in sequences.items()}
        assert rows["delay_240"]["visitseq_label"].startswith(
            "Start time delayed by 240 minutes, nominal slew and visit overhead, ideal conditions, run at "
        )
        starts = {v: r["sim_runner_kwargs"]["sim_start_mjd"] for v, r in rows.items()}
        assert starts["delay_240"] - starts["nominal"] == pytest.approx(240 / 1440, abs=1e-9)
        first = vsa.get_visits(sequences["delay_240"])["observationStartMJD"].min()
        assert first >= starts["delay_240"] > dayobs_mjd_start(NIGHT)
    finally:
        vsa.metadata.close()
