"""What a visits table is: its time column, what counts as a text column, where it lives in
``visits.h5``, and the check that refuses frames that are not visits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InvalidInputError

VISITS_FILE_NAME = "visits.h5"
OBSERVATIONS_KEY = "observations"
MJD_COLUMN = "observationStartMJD"
MJD_RANGE = (40000.0, 100000.0)
"""Sane observation start MJDs: 1968 to 2132. Anything outside is a unit or column mistake."""


def validate_observations(observations: pd.DataFrame) -> None:
    """Refuse frames that are not visits: no MJD column, or MJDs that are missing or absurd."""
    if not isinstance(observations, pd.DataFrame):
        raise InvalidInputError(f"visits must be a DataFrame, not {type(observations).__name__}")
    if MJD_COLUMN not in observations.columns:
        raise InvalidInputError(f"visits have no {MJD_COLUMN} column")
    mjd = observations[MJD_COLUMN]
    if len(mjd) == 0:
        return
    if not pd.api.types.is_numeric_dtype(mjd) or pd.api.types.is_bool_dtype(mjd):
        raise InvalidInputError(f"{MJD_COLUMN} must be numeric, not {mjd.dtype}")
    values = mjd.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values) | (values < MJD_RANGE[0]) | (values > MJD_RANGE[1])
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{int(bad.sum())} visits have a missing or out-of-range {MJD_COLUMN} "
            f"(first: row {first}, value {values[first]!r}; expected {MJD_RANGE[0]:g} to {MJD_RANGE[1]:g})"
        )


def is_text(dtype: object) -> bool:
    """Object, string (pandas 2 or 3) and categorical columns: stored and hashed as strings."""
    return isinstance(dtype, pd.StringDtype | pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)
