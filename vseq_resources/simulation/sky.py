"""An approximate, analytic sky-brightness model for simulations without the pre-computed sky maps.

rubin_scheduler reads sky brightness from ~75 GB of pre-computed ESO-model maps
(``skybrightness_pre``), which cannot be downloaded or regenerated offline. Without a sky the
scheduler's depth-based rewards are meaningless, so vseq substitutes this model. It is
APPROXIMATE: good enough for a plausible night plan (dark time vs. bright time, twilight, moon
avoidance, airmass), not for depth predictions. Simulations using it are recorded with
``site_data["kind"] == "vseq_approximate"`` so they are never mistaken for production runs.

Model, per band b, for a sky position at zenith distance z (airmass X = 1/cos z, clipped at 3.5):

1. Dark sky: ``m_dark = m_zen[b] - 2.5 log10(X) + k[b] (X - 1)`` -- the dark-sky zenith
   brightness of SMTN-002 (LSST system throughputs, table "m_sky dark"), brightened by the van
   Rhijn airglow path-length factor X and dimmed by atmospheric extinction k[b] (SMTN-002 values)
   as in Krisciunas & Schaefer 1991 (PASP 103, 1033; hereafter K&S), eq. 2.
2. Moon: the K&S V-band model. Moon illuminance ``I* = 10^(-0.4 (3.84 + 0.026 |a| + 4e-9 a^4))``
   for phase angle a (degrees, 0 = full), scattering function
   ``f(rho) = 10^5.36 (1.06 + cos^2 rho) + 10^(6.15 - rho/40)`` for moon-sky separation rho,
   ``B_moon = f(rho) I* 10^(-0.4 k_V X_moon) (1 - 10^(-0.4 k_V X))`` in nanolamberts with the
   K&S airmass ``X = (1 - 0.96 sin^2 z)^-0.5``, converted to V mag/arcsec^2 with K&S eq. 1. The
   moonlight is given the Sun's colour in each band (V - b of the Sun: u -1.70, g -0.27, r +0.17,
   i +0.28, z +0.31, y +0.33, from solar AB colours), ignoring the extra blueing by Rayleigh
   scattering. Zero when the moon is below the horizon.
3. Twilight: flux ``10^(-0.4 (m12[b] + k[b] (X - 1))) exp(a (h_sun + 12 deg)) (1 + 0.67 cos d)``
   with sun altitude h_sun, slope a = 22 per radian (about 0.4 mag per degree, the order of the
   twilight fits of Yoachim et al. 2016, SPIE 9910, for the Rubin site), zenith brightness at
   h_sun = -12 degrees m12 = u 20.0, g 19.3, r 19.0, i 18.8, z 18.4, y 17.8 mag/arcsec^2
   (rounded, same source), and d the angular distance from the Sun, so that the sky towards the
   Sun is five times brighter than opposite it. Ignored when the Sun is below -21 degrees.

The three terms are added as fluxes. Pixels below ``ALT_LIMIT_DEG`` (20 degrees) are NaN in full
sky maps, which rubin_scheduler's ``Conditions`` treats as unobservable; single pixels are
always computed (the model is defined down to the horizon), as ``extrapolate=True`` asks.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import healpy as hp
import numpy as np
from rubin_scheduler.site_models import Almanac
from rubin_scheduler.utils import Site, _angular_separation, _approx_ra_dec2_alt_az, _hpid2_ra_dec

BANDS = ("u", "g", "r", "i", "z", "y")
ALT_LIMIT_DEG = 20.0
MAX_AIRMASS = 3.5
DARK_ZENITH_MAG = {"u": 23.05, "g": 22.25, "r": 21.20, "i": 20.46, "z": 19.61, "y": 18.60}
EXTINCTION = {"u": 0.470, "g": 0.213, "r": 0.126, "i": 0.096, "z": 0.069, "y": 0.170}
EXTINCTION_V = 0.172
SUN_V_MINUS_BAND = {"u": -1.70, "g": -0.27, "r": 0.17, "i": 0.28, "z": 0.31, "y": 0.33}
TWILIGHT_M12 = {"u": 20.0, "g": 19.3, "r": 19.0, "i": 18.8, "z": 18.4, "y": 17.8}
TWILIGHT_SLOPE_PER_RAD = 22.0
TWILIGHT_MIN_SUN_ALT_DEG = -21.0
MODEL_NAME = (
    "vseq approximate sky v1 (SMTN-002 dark sky, Krisciunas & Schaefer 1991 moon, exponential twilight)"
)


def _ks_airmass(zenith_distance: np.ndarray) -> np.ndarray:
    return (1.0 - 0.96 * np.sin(zenith_distance) ** 2) ** -0.5


def _nanolambert_to_vmag(brightness: np.ndarray) -> np.ndarray:
    # Inverse of K&S eq. 1: B[nL] = 34.08 exp(20.7233 - 0.92104 V).
    with np.errstate(divide="ignore"):
        return (20.7233 - np.log(brightness / 34.08)) / 0.92104


def moon_v_mag(
    sky_alt: np.ndarray, moon_sep: np.ndarray, moon_alt: float, moon_phase_angle_deg: float
) -> np.ndarray:
    """Sky brightness from scattered moonlight, V mag/arcsec^2 (K&S 1991); inf when no moon."""
    if moon_alt <= 0:
        return np.full(sky_alt.shape, np.inf)
    alpha = abs(moon_phase_angle_deg)
    illuminance = 10.0 ** (-0.4 * (3.84 + 0.026 * alpha + 4e-9 * alpha**4))
    rho_deg = np.degrees(moon_sep)
    scattering = 10.0**5.36 * (1.06 + np.cos(moon_sep) ** 2) + 10.0 ** (6.15 - rho_deg / 40.0)
    x_moon = _ks_airmass(np.pi / 2 - moon_alt)
    x_sky = _ks_airmass(np.pi / 2 - np.clip(sky_alt, 0.0, None))
    brightness = (
        scattering
        * illuminance
        * 10.0 ** (-0.4 * EXTINCTION_V * x_moon)
        * (1 - 10.0 ** (-0.4 * EXTINCTION_V * x_sky))
    )
    return _nanolambert_to_vmag(brightness)


class ApproximateSkyModel:
    """A stand-in for ``SkyModelPre``: the same ``nside`` and ``return_mags`` interface.

    Sun and moon positions come from the (vseq-computed or real) almanac, so the model is as fast
    as a table lookup plus a few vectorised expressions per call.
    """

    def __init__(self, nside: int = 32, almanac: Almanac | None = None) -> None:
        self.nside = nside
        self.almanac = almanac if almanac is not None else Almanac()
        site = Site("LSST")
        self._lat = site.latitude_rad
        self._lon = site.longitude_rad
        self.ra, self.dec = _hpid2_ra_dec(nside, np.arange(hp.nside2npix(nside)))

    def return_mags(
        self,
        mjd: float,
        indx: Sequence[int] | np.ndarray | None = None,
        badval: float = hp.UNSEEN,
        bands: Sequence[str] = BANDS,
        extrapolate: bool = False,
        filters: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Sky brightness (mag/arcsec^2) per band at ``mjd``, full sky or at healpix ``indx``.

        Full-sky maps hold NaN below 20 degrees altitude; pixels asked for by ``indx`` get
        ``badval`` there unless ``extrapolate`` is set, in which case the model is evaluated.
        """
        if filters is not None:
            warnings.warn("filters deprecated in favor of bands", FutureWarning, stacklevel=2)
            bands = filters
        full_sky = indx is None
        pix = slice(None) if full_sky else np.atleast_1d(np.asarray(indx, dtype=int)).ravel()
        ra, dec = self.ra[pix], self.dec[pix]
        alt, _ = _approx_ra_dec2_alt_az(ra, dec, self._lat, self._lon, mjd)
        sm = {k: float(np.max(v)) for k, v in self.almanac.get_sun_moon_positions(mjd).items()}
        sun_alt, moon_alt = sm["sun_alt"], sm["moon_alt"]
        phase_angle = 180.0 - sm["moon_phase"] * 1.8
        moon_sep = _angular_separation(ra, dec, sm["moon_RA"], sm["moon_dec"])
        sun_sep = _angular_separation(ra, dec, sm["sun_RA"], sm["sun_dec"])

        airmass = np.clip(1.0 / np.sin(np.clip(alt, np.radians(1.0), None)), 1.0, MAX_AIRMASS)
        moon_v = moon_v_mag(alt, moon_sep, moon_alt, phase_angle)
        twilight = np.degrees(sun_alt) > TWILIGHT_MIN_SUN_ALT_DEG
        twilight_flux_factor = np.exp(TWILIGHT_SLOPE_PER_RAD * (sun_alt + np.radians(12.0))) * (
            1 + 0.67 * np.cos(sun_sep)
        )

        below = alt < np.radians(ALT_LIMIT_DEG)
        result = {}
        for band in bands:
            extinction = EXTINCTION[band] * (airmass - 1.0)
            flux = 10.0 ** (-0.4 * (DARK_ZENITH_MAG[band] - 2.5 * np.log10(airmass) + extinction))
            flux = flux + 10.0 ** (-0.4 * (moon_v - SUN_V_MINUS_BAND[band]))
            if twilight:
                flux = flux + twilight_flux_factor * 10.0 ** (-0.4 * (TWILIGHT_M12[band] + extinction))
            mags = -2.5 * np.log10(flux)
            if full_sky:
                mags[below] = np.nan
            elif not extrapolate:
                mags[below] = badval
            result[band] = mags
        return result


def dark_maps(nside: int = 32) -> np.ndarray:
    """The ``dark_maps.npz`` array: the darkest sky each pixel reaches (no moon, no twilight).

    That is the dark-sky term at the pixel's smallest airmass (on the meridian), which is what
    rubin_scheduler's generator takes as the maximum over a year of pre-computed maps.
    ``M5DiffBasisFunction`` compares the current depth with it.
    """
    _, dec = _hpid2_ra_dec(nside, np.arange(hp.nside2npix(nside)))
    min_zenith = np.abs(dec - np.radians(Site("LSST").latitude))
    airmass = np.clip(1.0 / np.cos(np.clip(min_zenith, 0, np.radians(89.0))), 1.0, MAX_AIRMASS)
    table = np.empty(dec.size, dtype=[(b, float) for b in BANDS])
    for band in BANDS:
        table[band] = DARK_ZENITH_MAG[band] - 2.5 * np.log10(airmass) + EXTINCTION[band] * (airmass - 1.0)
    return table
