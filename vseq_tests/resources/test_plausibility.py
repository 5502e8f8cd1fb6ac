"""Each plausibility rule passes a baseline-like night and fails the night broken its way."""

from __future__ import annotations

import datetime as dt

import pytest

from vseq_resources.errors import InvalidInputError
from vseq_resources.plausibility import assess_night, assess_nights, sun_altitude_deg

from . import plausible_nights as nights

DARK = dt.date(2026, 12, 9)  # new moon


@pytest.fixture(scope="module")
def good():
    return nights.baseline_like_night(DARK)


def test_baseline_like_night_passes_every_rule(good) -> None:
    assessed = assess_night(good, DARK)
    assert assessed.passed, assessed.summary()
    assert all(f.passed is True for f in assessed.findings), assessed.findings
    assert 90 < assessed.numbers["visits_per_dark_hour"] < 100
    assert assessed.numbers["night_used"] == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize(
    ("rule", "breaker"),
    [
        ("visits_per_dark_hour", nights.broken_rate),
        ("same_pointing_run", nights.broken_repeats),
        ("band_changes", nights.broken_one_band),
        ("band_changes", nights.broken_band_thrashing),
        ("median_airmass", nights.broken_airmass),
        ("median_slew", nights.broken_slews),
        ("night_used", nights.broken_gap),
        ("band_mix_moon", nights.broken_bright_u),
        ("band_mix_moon", nights.broken_dark_red),
    ],
)
def test_each_rule_fails_on_its_broken_night(good, rule: str, breaker) -> None:
    assessed = assess_night(breaker(good), DARK)
    assert assessed.finding(rule).passed is False, assessed.finding(rule)
    assert not assessed.passed
    assert rule in assessed.summary()


def test_deep_drilling_sequences_may_repeat_a_pointing(good) -> None:
    broken = nights.broken_repeats(good, length=20)
    assert assess_night(broken, DARK).finding("same_pointing_run").value == 20
    middle = len(broken) // 2
    broken.loc[middle : middle + 19, "scheduler_note"] = "DD:COSMOS, u"
    assert assess_night(broken, DARK).finding("same_pointing_run").passed is True


def test_delayed_start_is_not_an_unused_night(good) -> None:
    start = float(good["observationStartMJD"].min()) + 2.0 / 24.0
    delayed = good.loc[good["observationStartMJD"] >= start]
    assert assess_night(delayed, DARK).finding("night_used").passed is False
    assessed = assess_night(delayed, DARK, observing_start_mjd=start)
    assert assessed.finding("night_used").passed is True
    assert assessed.finding("visits_per_dark_hour").passed is True


def test_nights_are_judged_separately(good) -> None:
    second = nights.broken_repeats(nights.baseline_like_night(DARK + dt.timedelta(days=1)))
    both = __import__("pandas").concat([good, second], ignore_index=True)
    first_night, second_night = assess_nights(both)
    assert (first_night.day_obs, first_night.passed) == (DARK, True)
    assert (second_night.day_obs, second_night.passed) == (DARK + dt.timedelta(days=1), False)


def test_rules_without_inputs_do_not_apply(good) -> None:
    bare = good[["observationStartMJD", "fieldRA", "fieldDec", "band"]]
    assessed = assess_night(bare, DARK)
    assert assessed.finding("median_airmass").passed is None
    assert assessed.finding("band_mix_moon").passed is None
    assert assessed.passed


def test_missing_columns_are_a_clear_error(good) -> None:
    with pytest.raises(InvalidInputError, match="fieldRA"):
        assess_night(good.drop(columns=["fieldRA"]), DARK)


def test_sun_altitude_matches_astropy() -> None:
    import astropy.units as u
    import numpy as np
    from astropy.coordinates import AltAz, EarthLocation, get_sun
    from astropy.time import Time

    from vseq_resources.simulation.offline import configure_offline_astropy

    configure_offline_astropy()
    mjd = 61383.0 + np.linspace(0, 1, 25)
    site = EarthLocation(lat=-30.2444 * u.deg, lon=-70.7494 * u.deg, height=2650 * u.m)
    times = Time(mjd, format="mjd", scale="utc")
    expected = get_sun(times).transform_to(AltAz(location=site, obstime=times)).alt.deg
    assert np.max(np.abs(sun_altitude_deg(mjd) - expected)) < 0.05


@pytest.mark.parametrize(
    ("rule", "breaker"),
    [
        (None, None),
        ("visits_per_dark_hour", nights.broken_rate),
        ("same_pointing_run", nights.broken_repeats),
        ("median_airmass", nights.broken_airmass),
        ("median_slew", nights.broken_slews),
        ("night_used", lambda night: nights.broken_gap(night, hours=2.0)),
        ("band_mix_moon", nights.broken_bright_u),
        ("band_mix_moon", nights.broken_dark_red),
    ],
)
def test_auxtel_rules_pass_its_night_and_fail_it_broken(rule: str | None, breaker) -> None:
    """AuxTel's own ranges: its 3-hour night passes every rule that applies (band changes need 4
    hours), where Simonyi's rate and night-used rules fail it; each broken night fails its rule."""
    night = nights.auxtel_like_night(DARK)
    if rule is None:
        assessed = assess_night(night, DARK, telescope="auxtel")
        assert assessed.passed, assessed.summary()
        assert assessed.finding("band_changes").passed is None
        assert assessed.as_dict()["basis"].startswith("vseq's simulated AuxTel nights")
        simonyi = assess_night(night, DARK)
        assert {f.rule for f in simonyi.failed} == {"visits_per_dark_hour", "night_used"}
        return
    assessed = assess_night(breaker(night), DARK, telescope="auxtel")
    assert assessed.finding(rule).passed is False, assessed.finding(rule)
