"""The night (dayobs) of visits, vectorised: the one place ``observationStartMJD`` becomes a night.

Nights are handled as ``date.toordinal()`` integers so that whole columns compare with NumPy.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..dayobs import MJD_EPOCH, DayobsError, parse_dayobs
from ..errors import InvalidInputError

_MICROSECONDS_PER_DAY = 86_400_000_000
_MJD_EPOCH_ORDINAL = MJD_EPOCH.date().toordinal()


def night_ordinal(value: dt.date | str | int) -> int:
    """A night given as a dayobs (``YYYY-MM-DD``, ``YYYYMMDD`` or a date) as ``date.toordinal()``."""
    try:
        return parse_dayobs(value).toordinal()
    except DayobsError as err:
        raise InvalidInputError(str(err)) from None


def dayobs_ordinals(mjd: pd.Series | np.ndarray) -> np.ndarray:
    """Vectorised `vseq_resources.dayobs.dayobs_of_mjd`, as ``date.toordinal()`` integers.

    The MJD is rounded to whole microseconds first, as ``dayobs_of_mjd`` does through
    ``datetime``, so both agree on visits right at the 12:00 UTC rollover.
    """
    values = np.asarray(mjd, dtype="float64")
    microseconds = np.round(values * _MICROSECONDS_PER_DAY).astype(np.int64)
    days = (microseconds - _MICROSECONDS_PER_DAY // 2) // _MICROSECONDS_PER_DAY
    return days + _MJD_EPOCH_ORDINAL
