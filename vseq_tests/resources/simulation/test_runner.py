"""Real (short) rubin_scheduler runs of the default configuration."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing

import pandas as pd
import pytest

from vseq_resources.errors import InvalidInputError
from vseq_resources.simulation import DEFAULT_VARIANTS, SiteData, run_simulation
from vseq_resources.simulation.runner import variant_processes
from vseq_resources.simulation.variants import DELAY_60, NOMINAL

from .conftest import DAY_OBS
from .synthetic import synthetic_visits

DEFAULT_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"


def test_default_variants_mirror_production() -> None:
    tags = {v.name: v.tags for v in DEFAULT_VARIANTS}
    assert tags["nominal"] == ("prenight", "ideal", "nominal")
    assert [v.name for v in DEFAULT_VARIANTS if "nominal" in v.tags] == ["nominal"]
    assert any(v.delay_minutes > 0 for v in DEFAULT_VARIANTS)
    assert any(v.seeing_fwhm_500 for v in DEFAULT_VARIANTS)


def test_variants_run_in_process_inside_a_daemonic_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Celery prefork worker runs a step in a daemonic process (billiard sets the flag Python
    checks), which may not start processes: the variants then run one at a time there."""
    assert (variant_processes(2, 3), variant_processes(2, 1), variant_processes(1, 3)) == (2, 1, 1)
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True)
    assert variant_processes(2, 3) == 1


def test_short_nominal_run(site_data: SiteData, site_data_dir) -> None:
    result = run_simulation(
        DEFAULT_CONFIG,
        day_obs=DAY_OBS,
        variant=NOMINAL,
        site_data_dir=site_data_dir,
        record_rewards=True,
        duration_hours=1.5,
    )
    visits = result.observations
    assert len(visits) > 50
    assert len(visits.columns) == 48
    assert visits["observationStartMJD"].min() >= result.sim_start_mjd
    # sim_runner checks the end before each request: the last visit may start after its slew.
    assert visits["observationStartMJD"].max() <= result.sim_end_mjd + 2.0 / 1440.0
    assert visits["band"].nunique() >= 2
    assert set(result.tables) == {"observations", "info"}
    assert result.rewards is not None and len(result.rewards["reward_df"]) > 0
    assert len(result.rewards["obs_rewards"]) == len(visits)
    assert result.tags == ("prenight", "ideal", "nominal")
    assert result.label.startswith("Nominal start and overhead, ideal conditions, run at ")
    assert "approximate" in result.label
    assert result.site_data["kind"] == "vseq_approximate"
    assert result.first_day_obs == result.last_day_obs == DAY_OBS
    assert result.config_url == f"python:{DEFAULT_CONFIG}"
    assert "def get_scheduler" in result.scheduler_config
    json.dumps(result.sim_runner_kwargs)


def test_preloaded_visits_and_delayed_start(site_data: SiteData, site_data_dir) -> None:
    earlier = synthetic_visits(2000, DAY_OBS - dt.timedelta(days=30), DAY_OBS - dt.timedelta(days=1))
    result = run_simulation(
        DEFAULT_CONFIG,
        day_obs=DAY_OBS,
        variant=DELAY_60,
        preloaded_visits=earlier,
        site_data_dir=site_data_dir,
        duration_hours=1.0,
    )
    assert result.n_preloaded == 2000
    assert result.preloaded_last_day_obs == DAY_OBS - dt.timedelta(days=1)
    assert result.sim_runner_kwargs["delay_minutes"] == 60
    visits = result.observations
    assert len(visits) > 0
    assert visits["observationStartMJD"].min() > earlier["observationStartMJD"].max()
    assert visits["observationStartMJD"].min() >= result.sim_start_mjd
    assert "delay_60" in result.tags


def test_bad_arguments(site_data_dir) -> None:
    with pytest.raises(InvalidInputError, match="telescope"):
        run_simulation(DEFAULT_CONFIG, day_obs=DAY_OBS, telescope="hubble", site_data_dir=site_data_dir)
    with pytest.raises(InvalidInputError, match="nights"):
        run_simulation(DEFAULT_CONFIG, day_obs=DAY_OBS, nights=0, site_data_dir=site_data_dir)


def test_variants_by_name() -> None:
    from vseq_resources.simulation.variants import variant_by_name

    assert variant_by_name("nominal") is NOMINAL
    delay_240 = variant_by_name("delay_240")
    assert delay_240.tags == ("prenight", "ideal", "delay_240")  # production's Simonyi tags
    assert delay_240.delay_minutes == 240
    assert delay_240.description == (
        "Start time delayed by 240 minutes, nominal slew and visit overhead, ideal conditions"
    )
    assert variant_by_name("delay_30").delay_minutes == 30
    assert variant_by_name("seeing_1.5").seeing_fwhm_500 == 1.5
    assert "nominal" not in variant_by_name("seeing_1.5").tags
    anomalous = variant_by_name("anomalous_overhead")  # production's Simonyi run
    assert anomalous.tags == ("prenight", "ideal", "anomalous_overhead")
    assert anomalous.description == "Anomalous overhead (101, 10.0), nominal start, ideal conditions"
    assert anomalous.anomalous_overhead == (101, 10.0)
    sv = variant_by_name("anomalous_overhead_102_0.1")  # one of production's SV runs
    assert (sv.tags, sv.anomalous_overhead) == (anomalous.tags, (102, 0.1))
    assert sv.description == "Anomalous overhead (102, 0.1), nominal start, ideal conditions"
    with pytest.raises(InvalidInputError, match="unknown simulation variant"):
        variant_by_name("sunny")


def test_anomalous_overhead_run_shifts_the_visits(site_data: SiteData, site_data_dir) -> None:
    """The anomalous-overhead run starts like the nominal one, then its visits start later or
    earlier by production's random slew offsets (recorded in its sim_runner arguments)."""
    from vseq_resources.simulation import run_simulations
    from vseq_resources.simulation.variants import ANOMALOUS_OVERHEAD

    nominal, anomalous = run_simulations(
        DEFAULT_CONFIG,
        day_obs=DAY_OBS,
        variants=(NOMINAL, ANOMALOUS_OVERHEAD),
        site_data_dir=site_data_dir,
        duration_hours=0.4,
        workers=1,
    )
    first = [r.observations["observationStartMJD"].iloc[0] for r in (nominal, anomalous)]
    assert first[0] == first[1]
    starts = [r.observations["observationStartMJD"] for r in (nominal, anomalous)]
    assert not starts[0].equals(starts[1])
    assert anomalous.sim_runner_kwargs["anomalous_overhead"] == {"seed": 101, "slew_scale": 10.0}
    assert nominal.sim_runner_kwargs["anomalous_overhead"] is None
    assert anomalous.label.startswith("Anomalous overhead (101, 10.0), nominal start, ideal conditions, ")


def test_parallel_variants_with_fast_paths_simulate_the_same_visits(
    site_data: SiteData, site_data_dir
) -> None:
    """Two variants in two worker processes with vseq's mask padding and reward tables give,
    visit for visit and reward for reward, what one process with rubin_scheduler's own code
    gives; results come back in variant order."""
    from vseq_resources.simulation import run_simulations
    from vseq_resources.simulation.variants import SEEING_1_2

    common = {
        "day_obs": DAY_OBS,
        "variants": (NOMINAL, SEEING_1_2),
        "site_data_dir": site_data_dir,
        "duration_hours": 0.75,
        "record_rewards": True,
        "preloaded_visits": synthetic_visits(
            500, DAY_OBS - dt.timedelta(days=10), DAY_OBS - dt.timedelta(days=1)
        ),
    }
    seen = []
    reference = run_simulations(DEFAULT_CONFIG, workers=1, fast=False, **common)
    parallel = run_simulations(DEFAULT_CONFIG, workers=2, fast=True, on_result=seen.append, **common)
    assert [r.variant.name for r in parallel] == [r.variant.name for r in seen] == ["nominal", "seeing_1.2"]
    for ref, par in zip(reference, parallel, strict=True):
        assert len(ref.observations) > 50
        assert par.n_preloaded == ref.n_preloaded == 500
        pd.testing.assert_frame_equal(par.observations, ref.observations)
        for key in ("reward_df", "obs_rewards"):
            pd.testing.assert_frame_equal(_simulated(par.rewards[key]), _simulated(ref.rewards[key]))


def _simulated(rewards: pd.DataFrame) -> pd.DataFrame:
    """A rewards table without ``queue_fill_mjd_ns``, stamped from the machine's clock."""
    rewards = rewards.reset_index()
    return rewards.drop(columns=[c for c in rewards.columns if c == "queue_fill_mjd_ns"])
