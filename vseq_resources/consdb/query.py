"""The SQL that selects one night's completed visits from ConsDB.

The text is stored with each completed visit sequence (``completed.query``), so it is built as a
self-contained statement: the integer ``day_obs`` and any program names are rendered as literals
(programs quoted the standard SQL way), and nothing depends on client-side parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..dayobs import dayobs_int
from .instruments import check_instrument, quicklook_column

#: ``visit1`` columns the conversion to the opsim schema reads.
VISIT_COLUMNS: tuple[str, ...] = (
    "visit_id",
    "day_obs",
    "seq_num",
    "exposure_name",
    "physical_filter",
    "band",
    "s_ra",
    "s_dec",
    "sky_rotation",
    "azimuth",
    "altitude",
    "zenith_distance",
    "airmass",
    "obs_start",
    "obs_start_mjd",
    "obs_end_mjd",
    "exp_midpt_mjd",
    "exp_time",
    "shut_time",
    "img_type",
    "science_program",
    "observation_reason",
    "target_name",
    "scheduler_note",
)

#: Quick-look quantities read, by their LATISS names (LSSTCam adds ``_median``).
QUICKLOOK_QUANTITIES: tuple[str, ...] = (
    "pixel_scale",
    "psf_sigma",
    "psf_area",
    "seeing_zenith_500nm",
    "sky_bg",
    "zero_point",
    "eff_time",
    "stats_mag_lim",
)


def sql_string_literal(value: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: only quotes need doubling)."""
    if "\x00" in value:
        raise ValueError("string literals cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"


def night_visits_query(
    instrument: str, day_obs: str | int | dt.date, science_programs: Sequence[str] = ()
) -> str:
    """SELECT a night's visits from ``cdb_<instrument>.visit1`` with their quick-look values.

    Visits without a pointing, start time or filter are left out, as ``rubin_scheduler``'s own
    ConsDB query does: they cannot be placed in an opsim table. ``science_programs``, when given,
    keeps only those programs; the OR-ed tests are parenthesised so they cannot escape the
    night's ``day_obs`` condition.
    """
    schema = f"cdb_{check_instrument(instrument)}"
    columns = [f"v.{name}" for name in VISIT_COLUMNS] + [
        f"q.{quicklook_column(instrument, name)}" for name in QUICKLOOK_QUANTITIES
    ]
    conditions = [
        f"v.day_obs = {dayobs_int(day_obs)}",
        "v.obs_start_mjd IS NOT NULL",
        "v.s_ra IS NOT NULL",
        "v.s_dec IS NOT NULL",
        "v.sky_rotation IS NOT NULL",
        "(v.band IS NOT NULL OR v.physical_filter IS NOT NULL)",
    ]
    if science_programs:
        tests = " OR ".join(f"v.science_program = {sql_string_literal(p)}" for p in science_programs)
        conditions.append(f"({tests})")
    where = "\n    AND ".join(conditions)
    return (
        f"SELECT {', '.join(columns)}\n"
        f"FROM {schema}.visit1 AS v\n"
        f"LEFT JOIN {schema}.visit1_quicklook AS q ON q.visit_id = v.visit_id\n"
        f"WHERE {where}\n"
        "ORDER BY v.obs_start_mjd, v.seq_num"
    )
