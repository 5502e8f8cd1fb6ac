"""The "has ConsDB ingested this night" rule, on a real ConsDB database, through SQL and REST."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from vseq_resources.consdb import empty_opsim_visits
from vseq_resources.consdb.client import RestConsDBClient, SqlConsDBClient
from vseq_resources.consdb.ingestion import NightNotIngestedError, night_ingestion, require_ingested
from vseq_resources.consdb.local import CALIBRATIONS, fill_nights
from vseq_tests.resources.consdb.synthetic import LSSTCAM_VISITS, NIGHT, REST_TOKEN

CLOUDY = dt.date(2025, 11, 3)  # calibrations, no visit
SHUTDOWN = dt.date(2025, 11, 2)  # no exposure at all, later days recorded
NOT_YET = dt.date(2029, 6, 1)  # nothing on or after it
CALIBRATIONS_PER_DAY = sum(count for _, _, count in CALIBRATIONS)


@pytest.fixture(params=["sql", "rest"])
def client(request: pytest.FixtureRequest, filled_consdb: sa.Engine):
    assert fill_nights(filled_consdb, "lsstcam", empty_opsim_visits(0), nights=[CLOUDY]) == {20251103: 0}
    if request.param == "sql":
        return SqlConsDBClient(filled_consdb)
    return RestConsDBClient(request.getfixturevalue("rest_base_url"), REST_TOKEN, retries=0)


def test_night_with_visits_counts_its_calibrations(client) -> None:
    found = require_ingested(client, "lsstcam", NIGHT)
    assert found.ingested and found.day_obs == dt.date.fromisoformat(NIGHT)
    assert found.exposures == LSSTCAM_VISITS + CALIBRATIONS_PER_DAY
    assert found.latest_day_obs is not None and found.latest_day_obs >= found.day_obs


def test_cloudy_night_is_ingested_and_empty(client) -> None:
    found = require_ingested(client, "lsstcam", CLOUDY)
    assert found.exposures == CALIBRATIONS_PER_DAY
    assert "20 exposure(s) of day_obs 20251103" in found.empty_reason()
    assert "no on-sky visit" in found.empty_reason()


def test_day_without_exposures_is_ingested_once_a_later_day_is(client) -> None:
    found = require_ingested(client, "lsstcam", SHUTDOWN)
    assert found.exposures == 0
    assert found.latest_day_obs is not None and found.latest_day_obs >= CLOUDY
    assert "no exposure of day_obs 20251102" in found.empty_reason()


def test_night_not_ingested_raises(client) -> None:
    assert not night_ingestion(client, "lsstcam", NOT_YET).ingested
    with pytest.raises(NightNotIngestedError, match="has not ingested day_obs 20290601"):
        require_ingested(client, "lsstcam", NOT_YET, "test ConsDB")
