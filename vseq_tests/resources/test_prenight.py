"""What decides whether a pre-night simulation is reused (`vseq_resources.prenight.simulation_inputs`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from vseq_resources.completed_history import PreloadedVisits
from vseq_resources.config import PrenightSettings
from vseq_resources.prenight import simulation_inputs
from vseq_resources.prenight_runs import inputs_fingerprint
from vseq_resources.simulation.variants import ANOMALOUS_OVERHEAD, NOMINAL, SimulationVariant

NIGHT = dt.date(2026, 4, 11)


def _fingerprint(site_data: dict[str, Any], variant: SimulationVariant = NOMINAL) -> str:
    preloaded = PreloadedVisits(None, {NIGHT - dt.timedelta(days=1): uuid.UUID(int=7)})
    inputs = simulation_inputs(
        "simonyi",
        NIGHT,
        PrenightSettings(),
        variant,
        preloaded,
        config={"config_url": "python:m:f", "sha256": "0" * 64},
        site_data=site_data,
        scheduler_version="3.18.1",
    )
    return inputs_fingerprint(inputs)


def test_where_a_host_mounts_rubin_sim_data_does_not_change_the_inputs() -> None:
    """Workers with rubin_sim_data at different paths reuse each other's simulations; other data
    versions do not."""
    site = {"kind": "rubin_sim_data", "versions": {"site_models": "v1", "skybrightness_pre": "v2"}}
    here = _fingerprint({**site, "rubin_sim_data_dir": "/data/rubin_sim_data"})
    there = _fingerprint({**site, "rubin_sim_data_dir": "/mnt/worker-2/rubin_sim_data"})
    assert here == there
    newer = _fingerprint({**site, "versions": {"site_models": "v2", "skybrightness_pre": "v2"}})
    assert newer != here


def test_anomalous_overhead_parameters_are_inputs() -> None:
    """Another seed or scale under the same name is not reused; variants without anomalous
    overhead keep the fingerprint they had before it existed (their archived runs stay reusable)."""
    site = {"kind": "vseq_approximate"}
    changed = dataclasses.replace(ANOMALOUS_OVERHEAD, anomalous_overhead=(102, 10.0))
    assert _fingerprint(site, ANOMALOUS_OVERHEAD) != _fingerprint(site, changed)
    preloaded = PreloadedVisits(None, {})
    config = {"config_url": "python:m:f", "sha256": "0" * 64}
    nominal = simulation_inputs(
        "simonyi",
        NIGHT,
        PrenightSettings(),
        NOMINAL,
        preloaded,
        config=config,
        site_data=site,
        scheduler_version="4.6.0",
    )
    assert set(nominal["variant"]) == {"name", "tags", "delay_minutes", "seeing_fwhm_500"}
