"""Feeding completed visits into a scheduler before it simulates the coming night.

A pre-night simulation starts from the survey's real state: the scheduler's features (visit
counts per pixel and band, last observation times, pair bookkeeping) must have seen every visit
already taken. Production converts the opsim-schema visits with
``SchemaConverter().opsim2obs`` and calls ``scheduler.add_observations_array``. vseq does the same
from a DataFrame, but fills an ``ObservationArray`` (zeros and defaults) rather than the
converter's uninitialised array, so visits lacking some columns (ConsDB-derived ones often do)
never feed garbage into the features.

Pre-loading a year of visits is dominated by rubin_scheduler copying and sorting (by ``mjd``)
per-pixel copies of the visits in every survey; ties between the copies of one visit are broken
by comparing every field, so the width of the records matters. The array handed over therefore
narrows each text field to its longest value (``ObservationArray`` reserves 60 characters),
which makes pre-loading several times faster and smaller without changing any value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rubin_scheduler.scheduler.schedulers import CoreScheduler
from rubin_scheduler.scheduler.utils import ObservationArray, SchemaConverter

from ..errors import InvalidInputError

REQUIRED_COLUMNS = ("observationStartMJD", "fieldRA", "fieldDec")


def visits_to_observations(visits: pd.DataFrame) -> ObservationArray:
    """Opsim-schema visits (degrees) as a rubin_scheduler ``ObservationArray`` (radians)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in visits.columns]
    if missing:
        raise InvalidInputError(f"pre-loaded visits lack the opsim columns {missing}")
    if "band" not in visits.columns and "filter" not in visits.columns:
        raise InvalidInputError("pre-loaded visits have neither a band nor a filter column")
    converter = SchemaConverter()
    degrees = set(converter.angles_rad2deg)
    hours = set(converter.angles_hours2deg)
    obs = ObservationArray(n=len(visits))
    for column, field in converter.convert_dict.items():
        if column not in visits.columns or field not in obs.dtype.names:
            continue
        values = visits[column].to_numpy()
        if obs.dtype[field].kind == "U":
            values = pd.Series(values).fillna("").astype(str).to_numpy()
        elif column in degrees:
            values = np.radians(values.astype(float))
        elif column in hours:
            values = values.astype(float) * 24.0 / 360.0
        obs[field] = values
    return obs


def preload_visits(scheduler: CoreScheduler, visits: pd.DataFrame) -> int:
    """Add completed visits to the scheduler's memory; returns how many were added."""
    if len(visits) == 0:
        return 0
    obs = visits_to_observations(visits)
    scheduler.add_observations_array(_narrow_text_fields(obs))
    return len(obs)


def _narrow_text_fields(obs: np.ndarray) -> np.ndarray:
    """The same records with each text field only as wide as its longest value."""
    dtype = []
    for name in obs.dtype.names:
        kind = obs.dtype[name]
        if kind.kind == "U":
            kind = np.dtype(f"U{max(1, int(np.strings.str_len(obs[name]).max()))}")
        dtype.append((name, kind))
    narrow = np.empty(obs.size, dtype=dtype)
    for name in obs.dtype.names:
        narrow[name] = obs[name]
    return narrow
