"""Conversion of fetched ConsDB visits to the opsim schema, through rubin_scheduler's converter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vseq_resources.consdb import (
    OPSIM_COLUMNS,
    SqlConsDBClient,
    consdb_to_opsim,
    empty_opsim_visits,
    night_visits_query,
)
from vseq_resources.errors import InvalidInputError
from vseq_tests.resources.consdb.synthetic import (
    EMPTY_NIGHT,
    LATISS_VISITS,
    LSSTCAM_VISITS,
    NIGHT,
    synthetic_night,
)

# The quantities the filler stores and the converter reads back, with tolerances.
ROUND_TRIP = {
    "observationStartMJD": 1e-9,  # days: under 0.1 ms, so certainly UTC and not TAI (37 s)
    "fieldRA": 1e-9,
    "fieldDec": 1e-9,
    "rotSkyPos": 1e-9,
    "visitExposureTime": 1e-6,
    "airmass": 1e-5,
    "altitude": 1e-4,
    "azimuth": 1e-4,
    "seeingFwhmEff": 1e-5,
    "seeingFwhmGeom": 1e-5,
    "seeingFwhm500": 1e-5,
    "skyBrightness": 1e-4,
    "fiveSigmaDepth": 1e-4,
}


@pytest.fixture(scope="module")
def converted(filled_consdb: sa.Engine) -> dict[str, pd.DataFrame]:
    client = SqlConsDBClient(filled_consdb)
    return {
        instrument: consdb_to_opsim(client.query(night_visits_query(instrument, NIGHT)), instrument)
        for instrument in ("lsstcam", "latiss")
    }


@pytest.mark.parametrize(
    ("instrument", "count", "seed"), [("lsstcam", LSSTCAM_VISITS, 0), ("latiss", LATISS_VISITS, 1)]
)
def test_conversion_gives_back_the_visits(
    converted: dict[str, pd.DataFrame], instrument: str, count: int, seed: int
) -> None:
    opsim = converted[instrument]
    expected = synthetic_night(NIGHT, count, seed=seed)
    assert list(opsim.columns) == list(OPSIM_COLUMNS)
    assert opsim.dtypes.equals(empty_opsim_visits().dtypes)
    assert len(opsim) == count
    assert list(opsim["band"]) == list(expected["band"])
    for column, tolerance in ROUND_TRIP.items():
        np.testing.assert_allclose(opsim[column], expected[column], rtol=0, atol=tolerance, err_msg=column)
    assert (opsim["observationId"] // 100000 == 20251016).all()
    assert list(opsim["science_program"]) == list(expected["science_program"])
    assert list(opsim["scheduler_note"]) == list(expected["scheduler_note"])


def test_derived_columns_are_plausible(converted: dict[str, pd.DataFrame]) -> None:
    opsim = converted["lsstcam"]
    assert (opsim["sunAlt"] < -12).all()  # the synthetic night is dark
    assert opsim["moonPhase"].between(0, 100).all()
    assert opsim["observationStartLST"].between(0, 360).all()
    assert opsim["slewDistance"].iloc[1:].between(0, 180).all()
    assert (opsim["visitTime"] - opsim["visitExposureTime"]).abs().max() < 1e-3
    assert set(opsim["filter"]) == {"g_6", "r_57", "i_39", "z_20", "y_10", "u_24"}
    assert opsim["night"].nunique() == 1


def test_program_filter_selects_a_subset(filled_consdb: sa.Engine) -> None:
    client = SqlConsDBClient(filled_consdb)
    raw = client.query(night_visits_query("lsstcam", NIGHT, ["BLOCK-365", "nothing"]))
    assert len(raw) == LSSTCAM_VISITS // 3
    assert set(consdb_to_opsim(raw, "lsstcam")["science_program"]) == {"BLOCK-365"}


def test_empty_night_gives_empty_standard_frame(filled_consdb: sa.Engine) -> None:
    raw = SqlConsDBClient(filled_consdb).query(night_visits_query("lsstcam", EMPTY_NIGHT))
    assert raw.empty
    opsim = consdb_to_opsim(raw, "lsstcam")
    assert opsim.empty
    assert list(opsim.columns) == list(OPSIM_COLUMNS)
    assert opsim.dtypes.equals(empty_opsim_visits().dtypes)


def test_missing_columns_are_reported() -> None:
    with pytest.raises(InvalidInputError, match="s_ra"):
        consdb_to_opsim(pd.DataFrame({"visit_id": [1]}), "lsstcam")
