"""Synthetic nights in the opsim schema: one shaped like a baseline night, and ways to break it.

:func:`baseline_like_night` fills a night (Sun below -12 degrees) with a visit every 37 s, each
3.5 degrees from the previous one, in ~40-minute blocks of alternating bands at airmass 1.2 with
5-second slews, the Moon given by the caller. Each ``broken_*`` function returns a copy with one
defect a scheduler scientist would reject.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.plausibility import sun_altitude_deg

VISIT_SECONDS = 37.0
BLOCK_VISITS = 65  # about 40 minutes


def baseline_like_night(
    day_obs: dt.date,
    *,
    bands: tuple[str, ...] = ("g", "r", "i", "u", "g", "r", "i", "z"),
    moon_alt: float = -20.0,
    moon_phase: float = 10.0,
) -> pd.DataFrame:
    start = dayobs_mjd_start(day_obs)
    grid = start + np.arange(0.0, 1.0, 1.0 / 1440.0)
    night = grid[sun_altitude_deg(grid) < -12.0]
    mjd = np.arange(night[0], night[-1], VISIT_SECONDS / 86400.0)
    n = mjd.size
    ra = (np.arange(n) * 3.5) % 360.0
    dec = -30.0 + 20.0 * np.sin(np.arange(n) / 7.0)
    band = np.array([bands[(i // BLOCK_VISITS) % len(bands)] for i in range(n)])
    return pd.DataFrame(
        {
            "observationStartMJD": mjd,
            "fieldRA": ra,
            "fieldDec": dec,
            "band": band,
            "airmass": np.full(n, 1.2),
            "slewTime": np.full(n, 5.0),
            "visitTime": np.full(n, 31.0),
            "sunAlt": sun_altitude_deg(mjd),
            "moonAlt": np.full(n, moon_alt),
            "moonPhase": np.full(n, moon_phase),
            "scheduler_note": np.full(n, "pair_33, gr, a"),
            "observation_reason": np.full(n, "pairs_gr_33.0"),
            "target_name": np.full(n, ""),
        }
    )


def auxtel_like_night(day_obs: dt.date) -> pd.DataFrame:
    """The first 3 hours of a baseline-like night: what vseq simulates for AuxTel."""
    night = baseline_like_night(day_obs)
    mjd = night["observationStartMJD"]
    return night.loc[mjd < mjd.min() + 3.0 / 24.0].reset_index(drop=True)


def broken_rate(visits: pd.DataFrame) -> pd.DataFrame:
    """A third of the visits: 30 visits per hour of dark time."""
    return visits.iloc[::3].reset_index(drop=True)


def broken_repeats(visits: pd.DataFrame, length: int = 12) -> pd.DataFrame:
    """One pointing observed ``length`` times back to back (the greedy tier's degenerate run)."""
    broken = visits.copy()
    middle = len(broken) // 2
    broken.loc[middle : middle + length - 1, ["fieldRA", "fieldDec"]] = (122.5, -49.7)
    return broken


def broken_one_band(visits: pd.DataFrame) -> pd.DataFrame:
    """The whole night in one band: no band change."""
    return visits.assign(band="g")


def broken_band_thrashing(visits: pd.DataFrame) -> pd.DataFrame:
    """The band changes with every visit."""
    return visits.assign(band=np.where(np.arange(len(visits)) % 2 == 0, "g", "r"))


def broken_airmass(visits: pd.DataFrame) -> pd.DataFrame:
    return visits.assign(airmass=1.8)


def broken_slews(visits: pd.DataFrame) -> pd.DataFrame:
    return visits.assign(slewTime=30.0)


def broken_gap(visits: pd.DataFrame, hours: float = 3.0) -> pd.DataFrame:
    """Nothing observed for ``hours`` in the middle of the night."""
    mjd = visits["observationStartMJD"]
    middle = float(mjd.median())
    keep = (mjd < middle - hours / 48.0) | (mjd > middle + hours / 48.0)
    return visits.loc[keep].reset_index(drop=True)


def broken_bright_u(visits: pd.DataFrame) -> pd.DataFrame:
    """u and g all night under a bright Moon."""
    return visits.assign(
        moonAlt=40.0, moonPhase=95.0, band=np.where(np.arange(len(visits)) // 65 % 2, "u", "g")
    )


def broken_dark_red(visits: pd.DataFrame) -> pd.DataFrame:
    """Only z and y on a dark night."""
    return visits.assign(band=np.where(np.arange(len(visits)) // 65 % 2, "z", "y"))
