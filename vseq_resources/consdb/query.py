"""The SQL that selects one night's completed visits from ConsDB.

The text is stored with each completed visit sequence (``completed.query``), so it is built as a
self-contained statement: the integer ``day_obs`` and any program names are rendered as literals
(by SQLAlchemy's PostgreSQL compiler, `render_sql`), and nothing depends on client-side parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ..dayobs import dayobs_int
from ..errors import InvalidInputError
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


_LITERAL_DIALECT = postgresql.dialect(paramstyle="named")
"""PostgreSQL as SQLAlchemy renders it, with a parameter style that leaves ``%`` alone (the
default, psycopg2's ``pyformat``, doubles every ``%`` of the text for the driver, which a
statement sent as plain text must not have)."""
# SQLAlchemy learns whether backslashes are escapes from the server's standard_conforming_strings
# when it connects, and has no public option for a dialect that never connects; until then it
# doubles them. Every PostgreSQL since 9.1 (ConsDB's included) has the setting on, so a backslash
# is an ordinary character in a literal and must stay single.
_LITERAL_DIALECT._backslash_escapes = False


def render_sql(sql: str, params: Mapping[str, Any]) -> str:
    """``sql`` with ``:name`` parameters rendered as PostgreSQL literals (SQLAlchemy's quoting)."""
    statement = sa.text(sql).bindparams(**params)
    return str(statement.compile(dialect=_LITERAL_DIALECT, compile_kwargs={"literal_binds": True}))


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
    programs = {}
    for i, program in enumerate(science_programs):
        if not isinstance(program, str) or "\x00" in program:
            raise InvalidInputError(f"invalid science program {program!r}: expected text without NUL")
        programs[f"program_{i}"] = program
    if programs:
        conditions.append("(" + " OR ".join(f"v.science_program = :{name}" for name in programs) + ")")
    where = "\n    AND ".join(conditions)
    return render_sql(
        f"SELECT {', '.join(columns)}\n"
        f"FROM {schema}.visit1 AS v\n"
        f"LEFT JOIN {schema}.visit1_quicklook AS q ON q.visit_id = v.visit_id\n"
        f"WHERE {where}\n"
        "ORDER BY v.obs_start_mjd, v.seq_num",
        programs,
    )
