"""obsloctap's window: the nights from the first sunset after a reference time."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dayobs import dayobs_of_mjd, mjd_of

if TYPE_CHECKING:
    import numpy as np

OBSLOCTAP_COLUMNS = (
    "observationStartMJD",
    "fieldRA",
    "fieldDec",
    "rotSkyPos",
    "band",
    "visitExposureTime",
    "night",
    "target_name",
)
"""The visit columns obsloctap publishes."""


@dataclass(frozen=True)
class NightWindow:
    """The nights obsloctap shows: from a sunset to a sunrise, and the dayobs they span."""

    start_mjd: float
    end_mjd: float
    first_day_obs: dt.date
    last_day_obs: dt.date


def obsloctap_window(reference: dt.datetime, nights: int = 2) -> NightWindow:
    """From the first sunset after ``reference`` to the sunrise ending the ``nights``-th night."""
    ref_mjd = mjd_of(reference)
    table = night_bounds(math.floor(ref_mjd) - 1, math.floor(ref_mjd) + nights + 2)
    after = table[table["sunset"] > ref_mjd]
    if len(after) < nights:
        raise ValueError(f"the almanac does not cover {nights} nights after {reference.isoformat()}")
    first_night = int(after["night"].min())
    by_night = {int(n): row for n, row in zip(table["night"], table, strict=True)}
    last_night = first_night + nights - 1
    if last_night not in by_night:
        raise ValueError(f"the almanac has no night {last_night}")
    start = float(by_night[first_night]["sunset"])
    end = float(by_night[last_night]["sunrise"])
    return NightWindow(start, end, dayobs_of_mjd(start), dayobs_of_mjd(end))


def night_bounds(first_mjd: int, last_mjd: int) -> np.ndarray:
    """Almanac rows (``night``, ``sunset``, ..., ``sunrise``) of the nights whose sunset falls in
    [first_mjd, last_mjd]: rubin_sim_data's almanac when ``RUBIN_SIM_DATA_DIR`` holds the real
    data, else computed with astropy (vseq's site-data almanac), cached per process."""
    return _night_bounds(int(first_mjd), int(last_mjd))


@functools.lru_cache(maxsize=32)
def _night_bounds(first_mjd: int, last_mjd: int) -> np.ndarray:
    from ..simulation.site_data import real_site_data_dir

    if real_site_data_dir() is not None:
        from rubin_scheduler.site_models import Almanac

        sunsets = Almanac().sunsets
        return sunsets[(sunsets["sunset"] >= first_mjd) & (sunsets["sunset"] <= last_mjd)]
    from ..simulation.almanac import Span, site_location, sun_moon_positions, sunsets_table
    from ..simulation.offline import configure_offline_astropy

    configure_offline_astropy()
    location = site_location()
    positions = sun_moon_positions([Span(first_mjd, last_mjd + 2.0)], location)
    return sunsets_table([Span(first_mjd, last_mjd)], positions, location)
