"""The approximate sky model: the interface ModelObservatory uses, and sensible physics."""

from __future__ import annotations

import healpy as hp
import numpy as np
from rubin_scheduler.site_models import Almanac

from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.simulation import ApproximateSkyModel, SiteData

from .conftest import DAY_OBS


def test_full_sky_and_single_pixels(site_data: SiteData) -> None:
    with site_data.activated():
        almanac = Almanac()
    model = ApproximateSkyModel(nside=32, almanac=almanac)
    info = almanac.get_sunset_info(mjd=dayobs_mjd_start(DAY_OBS) + 0.6)
    midnight = (info["sun_n18_setting"] + info["sun_n18_rising"]) / 2
    mags = model.return_mags(midnight)
    assert set(mags) == set("ugrizy")
    assert mags["r"].size == hp.nside2npix(32)
    visible = np.isfinite(mags["r"])
    assert 0.2 < visible.mean() < 0.5  # above 20 degrees: about a third of the sphere
    # Red bands are brighter (smaller magnitudes) than blue ones.
    assert (
        np.nanmedian(mags["u"]) > np.nanmedian(mags["g"]) > np.nanmedian(mags["r"]) > np.nanmedian(mags["y"])
    )
    one = model.return_mags(midnight, indx=[int(np.nanargmax(mags["r"]))], bands=["r"])
    assert one["r"].shape == (1,)
    assert abs(one["r"][0] - np.nanmax(mags["r"])) < 1e-9
    # Twilight is brighter than the middle of the night.
    twilight = model.return_mags(info["sun_n12_setting"], bands=["r"])
    assert np.nanmedian(twilight["r"]) < np.nanmedian(mags["r"]) - 0.5
