"""Synthetic completed visits in the opsim schema, for pre-loading tests and benchmarks.

Visits are spread over the default footprint (weighted by its r-band target) at night times
(00:30-09:00 UTC, inside the Chilean night all year), in ugrizy with the footprint's band ratios.
They are shaped like real visits, not scheduled like them: enough to exercise the scheduler's
bookkeeping at realistic volume.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from typing import TYPE_CHECKING

import healpy as hp
import numpy as np
import pandas as pd
from rubin_scheduler.scheduler.utils import ObservationArray, SchemaConverter
from rubin_scheduler.utils import _hpid2_ra_dec

from vseq_resources.dayobs import dayobs_mjd_start, dayobs_of_mjd
from vseq_resources.simulation.default_config import BANDS, WFD_RATIOS, footprint_maps

if TYPE_CHECKING:
    from vseq_resources.archive import VisitSequenceArchive


def synthetic_visits(n: int, first_day_obs: dt.date, last_day_obs: dt.date, seed: int = 42) -> pd.DataFrame:
    """``n`` opsim-schema visits (all 48 columns) on nights ``first_day_obs``..``last_day_obs``."""
    rng = np.random.default_rng(seed)
    nside = 32
    weights = footprint_maps(nside)["r"]
    pix = rng.choice(weights.size, size=n, p=weights / weights.sum())
    ra, dec = _hpid2_ra_dec(nside, pix)
    jitter = np.radians(hp.nside2resol(nside, arcmin=True) / 60.0)
    n_nights = (last_day_obs - first_day_obs).days + 1
    night = rng.integers(0, n_nights, size=n)
    mjd = dayobs_mjd_start(first_day_obs) + night + 0.5 + rng.uniform(0.02, 0.375, size=n)
    ratios = np.array([WFD_RATIOS[b] for b in BANDS])
    obs = ObservationArray(n=n)
    obs["ID"] = np.arange(n)
    obs["RA"] = (ra + rng.uniform(-jitter, jitter, n) / np.cos(dec)) % (2 * np.pi)
    obs["dec"] = np.clip(dec + rng.uniform(-jitter, jitter, n), -np.pi / 2, np.pi / 2)
    obs["mjd"] = mjd
    obs["band"] = rng.choice(list(BANDS), size=n, p=ratios / ratios.sum())
    obs["filter"] = obs["band"]
    obs["exptime"] = 30.0
    obs["nexp"] = 1
    obs["visittime"] = 31.0
    obs["night"] = night
    obs["airmass"] = 1.2
    obs["FWHMeff"] = 0.9
    obs["fivesigmadepth"] = 24.0
    obs["scheduler_note"] = "synthetic"
    obs["target_name"] = ""
    obs.sort(order="mjd")
    return SchemaConverter().obs2opsim(obs)


def archive_nightly(archive: VisitSequenceArchive, visits: pd.DataFrame) -> dict[dt.date, uuidlib.UUID]:
    """Record ``visits`` as one ``simonyi`` completed sequence per night, as the pipeline does."""
    nights = visits["observationStartMJD"].map(dayobs_of_mjd)
    recorded = {}
    for night, frame in visits.groupby(nights, sort=True):
        recorded[night] = archive.record_sequence(
            "completed",
            frame.reset_index(drop=True),
            label=f"completed {night}",
            telescope="simonyi",
            first_day_obs=night,
            last_day_obs=night,
            query="synthetic",
        ).uuid
    return recorded
