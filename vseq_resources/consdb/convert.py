"""ConsDB visits to the opsim ``observations`` schema, through rubin_scheduler's own converter.

``rubin_scheduler.utils.consdb`` already maps ConsDB columns to opsim ones (``ConsDBVisits`` and its
per-instrument subclasses); its ``consdb_visits`` property is the raw query result, which it fetches
itself over REST. We subclass it to feed it the rows we fetched (by SQL or REST) and reuse the
mapping. It cannot be used quite as is, and every adaptation lives here:

- Time scale: ConsDB times are TAI, the converter copies them into ``observationStartMJD`` (and
  derives LST, sun and moon from them) as if they were UTC. We shift the MJD columns to UTC
  before feeding the rows in.
- Almanac: the converter's sun and moon come from ``Almanac()``, which needs downloaded
  ``site_models`` files that cannot be fetched here; we give it a stand-in computing the same
  positions with astropy.
- LATISS depth: ``LATISSConsDBVisits.eff_time_m5`` reads an ``eff_time_m5`` column that
  ``cdb_latiss`` does not have (``KeyError`` as soon as ``eff_time`` has values); we use the
  quick-look 5-sigma magnitude limit ``stats_mag_lim`` instead.
- Column names: the converter looks for ``pixel_scale`` and ``obs_midpt_mjd``; LSSTCam's quick-look
  table says ``pixel_scale_median`` and ``visit1`` says ``exp_midpt_mjd``.
- Output schema: the converter writes ``psudoParaAngle`` (sic) and extra columns (``note``,
  ``start_date``) and lacks ``filter``, ``target_id``, ``cloud_extinction``, ``extinction_limit``;
  we return exactly the 48 columns, in order and with the dtypes, of a rubin_scheduler opsim
  ``observations`` table.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from astropy.coordinates import AltAz, EarthLocation, get_body
from astropy.time import Time
from astropy.utils import iers
from rubin_scheduler.scheduler.utils import ObservationArray, SchemaConverter
from rubin_scheduler.utils.consdb import ConsDBVisits, LATISSConsDBVisits, LSSTCamConsDBVisits

from ..errors import InvalidInputError
from .instruments import PIXEL_SCALE, TAI_MINUS_UTC_DAYS, check_instrument, quicklook_column

log = logging.getLogger(__name__)

#: ConsDB MJD columns, all TAI.
_TAI_MJD_COLUMNS = ("obs_start_mjd", "obs_end_mjd", "exp_midpt_mjd")

_REQUIRED_COLUMNS = (
    "visit_id",
    "day_obs",
    "band",
    "physical_filter",
    "s_ra",
    "s_dec",
    "sky_rotation",
    "obs_start_mjd",
    "obs_end_mjd",
)


def empty_opsim_visits(n_rows: int = 0) -> pd.DataFrame:
    """An opsim ``observations`` frame with the standard columns and dtypes (zeros, ``""``)."""
    with warnings.catch_warnings():
        # rubin_scheduler's obs2opsim uses drop(inplace=True), which pandas 3.1 deprecates.
        warnings.filterwarnings("ignore", message=".*inplace keyword", category=Warning)
        return SchemaConverter().obs2opsim(ObservationArray(n=n_rows))


OPSIM_COLUMNS: tuple[str, ...] = tuple(empty_opsim_visits().columns)


class _SunMoonEphemeris:
    """Stand-in for ``Almanac``: its ``get_sun_moon_positions`` (radians; phase 0-100), by astropy."""

    def __init__(self, location: EarthLocation) -> None:
        self.location = location

    def get_sun_moon_positions(self, mjd: np.ndarray) -> dict[str, np.ndarray]:
        times = Time(np.asarray(mjd, dtype=float), format="mjd", scale="utc")
        altaz = AltAz(obstime=times, location=self.location)
        bodies = {name: get_body(name, times, self.location) for name in ("sun", "moon")}
        result: dict[str, np.ndarray] = {}
        for name, body in bodies.items():
            horizontal = body.transform_to(altaz)
            result[f"{name}_RA"] = body.ra.rad
            result[f"{name}_dec"] = body.dec.rad
            result[f"{name}_alt"] = horizontal.alt.rad
            result[f"{name}_az"] = horizontal.az.rad
        sun, moon = bodies["sun"], bodies["moon"]
        elongation = sun.separation(moon).rad
        sun_distance = sun.distance.to_value("km")
        phase_angle = np.arctan2(
            sun_distance * np.sin(elongation),
            moon.distance.to_value("km") - sun_distance * np.cos(elongation),
        )
        result["moon_phase"] = 100.0 * (1.0 + np.cos(phase_angle)) / 2.0
        return result


@dataclass(frozen=True)
class _FetchedRows(ConsDBVisits):
    """A converter fed with rows we fetched instead of querying ConsDB itself."""

    rows: pd.DataFrame = field(kw_only=True, repr=False, compare=False)

    @cached_property
    def consdb_visits(self) -> pd.DataFrame:
        return self.rows

    @cached_property
    def almanac(self) -> _SunMoonEphemeris:  # type: ignore[override]
        return _SunMoonEphemeris(self.location)


@dataclass(frozen=True)
class _LSSTCamRows(_FetchedRows, LSSTCamConsDBVisits):
    """LSSTCam visits from fetched rows."""


@dataclass(frozen=True)
class _LATISSRows(_FetchedRows, LATISSConsDBVisits):
    """LATISS visits from fetched rows, with the 5-sigma depth from ``stats_mag_lim``."""

    @cached_property
    def eff_time_m5(self) -> pd.Series:
        if self._have_numeric_values("stats_mag_lim"):
            return self.consdb_visits["stats_mag_lim"]
        return pd.Series(np.nan, index=self.consdb_visits.index)


_CONVERTERS: dict[str, type[_FetchedRows]] = {"lsstcam": _LSSTCamRows, "latiss": _LATISSRows}


def _converter_rows(raw: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """The fetched rows as the converter expects them: UTC times, its column names."""
    rows = raw.reset_index(drop=True)
    for column in _TAI_MJD_COLUMNS:
        if column in rows:
            rows[column] = pd.to_numeric(rows[column]) - TAI_MINUS_UTC_DAYS
    if "exp_midpt_mjd" in rows:
        rows["obs_midpt_mjd"] = rows["exp_midpt_mjd"]
    measured = quicklook_column(instrument, "pixel_scale")
    nominal = PIXEL_SCALE[instrument]
    if measured in rows:
        rows["pixel_scale"] = pd.to_numeric(rows[measured]).fillna(nominal)
    else:
        rows["pixel_scale"] = nominal
    return rows


def _standardise(converter: _FetchedRows, rows: pd.DataFrame) -> pd.DataFrame:
    """The converter's ``opsim`` frame reduced to exactly the standard opsim columns and dtypes."""
    frame = converter.opsim.rename(columns={"psudoParaAngle": "pseudoParaAngle"})
    frame["filter"] = rows["physical_filter"].where(rows["physical_filter"].notna(), frame["band"])
    frame["cloud_extinction"] = converter.cloud_extinction
    frame["target_id"] = 0
    frame["extinction_limit"] = np.nan
    template = empty_opsim_visits()
    result = frame.reindex(columns=list(OPSIM_COLUMNS))
    for column, dtype in template.dtypes.items():
        if dtype.kind in "iuf":
            result[column] = pd.to_numeric(result[column]).astype(dtype)
        else:
            result[column] = result[column].where(result[column].notna(), "").astype(dtype)
    return result


def consdb_to_opsim(raw: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """Convert fetched ConsDB visits (as selected by ``night_visits_query``) to opsim visits.

    Returns the 48 standard columns of an opsim ``observations`` table, angles in degrees and
    ``observationStartMJD`` in UTC. An empty input gives an empty frame with those columns (the
    converter itself cannot take one: its ``night`` takes the minimum of the start times).
    """
    check_instrument(instrument)
    if raw.empty:
        return empty_opsim_visits()
    missing = [c for c in _REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InvalidInputError(f"ConsDB visits lack the columns {', '.join(missing)}")
    rows = _converter_rows(raw, instrument)
    converter = _CONVERTERS[instrument](day_obs=int(rows["day_obs"].max()), rows=rows)
    # Offline and reproducible: astropy's bundled IERS table is enough for LST and sun/moon
    # positions at this precision, and it must not try to download a newer one.
    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("auto_max_age", None),
        iers.conf.set_temp("iers_degraded_accuracy", "warn"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        result = _standardise(converter, rows)
    # The converter warns for every value it has to guess; say each thing once.
    for message in sorted({str(w.message) for w in caught}):
        log.info("ConsDB conversion (%s): %s", instrument, message)
    return result
