"""A local ConsDB that is real: the official schema in PostgreSQL, filled with plausible visits.

The schema comes from the ``lsst-sdm-schemas`` YAML through felis, so tests and demos query the
same tables and columns as production. The tables are built with felis's metadata and created by
SQLAlchemy directly: felis's own database context treats a URL without a host (a Unix-socket URL,
as the embedded server's) as "print the DDL" and creates nothing. In production ``visit1`` is a
view over ``exposure``; the schema YAML declares it as a table, so it is filled like one.

The visits come as an opsim ``observations`` frame (a short simulation of earlier nights); each is
written as the ConsDB rows the observatory would have recorded for it. Quick-look values are
derived so that ``consdb_to_opsim`` gives the opsim seeing, sky brightness and depth back. Every
day filled also gets the day's calibration exposures, so the local ConsDB answers the "has ConsDB
ingested this night" rule (:mod:`vseq_resources.consdb.ingestion`) as the real one does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
import sqlalchemy as sa
from felis.datamodel import Schema
from felis.metadata import create_metadata
from rubin_scheduler.utils import SysEngVals
from rubin_scheduler.utils.consdb import DEFAULT_EXTINCTION_COEFFICIENTS

from ..dayobs import datetime_of_mjd, dayobs_int, dayobs_mjd_start, dayobs_of_mjd
from ..errors import InvalidInputError
from .instruments import (
    EXPOSURE_PREFIX,
    PIXEL_SCALE,
    TAI_MINUS_UTC_DAYS,
    check_instrument,
    quicklook_column,
)

GAUSSIAN_FWHM_OVER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))

#: Physical filter installed for each band (LSSTCam filter names; LATISS filter~grating).
PHYSICAL_FILTERS: dict[str, dict[str, str]] = {
    "lsstcam": {"u": "u_24", "g": "g_6", "r": "r_57", "i": "i_39", "z": "z_20", "y": "y_10"},
    "latiss": {b: f"SDSS{b}_65mm~empty" for b in "ugrizy"},
}

#: SMTN-002 depths of a 30 s reference visit: rubin_scheduler's converter turns
#: ``eff_time_median`` into a depth with them, so the filler inverts with the same numbers.
REFERENCE_M5: dict[str, float] = {"u": 23.70, "g": 24.97, "r": 24.52, "i": 24.13, "z": 23.56, "y": 22.55}

#: Effective aperture (m): zero points and depths of the 1.2 m AuxTel scale from Simonyi's 6.423 m.
EFFECTIVE_APERTURE: dict[str, float] = {"lsstcam": 6.423, "latiss": 1.2}

#: Detectors contributing to the quick-look medians.
DETECTORS: dict[str, int] = {"lsstcam": 189, "latiss": 1}

REQUIRED_OPSIM_COLUMNS = (
    "observationStartMJD",
    "fieldRA",
    "fieldDec",
    "rotSkyPos",
    "band",
    "visitExposureTime",
    "airmass",
    "altitude",
    "azimuth",
    "seeingFwhmEff",
    "skyBrightness",
    "fiveSigmaDepth",
)
TEXT_COLUMNS = ("science_program", "observation_reason", "target_name", "scheduler_note")

_FILLED_TABLES = ("visit1_quicklook", "visit1", "exposure")  # children first, for deletes


@cache
def consdb_metadata(instrument: str) -> sa.MetaData:
    """SQLAlchemy tables of the official ``cdb_<instrument>`` schema, built by felis."""
    uri = f"resource://lsst.sdm.schemas/cdb_{check_instrument(instrument)}.yaml"
    return create_metadata(Schema.from_uri(uri, context={"id_generation": True}))


def create_consdb_schema(engine: sa.Engine, instrument: str) -> None:
    """Create ``cdb_<instrument>`` and its tables if they are missing (idempotent)."""
    metadata = consdb_metadata(instrument)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(f"cdb_{instrument}", if_not_exists=True))
        metadata.create_all(conn, checkfirst=True)


def consdb_rows(instrument: str, visits: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The ``exposure``, ``visit1`` and ``visit1_quicklook`` rows recording opsim ``visits``.

    Sequence numbers count from 1 in time order within each dayobs; ``visit_id`` (and
    ``exposure_id``, one exposure per visit) is ``day_obs * 100000 + seq_num``; times are TAI.
    """
    check_instrument(instrument)
    missing = [c for c in REQUIRED_OPSIM_COLUMNS if c not in visits.columns]
    if missing:
        raise InvalidInputError(f"visits lack the opsim columns {', '.join(missing)}")
    unknown = sorted(set(visits["band"]) - set(PHYSICAL_FILTERS[instrument]))
    if unknown:
        raise InvalidInputError(f"visits have bands ConsDB does not know: {unknown}")
    v = visits.sort_values("observationStartMJD", kind="stable").reset_index(drop=True)
    visit = _visit_rows(instrument, v)
    return {
        "exposure": visit.rename(columns={"visit_id": "exposure_id"}),
        "visit1": visit,
        "visit1_quicklook": _quicklook_rows(instrument, v, visit),
    }


def _visit_rows(instrument: str, v: pd.DataFrame) -> pd.DataFrame:
    start_utc = v["observationStartMJD"].astype(float)
    day_obs = start_utc.map(lambda mjd: dayobs_int(dayobs_of_mjd(mjd)))
    seq_num = day_obs.groupby(day_obs).cumcount() + 1
    exp_time = v["visitExposureTime"].astype(float)
    start = start_utc + TAI_MINUS_UTC_DAYS
    end = start + exp_time / 86400.0
    midpoint = start + exp_time / 2.0 / 86400.0
    rows = pd.DataFrame(
        {
            "visit_id": day_obs * 100000 + seq_num,
            "exposure_name": [
                f"{EXPOSURE_PREFIX[instrument]}_O_{d}_{s:06d}" for d, s in zip(day_obs, seq_num, strict=True)
            ],
            "controller": "O",
            "day_obs": day_obs,
            "seq_num": seq_num,
            "physical_filter": v["band"].map(PHYSICAL_FILTERS[instrument]),
            "band": v["band"],
            "s_ra": v["fieldRA"],
            "s_dec": v["fieldDec"],
            "sky_rotation": v["rotSkyPos"],
            "azimuth": v["azimuth"],
            "altitude": v["altitude"],
            "zenith_distance": 90.0 - v["altitude"],
            "airmass": v["airmass"],
            "obs_start": start.map(_tai_timestamp),
            "obs_start_mjd": start,
            "obs_end": end.map(_tai_timestamp),
            "obs_end_mjd": end,
            "exp_midpt": midpoint.map(_tai_timestamp),
            "exp_midpt_mjd": midpoint,
            "exp_time": exp_time,
            "shut_time": exp_time,
            "img_type": "science",
            "can_see_sky": True,
        }
    )
    if "seeingFwhm500" in v:
        rows["dimm_seeing"] = v["seeingFwhm500"]
    for column in TEXT_COLUMNS:
        rows[column] = v[column] if column in v else None
    return rows


def _quicklook_rows(instrument: str, v: pd.DataFrame, visit: pd.DataFrame) -> pd.DataFrame:
    """Quick-look values consistent with the opsim seeing, sky and depth of each visit."""
    scale = PIXEL_SCALE[instrument]
    band = v["band"]
    fwhm_eff = v["seeingFwhmEff"].astype(float)
    fwhm_geom = v["seeingFwhmGeom"] if "seeingFwhmGeom" in v else 0.822 * fwhm_eff + 0.052
    aperture = EFFECTIVE_APERTURE[instrument] / EFFECTIVE_APERTURE["lsstcam"]
    # Zero point above the atmosphere for this exposure time (electrons), then the observed one.
    zp_top = band.map(SysEngVals().zp_t) + 2.5 * np.log10(v["visitExposureTime"]) + 5.0 * np.log10(aperture)
    extinction = -band.map(DEFAULT_EXTINCTION_COEFFICIENTS) * v["airmass"]
    m5_reference = band.map(REFERENCE_M5) + 2.5 * np.log10(aperture)
    values = {
        "pixel_scale": scale,
        "psf_sigma": fwhm_geom / (GAUSSIAN_FWHM_OVER_SIGMA * scale),
        "psf_area": (fwhm_eff / (0.663 * scale)) ** 2,
        "zero_point": zp_top - extinction,
        "sky_bg": scale**2 * 10.0 ** (-0.4 * (v["skyBrightness"] - zp_top)),
        "eff_time": 30.0 * 10.0 ** ((v["fiveSigmaDepth"] - m5_reference) / 1.25),
        "stats_mag_lim": v["fiveSigmaDepth"],
    }
    if "seeingFwhm500" in v:
        values["seeing_zenith_500nm"] = v["seeingFwhm500"] / (GAUSSIAN_FWHM_OVER_SIGMA * scale)
    rows = visit[["visit_id", "day_obs", "seq_num"]].copy()
    rows["n_inputs"] = DETECTORS[instrument]
    for quantity, value in values.items():
        rows[quicklook_column(instrument, quantity)] = value
    return rows


def _tai_timestamp(mjd_tai: float) -> object:
    """A naive TAI timestamp, as ConsDB stores them."""
    return datetime_of_mjd(mjd_tai).replace(tzinfo=None)


CALIBRATIONS = (("bias", 0.0, 10), ("dark", 30.0, 5), ("flat", 15.0, 5))
"""The daily calibrations recorded for every filled day (image type, exposure time, count): the
observatory takes them every afternoon, dome closed, whatever the weather, so ConsDB's
``exposure`` table has rows of every day it has ingested (the rule of
:mod:`vseq_resources.consdb.ingestion`)."""
CALIBRATION_SEQ_START = 90001
"""Calibrations are numbered from here, so the visits keep ``seq_num`` 1, 2, ... in time order."""


def _calibration_rows(instrument: str, day_obs: list[int]) -> pd.DataFrame:
    """``exposure`` rows of the daily calibrations of each day (from 18:00 UTC, one a minute)."""
    rows = []
    for day in day_obs:
        start = dayobs_mjd_start(day) + 0.25 + TAI_MINUS_UTC_DAYS
        seq = CALIBRATION_SEQ_START
        for img_type, exp_time, count in CALIBRATIONS:
            for _ in range(count):
                begin = start + (seq - CALIBRATION_SEQ_START) / 1440.0
                rows.append(
                    {
                        "exposure_id": day * 100000 + seq,
                        "exposure_name": f"{EXPOSURE_PREFIX[instrument]}_O_{day}_{seq:06d}",
                        "controller": "O",
                        "day_obs": day,
                        "seq_num": seq,
                        "img_type": img_type,
                        "can_see_sky": False,
                        "exp_time": exp_time,
                        "obs_start": _tai_timestamp(begin),
                        "obs_start_mjd": begin,
                    }
                )
                seq += 1
    return pd.DataFrame(rows)


def fill_nights(
    engine: sa.Engine, instrument: str, visits: pd.DataFrame, nights: Sequence[str | int | dt.date] = ()
) -> dict[int, int]:
    """Record opsim ``visits`` in the local ConsDB, replacing the rows of every day they cover.

    The days filled are those of the visits and ``nights`` (a night without visits: weather).
    Each filled day also gets its daily calibrations (:data:`CALIBRATIONS`, ``exposure`` rows
    only), as the observatory records them. Creates the schema if needed. Returns the number of
    visits written per integer dayobs (0 for a day without visits). Refilling a night with the
    same visits leaves the database as it was.
    """
    tables = consdb_metadata(instrument).tables
    create_consdb_schema(engine, instrument)
    if len(visits):
        rows = consdb_rows(instrument, visits)
    else:
        rows = {name: pd.DataFrame({"day_obs": pd.Series(dtype="int64")}) for name in _FILLED_TABLES}
    days = sorted({int(d) for d in rows["visit1"]["day_obs"].unique()} | {dayobs_int(n) for n in nights})
    rows["exposure"] = pd.concat([rows["exposure"], _calibration_rows(instrument, days)], ignore_index=True)
    with engine.begin() as conn:
        for name in _FILLED_TABLES:
            table = tables[f"cdb_{instrument}.{name}"]
            conn.execute(table.delete().where(table.c.day_obs.in_(days)))
        for name in reversed(_FILLED_TABLES):
            records = _records(rows[name])
            if records:
                conn.execute(tables[f"cdb_{instrument}.{name}"].insert(), records)
    counts = rows["visit1"]["day_obs"].value_counts()
    return {day: int(counts.get(day, 0)) for day in days}


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts of plain Python values (NULL for missing), as the database driver wants."""
    plain = frame.astype(object)
    return plain.where(plain.notna(), None).to_dict("records")
