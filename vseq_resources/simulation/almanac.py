"""The three almanac files rubin_scheduler's ``Almanac`` loads, computed offline with astropy.

``ModelObservatory`` always builds an ``Almanac`` from ``site_models/{sunsets, sun_moon,
planet_locations}.npz`` in ``$RUBIN_SIM_DATA_DIR``; the published files (50 years, downloaded) are
out of reach offline. They are plain astronomy, so vseq computes them for the nights it simulates,
with the same quantities, units, record layouts and array keys as rubin_scheduler's generator
scripts (``site_models/generate_sunsets.py``, ``generate_sun_moon_pos.py``,
``generate_planets.py``):

- ``sunsets.npz`` key ``almanac``: one row per night (``night``, ``sunset``, ``sun_n12_setting``,
  ``sun_n18_setting``, ``sun_n18_rising``, ``sun_n12_rising``, ``sunrise``, ``moonrise``,
  ``moonset``; MJD UTC). Events are crossings of the centre of the body through the altitude
  (0, -12 or -18 degrees, no refraction), as astroplan computes them; moonrise and moonset are the
  next ones after sunset.
- ``sun_moon.npz`` key ``sun_moon_info``: ``mjd``, geocentric ``sun_RA``/``sun_dec``/
  ``moon_RA``/``moon_dec``, topocentric ``sun_alt``/``sun_az``/``moon_alt``/``moon_az`` (radians)
  and ``moon_phase`` (sun-moon elongation in percent of 180 degrees, as the generator defines it).
- ``planet_locations.npz`` key ``planet_loc``: ``mjd`` and ICRS ``{venus,mars,jupiter,saturn}_RA``
  / ``_dec`` (radians).

Differences from the published files, all deliberate: events are interpolated on the position
grid and refined by one secant step (well under a second of error); positions are sampled every
15 minutes rather than hourly (the Almanac interpolates quadratically, finer is only better);
planets use astropy's built-in ephemeris because the JPL kernel cannot be downloaded (accurate to
arcseconds, far below what the scheduler's planet avoidance needs); and ``night`` is the MJD of
the local evening date, so nights stay consistent when the file holds separate stretches of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, EarthLocation, get_body, get_sun
from astropy.time import Time
from rubin_scheduler.utils import Site, _angular_separation

from .offline import configure_offline_astropy

POSITION_STEP_DAYS = 15.0 / 1440.0
PLANET_STEP_DAYS = 1.0 / 24.0
PLANETS = ("venus", "mars", "jupiter", "saturn")
SUNSET_FIELDS = (
    "night",
    "sunset",
    "sun_n12_setting",
    "sun_n18_setting",
    "sun_n18_rising",
    "sun_n12_rising",
    "sunrise",
    "moonrise",
    "moonset",
)
SUN_MOON_FIELDS = (
    "mjd",
    "sun_RA",
    "sun_dec",
    "sun_alt",
    "sun_az",
    "moon_RA",
    "moon_dec",
    "moon_alt",
    "moon_az",
    "moon_phase",
)


@dataclass(frozen=True)
class Span:
    """A stretch of time (MJD UTC) the almanac must cover."""

    start: float
    end: float


def site_location() -> EarthLocation:
    """The Rubin site as rubin_scheduler defines it (``Site("LSST")``)."""
    site = Site("LSST")
    return EarthLocation(lat=site.latitude * u.deg, lon=site.longitude * u.deg, height=site.height * u.m)


def _grid(spans: Sequence[Span], step: float) -> np.ndarray:
    return np.unique(np.concatenate([np.arange(s.start, s.end + step, step) for s in spans]))


def _sun_moon(mjds: np.ndarray, location: EarthLocation) -> dict[str, np.ndarray]:
    times = Time(mjds, format="mjd", scale="utc", location=location)
    frame = AltAz(location=location, obstime=times)
    sun = get_sun(times)
    moon = get_body("moon", times)
    sun_aa = sun.transform_to(frame)
    moon_aa = moon.transform_to(frame)
    elongation = _angular_separation(sun.ra.rad, sun.dec.rad, moon.ra.rad, moon.dec.rad)
    return {
        "mjd": mjds,
        "sun_RA": sun.ra.rad,
        "sun_dec": sun.dec.rad,
        "sun_alt": sun_aa.alt.rad,
        "sun_az": sun_aa.az.rad,
        "moon_RA": moon.ra.rad,
        "moon_dec": moon.dec.rad,
        "moon_alt": moon_aa.alt.rad,
        "moon_az": moon_aa.az.rad,
        "moon_phase": elongation / np.pi * 100.0,
    }


def _crossings(mjds: np.ndarray, alt_deg: np.ndarray, level: float, rising: bool) -> np.ndarray:
    """Times at which ``alt_deg`` crosses ``level``, linear between neighbouring samples."""
    above = alt_deg > level
    change = (above[1:] != above[:-1]) & (above[1:] == rising)
    contiguous = np.diff(mjds) <= POSITION_STEP_DAYS * 1.01
    i = np.nonzero(change & contiguous)[0]
    frac = (level - alt_deg[i]) / (alt_deg[i + 1] - alt_deg[i])
    return mjds[i] + frac * (mjds[i + 1] - mjds[i])


def _refine(times: np.ndarray, level: float, key: str, location: EarthLocation) -> np.ndarray:
    """One secant step from the grid interpolation: errors drop from ~10 s to well under 1 s."""
    if times.size == 0:
        return times
    delta = 1.0 / 1440.0
    alt0 = np.degrees(_sun_moon(times, location)[key])
    alt1 = np.degrees(_sun_moon(times + delta, location)[key])
    return times + (level - alt0) * delta / (alt1 - alt0)


def _next_after(events: np.ndarray, times: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(events, times, side="right")
    found = idx < events.size
    out = np.full(times.shape, np.nan)
    out[found] = events[idx[found]]
    return out


def sunsets_table(
    spans: Sequence[Span], positions: dict[str, np.ndarray], location: EarthLocation
) -> np.ndarray:
    """One ``sunsets.npz`` row per night whose sunset falls in ``spans``.

    ``positions`` (from :func:`sun_moon_positions`) must extend about two days past each span so
    that the sunrise, moonrise and moonset following its last sunset are found.
    """
    mjds = positions["mjd"]
    events: dict[tuple[str, float, bool], np.ndarray] = {}
    for key, level, rising in [
        ("sun_alt", 0.0, False),
        ("sun_alt", -12.0, False),
        ("sun_alt", -18.0, False),
        ("sun_alt", -18.0, True),
        ("sun_alt", -12.0, True),
        ("sun_alt", 0.0, True),
        ("moon_alt", 0.0, True),
        ("moon_alt", 0.0, False),
    ]:
        coarse = _crossings(mjds, np.degrees(positions[key]), level, rising)
        events[key, level, rising] = np.sort(_refine(coarse, level, key, location))

    sunsets = events["sun_alt", 0.0, False]
    sunsets = sunsets[np.any([(sunsets >= s.start) & (sunsets <= s.end) for s in spans], axis=0)]
    rows = np.zeros(sunsets.size, dtype=list(zip(SUNSET_FIELDS, [int] + [float] * 8, strict=True)))
    rows["sunset"] = sunsets
    rows["sun_n12_setting"] = _next_after(events["sun_alt", -12.0, False], sunsets)
    rows["sun_n18_setting"] = _next_after(events["sun_alt", -18.0, False], sunsets)
    rows["sun_n18_rising"] = _next_after(events["sun_alt", -18.0, True], rows["sun_n18_setting"])
    rows["sun_n12_rising"] = _next_after(events["sun_alt", -12.0, True], rows["sun_n18_setting"])
    rows["sunrise"] = _next_after(events["sun_alt", 0.0, True], rows["sun_n18_setting"])
    rows["moonrise"] = _next_after(events["moon_alt", 0.0, True], sunsets)
    rows["moonset"] = _next_after(events["moon_alt", 0.0, False], sunsets)
    # The night number is the MJD of the local evening date: unique, and consistent across stretches.
    rows["night"] = np.floor(sunsets + location.lon.deg / 360.0).astype(int)
    complete = np.all([np.isfinite(rows[f]) for f in SUNSET_FIELDS[1:]], axis=0)
    return rows[complete]


def sun_moon_positions(spans: Sequence[Span], location: EarthLocation) -> dict[str, np.ndarray]:
    """Sun and moon positions sampled every 15 minutes over ``spans``."""
    return _sun_moon(_grid(spans, POSITION_STEP_DAYS), location)


def sun_moon_table(positions: dict[str, np.ndarray]) -> np.ndarray:
    """``sun_moon.npz`` rows from :func:`sun_moon_positions`."""
    table = np.zeros(positions["mjd"].size, dtype=[(f, float) for f in SUN_MOON_FIELDS])
    for field in SUN_MOON_FIELDS:
        table[field] = positions[field]
    return table


def planet_table(spans: Sequence[Span], location: EarthLocation) -> np.ndarray:
    """``planet_locations.npz`` rows sampled hourly over ``spans`` (built-in ephemeris)."""
    mjds = _grid(spans, PLANET_STEP_DAYS)
    times = Time(mjds, format="mjd", scale="utc", location=location)
    names = ["mjd"] + [f"{p}_{c}" for p in PLANETS for c in ("RA", "dec")]
    table = np.zeros(mjds.size, dtype=[(n, float) for n in names])
    table["mjd"] = mjds
    for planet in PLANETS:
        body = get_body(planet, times, location).icrs
        table[f"{planet}_RA"] = body.ra.rad
        table[f"{planet}_dec"] = body.dec.rad
    return table


def write_almanac(site_models_dir: Path, spans: Sequence[Span]) -> None:
    """Compute and write the three almanac files covering ``spans`` into ``site_models_dir``."""
    configure_offline_astropy()
    location = site_location()
    site_models_dir.mkdir(parents=True, exist_ok=True)
    # Two extra days: the events that follow the last sunset, and positions at those times.
    position_spans = [Span(s.start, s.end + 2.0) for s in spans]
    positions = sun_moon_positions(position_spans, location)
    np.savez(site_models_dir / "sunsets.npz", almanac=sunsets_table(spans, positions, location))
    np.savez(site_models_dir / "sun_moon.npz", sun_moon_info=sun_moon_table(positions))
    np.savez(site_models_dir / "planet_locations.npz", planet_loc=planet_table(position_spans, location))
