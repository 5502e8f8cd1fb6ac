"""The local ConsDB: official schema through felis, nights filled from opsim visits."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from vseq_resources.consdb.local import CALIBRATIONS, consdb_rows, create_consdb_schema, fill_nights
from vseq_resources.errors import InvalidInputError
from vseq_tests.resources.consdb.synthetic import LATISS_VISITS, LSSTCAM_VISITS, NIGHT, synthetic_night


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def test_official_tables_exist(consdb_engine: sa.Engine) -> None:
    inspector = sa.inspect(consdb_engine)
    for instrument in ("lsstcam", "latiss"):
        tables = set(inspector.get_table_names(schema=f"cdb_{instrument}"))
        assert {"exposure", "visit1", "visit1_quicklook", "ccdvisit1"} <= tables
        columns = {c["name"] for c in inspector.get_columns("visit1", schema=f"cdb_{instrument}")}
        assert {"visit_id", "day_obs", "seq_num", "s_ra", "s_dec", "obs_start_mjd", "band"} <= columns
    # Creating again is harmless.
    create_consdb_schema(consdb_engine, "lsstcam")


def test_filled_rows_follow_consdb_conventions(filled_consdb: sa.Engine) -> None:
    with filled_consdb.connect() as conn:
        rows = pd.DataFrame(
            conn.execute(
                sa.text(
                    "SELECT v.visit_id, v.day_obs, v.seq_num, v.exposure_name, v.obs_start_mjd, v.band,"
                    " v.physical_filter, e.exposure_id, q.psf_sigma_median"
                    " FROM cdb_lsstcam.visit1 v JOIN cdb_lsstcam.exposure e USING (day_obs, seq_num)"
                    " JOIN cdb_lsstcam.visit1_quicklook q USING (visit_id) ORDER BY seq_num"
                )
            )
            .mappings()
            .all()
        )
    assert len(rows) == LSSTCAM_VISITS
    assert set(rows["day_obs"]) == {20251016}
    assert list(rows["seq_num"]) == list(range(1, LSSTCAM_VISITS + 1))
    assert (rows["visit_id"] == rows["day_obs"] * 100000 + rows["seq_num"]).all()
    assert (rows["exposure_id"] == rows["visit_id"]).all()
    assert rows["exposure_name"].iloc[0] == "MC_O_20251016_000001"
    assert rows["obs_start_mjd"].is_monotonic_increasing
    assert rows["psf_sigma_median"].between(1.0, 6.0).all()  # pixels, for 0.5-1.5" seeing
    assert set(rows["physical_filter"]) == {"g_6", "r_57", "i_39", "z_20", "y_10", "u_24"}


def test_times_are_tai(filled_consdb: sa.Engine) -> None:
    visits = synthetic_night(NIGHT, LSSTCAM_VISITS)
    first = _count(filled_consdb, "SELECT obs_start_mjd FROM cdb_lsstcam.visit1 WHERE seq_num = 1")
    assert (first - visits["observationStartMJD"].min()) * 86400 == pytest.approx(37.0, abs=1e-3)


def test_refilling_a_night_replaces_it(filled_consdb: sa.Engine) -> None:
    visits = synthetic_night("2025-10-20", 50, seed=5)
    assert fill_nights(filled_consdb, "lsstcam", visits) == {20251020: 50}
    assert fill_nights(filled_consdb, "lsstcam", visits.iloc[:20]) == {20251020: 20}
    for table in ("exposure", "visit1", "visit1_quicklook"):
        where = "day_obs = 20251020 AND seq_num < 90000"  # the visits (not the daily calibrations)
        assert _count(filled_consdb, f"SELECT count(*) FROM cdb_lsstcam.{table} WHERE {where}") == 20
    calibrations = "SELECT count(*) FROM cdb_lsstcam.exposure WHERE day_obs = 20251020 AND NOT can_see_sky"
    assert _count(filled_consdb, calibrations) == sum(count for _, _, count in CALIBRATIONS)
    # Other nights are untouched.
    assert _count(filled_consdb, "SELECT count(*) FROM cdb_lsstcam.visit1 WHERE day_obs = 20251016") == (
        LSSTCAM_VISITS
    )
    assert _count(filled_consdb, "SELECT count(*) FROM cdb_latiss.visit1") == LATISS_VISITS


def test_visits_spanning_nights_get_their_own_day_obs() -> None:
    visits = pd.concat([synthetic_night("2025-10-18", 5), synthetic_night("2025-10-19", 3)])
    rows = consdb_rows("latiss", visits)
    assert rows["visit1"].groupby("day_obs")["seq_num"].max().to_dict() == {20251018: 5, 20251019: 3}
    assert rows["visit1_quicklook"].columns.str.endswith("_median").sum() == 0
    assert "psf_sigma" in rows["visit1_quicklook"]


def test_bad_visits_are_refused() -> None:
    visits = synthetic_night(NIGHT, 5)
    with pytest.raises(InvalidInputError, match="fieldRA"):
        consdb_rows("lsstcam", visits.drop(columns="fieldRA"))
    with pytest.raises(InvalidInputError, match="bands"):
        consdb_rows("lsstcam", visits.assign(band="q"))
