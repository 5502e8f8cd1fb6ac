"""Offline site data: the almanac loads in rubin_scheduler and covers the nights around the window."""

from __future__ import annotations

import datetime as dt

import numpy as np
from astropy.utils import iers
from rubin_scheduler.site_models import Almanac
from rubin_scheduler.skybrightness_pre import dark_sky

from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.simulation import SiteData, prepare_site_data

from .conftest import DAY_OBS


def test_astropy_is_configured_offline() -> None:
    assert iers.conf.auto_download is False
    assert iers.conf.auto_max_age is None


def test_files_and_description(site_data: SiteData) -> None:
    root = site_data.directory
    for name in ("sunsets.npz", "sun_moon.npz", "planet_locations.npz", "icover.3.5292.23.0.txt"):
        assert (root / "site_models" / name).is_file()
    assert (root / "skybrightness_pre" / "dark_maps.npz").is_file()
    assert "skybrightness_pre,vseq_approximate_sky" in (root / "versions.txt").read_text()
    assert site_data.approximate
    assert site_data.description["kind"] == "vseq_approximate"
    assert site_data.description["almanac"].startswith("astropy ")
    assert "approximate" in site_data.description["sky_model"]


def test_almanac_loads_and_brackets_the_night(site_data: SiteData) -> None:
    night_start = dayobs_mjd_start(DAY_OBS)
    with site_data.activated():
        almanac = Almanac(mjd_start=night_start)
        sunsets = almanac.sunsets
        # The night before, the night itself and the night after.
        assert np.any(sunsets["sunset"] < night_start)
        assert np.any(sunsets["sunset"] > night_start + 1)
        info = almanac.get_sunset_info(mjd=night_start + 0.6)
        assert night_start < info["sunset"] < info["sun_n12_setting"] < info["sun_n18_setting"]
        assert info["sun_n18_setting"] < info["sun_n18_rising"] < info["sun_n12_rising"] < info["sunrise"]
        # The sun really is at -12 degrees at twilight.
        sun = almanac.get_sun_moon_positions(info["sun_n12_setting"])
        assert abs(np.degrees(sun["sun_alt"]) + 12.0) < 0.05
        maps = dark_sky(32)
        assert set(maps.dtype.names) == set("ugrizy")
        assert 20.5 < np.nanmax(maps["r"]) < 21.5


def test_prepared_data_are_cached(site_data: SiteData, site_data_dir) -> None:
    built = {path: path.stat().st_mtime_ns for path in site_data.directory.rglob("*")}
    again = prepare_site_data(DAY_OBS, DAY_OBS, cache_dir=site_data_dir)
    assert again.directory == site_data.directory
    # Nothing was built again: the same files, untouched.
    assert {path: path.stat().st_mtime_ns for path in again.directory.rglob("*")} == built
    other = prepare_site_data(DAY_OBS, DAY_OBS + dt.timedelta(days=1), cache_dir=site_data_dir)
    assert other.directory != site_data.directory


def test_activation_restores_environment(site_data: SiteData, monkeypatch) -> None:
    monkeypatch.setenv("RUBIN_SIM_DATA_DIR", "/nonexistent/rubin_sim_data")
    with site_data.activated():
        import os

        assert os.environ["RUBIN_SIM_DATA_DIR"] == str(site_data.directory)
    import os

    assert os.environ["RUBIN_SIM_DATA_DIR"] == "/nonexistent/rubin_sim_data"


def test_field_tessellation_covers_the_sky_at_the_camera_radius(site_data: SiteData) -> None:
    """Every point of the sky is observed by its nearest field (rubin's ``HpInLsstFov`` radius)."""
    import healpy as hp
    import numpy as np
    from rubin_scheduler.site_models import read_fields
    from scipy.spatial import cKDTree

    from vseq_resources.simulation.fields import FOV_RADIUS_DEG, N_FIELDS

    with site_data.activated():
        ra_deg, dec_deg = read_fields()
    assert len(ra_deg) == N_FIELDS
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    centres = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    sky = np.array(hp.pix2vec(512, np.arange(hp.nside2npix(512)))).T
    distance, _ = cKDTree(centres).query(sky)
    farthest = np.degrees(2 * np.arcsin(distance.max() / 2))
    assert farthest < FOV_RADIUS_DEG - 0.02, farthest
