"""Whole nights of the default survey look like the baseline survey (real rubin_scheduler runs).

A dark night (a thin Moon rising before dawn) and a full-moon night: each must pass every
plausibility rule (:mod:`vseq_resources.plausibility`), take pairs about 33 minutes apart, and
choose its bands by the Moon. The dark night is the one on which the greedy tier took one field
27 times in a row in morning twilight before the field tessellation was fixed
(:mod:`vseq_resources.simulation.fields`): with the old 5292-point lattice this test fails.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from vseq_resources.plausibility import assess_night
from vseq_resources.simulation import run_simulation

DEFAULT_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"
DARK = dt.date(2026, 12, 5)
FULL_MOON = dt.date(2026, 12, 24)


def _pair_gaps_minutes(visits: pd.DataFrame) -> np.ndarray:
    """Minutes between the two visits of each pair (same field, notes ``..., a`` then ``..., b``)."""
    pairs = visits[visits["scheduler_note"].str.startswith("simple pair")]
    gaps = []
    for _, field in pairs.groupby([pairs["fieldRA"].round(4), pairs["fieldDec"].round(4)]):
        if len(field) == 2:
            gaps.append(np.ptp(field["observationStartMJD"].to_numpy()) * 1440.0)
    return np.array(gaps)


def _night(day_obs: dt.date, site_data_dir) -> pd.DataFrame:
    return run_simulation(DEFAULT_CONFIG, day_obs=day_obs, site_data_dir=site_data_dir).observations


def test_a_dark_night(tmp_path_factory: pytest.TempPathFactory, monkeypatch_session) -> None:
    visits = _night(DARK, tmp_path_factory.mktemp("dark_site"))
    assessed = assess_night(visits, DARK)
    assert assessed.passed, assessed.summary()
    assert assessed.finding("band_mix_moon").passed, assessed.finding("band_mix_moon")
    assert assessed.numbers["same_pointing_run"] <= 2
    gaps = _pair_gaps_minutes(visits)
    assert len(gaps) > 100
    assert 28 <= np.median(gaps) <= 45, np.median(gaps)
    dark = (visits["moonAlt"] < 0) & (visits["sunAlt"] < -18)
    assert visits.loc[dark, "band"].isin(["u", "g"]).mean() >= 0.10


def test_a_full_moon_night(tmp_path_factory: pytest.TempPathFactory, monkeypatch_session) -> None:
    visits = _night(FULL_MOON, tmp_path_factory.mktemp("full_moon_site"))
    assessed = assess_night(visits, FULL_MOON)
    assert assessed.passed, assessed.summary()
    bands = visits["band"].value_counts()
    assert bands.get("u", 0) == 0
    assert bands.get("y", 0) > 0.1 * len(visits)
