"""The night query text and the telescope/instrument names (no database needed)."""

from __future__ import annotations

import pytest

from vseq_resources.consdb import instrument_for, night_visits_query, telescope_for
from vseq_resources.errors import InvalidInputError


def test_telescopes_map_to_instruments() -> None:
    assert instrument_for("simonyi") == "lsstcam"
    assert instrument_for("auxtel") == "latiss"
    assert telescope_for("lsstcam") == "simonyi"
    assert telescope_for("latiss") == "auxtel"
    with pytest.raises(InvalidInputError, match="unknown telescope"):
        instrument_for("hubble")


def test_query_selects_one_night_by_integer_day_obs() -> None:
    sql = night_visits_query("lsstcam", "2025-10-16")
    assert "FROM cdb_lsstcam.visit1 AS v" in sql
    assert "LEFT JOIN cdb_lsstcam.visit1_quicklook AS q ON q.visit_id = v.visit_id" in sql
    assert "v.day_obs = 20251016" in sql
    assert "q.psf_sigma_median" in sql
    assert night_visits_query("lsstcam", 20251016) == sql


def test_latiss_quicklook_names_have_no_median_suffix() -> None:
    sql = night_visits_query("latiss", "20251016")
    assert "FROM cdb_latiss.visit1" in sql
    assert "q.psf_sigma," in sql and "_median" not in sql


def test_program_filters_are_parenthesised_and_quoted() -> None:
    sql = night_visits_query("lsstcam", "2025-10-16", ["BLOCK-365", "it's"])
    assert "AND (v.science_program = 'BLOCK-365' OR v.science_program = 'it''s')" in sql


def test_program_literals_keep_percent_signs_and_refuse_nul() -> None:
    sql = night_visits_query("lsstcam", "2025-10-16", ["100% survey", "a\\b"])
    assert "(v.science_program = '100% survey' OR v.science_program = 'a\\b')" in sql
    with pytest.raises(InvalidInputError, match="invalid science program"):
        night_visits_query("lsstcam", "2025-10-16", ["nul\x00byte"])


def test_unknown_instrument_is_refused_before_reaching_sql() -> None:
    with pytest.raises(InvalidInputError, match="unknown ConsDB instrument"):
        night_visits_query("lsstcam; DROP TABLE x", "2025-10-16")
