"""Dayobs conversions: UTC-12, aware times, both input spellings."""

import datetime as dt

import pytest

from vseq_resources import dayobs


@pytest.mark.parametrize("text", ["2026-04-11", "20260411", 20260411, dt.date(2026, 4, 11)])
def test_parse_accepts_both_spellings(text: object) -> None:
    assert dayobs.parse_dayobs(text) == dt.date(2026, 4, 11)


@pytest.mark.parametrize("bad", ["2026-13-01", "2026/04/11", "yesterday", "", "2026-02-30", "2026041"])
def test_parse_rejects_bad_values(bad: str) -> None:
    with pytest.raises(dayobs.DayobsError, match="invalid dayobs"):
        dayobs.parse_dayobs(bad)


def test_rollover_is_noon_utc() -> None:
    before = dt.datetime(2026, 4, 12, 11, 59, 59, tzinfo=dt.UTC)
    after = dt.datetime(2026, 4, 12, 12, 0, 0, tzinfo=dt.UTC)
    assert dayobs.dayobs_of(before) == dt.date(2026, 4, 11)
    assert dayobs.dayobs_of(after) == dt.date(2026, 4, 12)


def test_other_time_zones_are_converted() -> None:
    santiago = dt.timezone(dt.timedelta(hours=-3))
    evening = dt.datetime(2026, 4, 11, 21, 0, tzinfo=santiago)  # 00:00 UTC on the 12th
    assert dayobs.dayobs_of(evening) == dt.date(2026, 4, 11)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        dayobs.dayobs_of(dt.datetime(2026, 4, 11, 20))


def test_dayobs_bounds_and_mjd() -> None:
    start = dayobs.dayobs_start("2026-04-11")
    assert start == dt.datetime(2026, 4, 11, 12, tzinfo=dt.UTC)
    assert dayobs.dayobs_end(20260411) - start == dt.timedelta(days=1)
    mjd = dayobs.dayobs_mjd_start("2026-04-11")
    assert mjd == pytest.approx(61141.5)
    assert dayobs.dayobs_of_mjd(mjd) == dt.date(2026, 4, 11)
    assert dayobs.dayobs_of_mjd(mjd - 1e-6) == dt.date(2026, 4, 10)
    assert dayobs.datetime_of_mjd(dayobs.mjd_of(start)) == start
    assert dayobs.dayobs_int("2026-04-11") == 20260411
