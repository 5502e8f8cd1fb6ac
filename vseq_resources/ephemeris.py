"""Low-precision Sun and Moon at the Rubin site: altitudes, twilights, moonrise, moonset, phase.

The Astronomical Almanac's low-precision formulae (section C for the Sun, good to 0.01 deg for
1950-2050; section D for the Moon, good to about 0.3 deg, with its horizontal parallax) and
Greenwich mean sidereal time. No almanac files, no network, no astropy: the plausibility rules and
the night review need twilight and moon times to a minute or two, not the precision of
``simulation/almanac.py`` (which rubin_scheduler's ``Almanac`` files need and which costs seconds
of imports and computation).

Events are crossings of the centre of the body through the altitude (0, -12 or -18 degrees, no
refraction), as ``simulation/almanac.py`` and astroplan compute them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from .dayobs import datetime_of_mjd, dayobs_mjd_start, parse_dayobs

SITE_LATITUDE_DEG = -30.2444
SITE_LONGITUDE_DEG = -70.7494
"""Rubin Observatory (rubin_scheduler's ``Site("LSST")``); AuxTel is on the same summit."""

_J2000_MJD = 51544.5


def _altitude_deg(ra: np.ndarray, dec: np.ndarray, mjd: np.ndarray) -> np.ndarray:
    """Geocentric altitude (degrees) at the site of an object at (ra, dec) radians at ``mjd``."""
    d = np.asarray(mjd, dtype=float) - _J2000_MJD
    gmst_deg = (280.46061837 + 360.98564736629 * d) % 360.0
    hour_angle = np.radians(gmst_deg + SITE_LONGITUDE_DEG) - ra
    lat = math.radians(SITE_LATITUDE_DEG)
    sin_alt = math.sin(lat) * np.sin(dec) + math.cos(lat) * np.cos(dec) * np.cos(hour_angle)
    return np.degrees(np.arcsin(np.clip(sin_alt, -1.0, 1.0)))


def sun_radec(mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Sun's apparent right ascension and declination (radians), low-precision formula."""
    d = np.asarray(mjd, dtype=float) - _J2000_MJD  # days from J2000.0
    mean_longitude = np.radians((280.460 + 0.9856474 * d) % 360.0)
    anomaly = np.radians((357.528 + 0.9856003 * d) % 360.0)
    ecliptic_longitude = (
        mean_longitude + np.radians(1.915) * np.sin(anomaly) + np.radians(0.020) * np.sin(2 * anomaly)
    )
    obliquity = np.radians(23.439 - 4e-7 * d)
    ra = np.arctan2(np.cos(obliquity) * np.sin(ecliptic_longitude), np.cos(ecliptic_longitude))
    dec = np.arcsin(np.sin(obliquity) * np.sin(ecliptic_longitude))
    return ra, dec


def sun_altitude_deg(mjd: np.ndarray) -> np.ndarray:
    """Altitude of the Sun's centre at the site (degrees, no refraction), low-precision formula;
    errors of a few hundredths of a degree move a twilight by a few seconds."""
    ra, dec = sun_radec(mjd)
    return _altitude_deg(ra, dec, mjd)


def _sin_deg(x: np.ndarray | float) -> np.ndarray:
    return np.sin(np.radians(x))


def moon_radec_parallax(mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Moon's geocentric right ascension, declination and horizontal parallax (radians)."""
    t = (np.asarray(mjd, dtype=float) - _J2000_MJD) / 36525.0
    longitude = (
        218.32
        + 481267.881 * t
        + 6.29 * _sin_deg(135.0 + 477198.87 * t)
        - 1.27 * _sin_deg(259.3 - 413335.36 * t)
        + 0.66 * _sin_deg(235.7 + 890534.22 * t)
        + 0.21 * _sin_deg(269.9 + 954397.74 * t)
        - 0.19 * _sin_deg(357.5 + 35999.05 * t)
        - 0.11 * _sin_deg(186.5 + 966404.03 * t)
    )
    latitude = (
        5.13 * _sin_deg(93.3 + 483202.02 * t)
        + 0.28 * _sin_deg(228.2 + 960400.89 * t)
        - 0.28 * _sin_deg(318.3 + 6003.15 * t)
        - 0.17 * _sin_deg(217.6 - 407332.21 * t)
    )
    parallax = (
        0.9508
        + 0.0518 * np.cos(np.radians(135.0 + 477198.87 * t))
        + 0.0095 * np.cos(np.radians(259.3 - 413335.36 * t))
        + 0.0078 * np.cos(np.radians(235.7 + 890534.22 * t))
        + 0.0028 * np.cos(np.radians(269.9 + 954397.74 * t))
    )
    lam, beta = np.radians(longitude), np.radians(latitude)
    x = np.cos(beta) * np.cos(lam)
    y = 0.9175 * np.cos(beta) * np.sin(lam) - 0.3978 * np.sin(beta)
    z = 0.3978 * np.cos(beta) * np.sin(lam) + 0.9175 * np.sin(beta)
    return np.arctan2(y, x), np.arcsin(np.clip(z, -1.0, 1.0)), np.radians(parallax)


def moon_altitude_deg(mjd: np.ndarray) -> np.ndarray:
    """Topocentric altitude of the Moon's centre at the site (degrees, no refraction)."""
    ra, dec, parallax = moon_radec_parallax(mjd)
    geocentric = _altitude_deg(ra, dec, mjd)
    return geocentric - np.degrees(parallax) * np.cos(np.radians(geocentric))


def moon_illumination(mjd: np.ndarray) -> np.ndarray:
    """Illuminated fraction of the Moon's disc (0..1), from its elongation from the Sun."""
    sun_ra, sun_dec = sun_radec(mjd)
    moon_ra, moon_dec, _ = moon_radec_parallax(mjd)
    cos_elongation = np.sin(sun_dec) * np.sin(moon_dec) + np.cos(sun_dec) * np.cos(moon_dec) * np.cos(
        sun_ra - moon_ra
    )
    return (1.0 - np.clip(cos_elongation, -1.0, 1.0)) / 2.0


STEP_DAYS = 1.0 / 1440.0


def _crossing(
    mjds: np.ndarray, alt: np.ndarray, level: float, rising: bool, after: float | None = None
) -> float | None:
    """The first time (after ``after``) ``alt`` crosses ``level`` upwards (``rising``) or
    downwards, interpolated between grid points."""
    above = alt > level
    crossed = (above[1:] != above[:-1]) & (above[1:] == rising)
    if after is not None:
        crossed &= mjds[1:] > after
    change = np.nonzero(crossed)[0]
    if change.size == 0:
        return None
    i = int(change[0])
    return float(mjds[i] + (level - alt[i]) / (alt[i + 1] - alt[i]) * (mjds[i + 1] - mjds[i]))


@dataclass(frozen=True)
class NightAlmanac:
    """The Sun and Moon events of one dayobs (UTC datetimes) and the Moon's illumination at
    mid-night. Twilights and sunrise are those of the dayobs; moonrise and moonset the first
    after sunset (either may fall after sunrise, as rubin_scheduler's almanac gives them)."""

    day_obs: dt.date
    sunset: dt.datetime | None
    evening_12: dt.datetime | None
    evening_18: dt.datetime | None
    morning_18: dt.datetime | None
    morning_12: dt.datetime | None
    sunrise: dt.datetime | None
    moonrise: dt.datetime | None
    moonset: dt.datetime | None
    moon_illumination: float
    """Illuminated fraction (0..1) at the middle of the night (between the -12 degree twilights)."""

    def as_dict(self) -> dict[str, str | float | None]:
        out: dict[str, str | float | None] = {}
        for name in ("sunset", "evening_12", "evening_18", "morning_18", "morning_12", "sunrise"):
            value = getattr(self, name)
            out[name] = value.isoformat(timespec="minutes") if value else None
        for name in ("moonrise", "moonset"):
            value = getattr(self, name)
            out[name] = value.isoformat(timespec="minutes") if value else None
        out["moon_illumination"] = round(self.moon_illumination, 3)
        return out


def night_almanac(day_obs: str | int | dt.date) -> NightAlmanac:
    """Twilights, moonrise, moonset and the Moon's illumination of a dayobs (12:00 to 12:00 UTC)."""
    night = parse_dayobs(day_obs)
    start = dayobs_mjd_start(night)
    mjds = start + np.arange(0, 2 * 1440 + 1) * STEP_DAYS  # two days: the Moon's next events
    sun = sun_altitude_deg(mjds)
    moon = moon_altitude_deg(mjds)

    def when(mjd: float | None) -> dt.datetime | None:
        return None if mjd is None else datetime_of_mjd(mjd).replace(second=0, microsecond=0)

    def event(alt: np.ndarray, level: float, rising: bool, after: float | None = None) -> float | None:
        found = _crossing(mjds, alt, level, rising, after)
        return found if found is not None and (after is not None or found < start + 1.0) else None

    evening_12, morning_12 = event(sun, -12.0, False), event(sun, -12.0, True)
    if evening_12 is not None and morning_12 is not None:
        middle = (evening_12 + morning_12) / 2.0
    else:
        middle = start + 0.5
    sunset = event(sun, 0.0, False)
    after = sunset if sunset is not None else start
    return NightAlmanac(
        day_obs=night,
        sunset=when(sunset),
        evening_12=when(evening_12),
        evening_18=when(event(sun, -18.0, False)),
        morning_18=when(event(sun, -18.0, True)),
        morning_12=when(morning_12),
        sunrise=when(event(sun, 0.0, True)),
        moonrise=when(event(moon, 0.0, True, after)),
        moonset=when(event(moon, 0.0, False, after)),
        moon_illumination=float(moon_illumination(np.array([middle]))[0]),
    )
