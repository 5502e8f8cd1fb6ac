"""Conversion of opsim-schema visits into the scheduler's observation arrays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vseq_resources.errors import InvalidInputError
from vseq_resources.simulation import visits_to_observations

from .synthetic import synthetic_visits


def test_round_trip_of_angles_and_bands() -> None:
    visits = synthetic_visits(50, dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    assert len(visits.columns) == 48
    obs = visits_to_observations(visits)
    assert np.allclose(np.degrees(obs["RA"]), visits["fieldRA"])
    assert np.allclose(np.degrees(obs["dec"]), visits["fieldDec"])
    assert np.allclose(obs["mjd"], visits["observationStartMJD"])
    assert list(obs["band"]) == list(visits["band"])


def test_minimal_columns_are_enough_and_missing_ones_refused() -> None:
    visits = synthetic_visits(5, dt.date(2026, 11, 1), dt.date(2026, 11, 1))
    obs = visits_to_observations(visits[["observationStartMJD", "fieldRA", "fieldDec", "band"]])
    assert np.all(obs["exptime"] == 0)
    with pytest.raises(InvalidInputError, match="fieldDec"):
        visits_to_observations(visits[["observationStartMJD", "fieldRA", "band"]])
