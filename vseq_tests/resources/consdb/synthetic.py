"""A small, plausible opsim ``observations`` frame for one night, for the ConsDB tests.

Stands in for the short rubin_scheduler simulation the demo will use: a few hundred visits in
time order through the night, in blocks of one band, pointed above the horizon at Cerro Pachon
(RA/Dec derived from the altitude and azimuth at each visit's time), with seeing, sky brightness
and depth typical of each band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rubin_scheduler.utils import Site, approx_alt_az2_ra_dec

from vseq_resources.consdb import empty_opsim_visits
from vseq_resources.dayobs import dayobs_mjd_start

#: What the test ConsDB holds: NIGHT for both instruments; EMPTY_NIGHT has no visits.
NIGHT = "2025-10-16"
EMPTY_NIGHT = "2025-10-17"
LSSTCAM_VISITS = 300
LATISS_VISITS = 60
REST_TOKEN = "test-token-5f0c6a1e"

BAND_ORDER = ("g", "r", "i", "z", "y", "u")
DARK_SKY = {"u": 22.9, "g": 22.3, "r": 21.2, "i": 20.5, "z": 19.6, "y": 18.6}
DEPTH = {"u": 23.8, "g": 24.8, "r": 24.4, "i": 24.0, "z": 23.4, "y": 22.6}
WAVELENGTH_NM = {"u": 368, "g": 480, "r": 621, "i": 754, "z": 869, "y": 971}


def synthetic_night(day_obs: str, n_visits: int = 300, seed: int = 0, night: int = 1) -> pd.DataFrame:
    """``n_visits`` visits of the night of ``day_obs`` (first at about 00:30 UTC)."""
    rng = np.random.default_rng(seed)
    site = Site("LSST")
    frame = empty_opsim_visits(n_visits)
    band = np.array([BAND_ORDER[(i // 50) % len(BAND_ORDER)] for i in range(n_visits)])
    exptime = np.where(band == "u", 38.0, 30.0)
    visit_time = exptime + 2.4
    gaps = visit_time + rng.uniform(4.0, 12.0, n_visits)  # readout, slew and settle
    mjd = dayobs_mjd_start(day_obs) + 0.52 + np.concatenate([[0.0], np.cumsum(gaps[:-1])]) / 86400.0
    altitude = rng.uniform(40.0, 85.0, n_visits)
    azimuth = rng.uniform(0.0, 360.0, n_visits)
    ra, dec = approx_alt_az2_ra_dec(altitude, azimuth, site.latitude, site.longitude, mjd)
    airmass = 1.0 / np.cos(np.radians(90.0 - altitude))
    fwhm_500 = rng.uniform(0.55, 1.1, n_visits)
    wavelength = np.array([WAVELENGTH_NM[b] for b in band])
    fwhm_eff = 1.16 * fwhm_500 * airmass**0.6 * (500.0 / wavelength) ** 0.3
    sky = np.array([DARK_SKY[b] for b in band]) - rng.uniform(0.0, 0.6, n_visits)
    depth = np.array([DEPTH[b] for b in band]) - 1.25 * np.log10(airmass) - 0.8 * (fwhm_eff - 0.7)
    values = {
        "observationId": np.arange(n_visits),
        "observationStartMJD": mjd,
        "fieldRA": ra,
        "fieldDec": dec,
        "rotSkyPos": rng.uniform(0.0, 360.0, n_visits),
        "band": band,
        "filter": band,
        "visitExposureTime": exptime,
        "visitTime": visit_time,
        "numExposures": 1,
        "airmass": airmass,
        "altitude": altitude,
        "azimuth": azimuth,
        "seeingFwhm500": fwhm_500,
        "seeingFwhmEff": fwhm_eff,
        "seeingFwhmGeom": 0.822 * fwhm_eff + 0.052,
        "skyBrightness": sky,
        "fiveSigmaDepth": depth,
        "night": night,
        "target_name": "",
        "observation_reason": np.where(np.arange(n_visits) % 2 == 0, "pairs_gr_33.0", "triplets_iz_33.0"),
        "science_program": np.where(np.arange(n_visits) < n_visits // 3, "BLOCK-365", "BLOCK-407"),
        "scheduler_note": [f"pair_33, {b}, a" for b in band],
    }
    for column, value in values.items():
        frame[column] = pd.Series(value, index=frame.index).astype(frame[column].dtype)
    return frame
