"""The night review's numbers on frames built here, where every expected value is known by
construction: counts, hours, start and gaps, the matching rule and its drift, band time, the
variant that best explains the night, the verdict of each edge case, and the almanac."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.ephemeris import night_almanac
from vseq_resources.night_review import NightPlan, PlannedVariant, match_visits, review_night
from vseq_resources.night_review_figures import review_figures

NIGHT = dt.date(2026, 12, 4)
START = dayobs_mjd_start(NIGHT) + 13.0 / 24.0  # 01:00 UTC on 12-05, after the -18 degree twilight
BANDS = ("g", "r", "i")


def visits(
    n: int, start_mjd: float = START, step_s: float = 40.0, seed: int = 0, bands=BANDS
) -> pd.DataFrame:
    """``n`` 30 s visits every ``step_s`` seconds from ``start_mjd``, a band per block of 20."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "observationStartMJD": start_mjd + np.arange(n) * step_s / 86400.0,
            "fieldRA": rng.uniform(0, 360, n),
            "fieldDec": rng.uniform(-80, 0, n),
            "band": [bands[(i // 20) % len(bands)] for i in range(n)],
            "visitTime": np.full(n, 30.0),
            "seeingFwhm500": np.full(n, 0.7),
        }
    )


def plan_of(*variants: tuple[str, pd.DataFrame, float, float | None]) -> NightPlan:
    planned = [
        PlannedVariant(name, f"uuid-{name}", frame, delay_minutes=delay, seeing_fwhm_500=seeing)
        for name, frame, delay, seeing in variants
    ]
    row = {
        "visitseq_uuid": "uuid-nominal",
        "sim_creation_day_obs": NIGHT,
        "daily_id": 2,
        "visitseq_label": "L",
    }
    return NightPlan(row, planned, candidates=2)


def test_observed_as_planned() -> None:
    planned = visits(300)
    review = review_night("simonyi", NIGHT, planned.copy(), plan_of(("nominal", planned, 0.0, None)))
    assert review.observed_visits == review.planned_visits == 300
    assert review.matching["matched"] == 300 and review.matching["median_offset_minutes"] == 0
    assert review.timing["start_offset_minutes"] == 0 and review.timing["lost_gap_minutes"] == 0
    assert {b: r["observed"] for b, r in review.bands.items()} == {"g": 100, "r": 100, "i": 100}
    assert sum(h["planned"] for h in review.hours) == sum(h["observed"] for h in review.hours) == 300
    assert review.best_variant == "nominal"
    assert (
        review.verdict
        == f"Night {NIGHT}, simonyi: 300 of 300 planned visits, started on time, band time as planned"
    )
    assert review.status == "reviewed"
    assert review.plan_name == f"{NIGHT} #2" and review.plan_candidates == 2


def test_delayed_start_gap_and_band_time() -> None:
    nominal = visits(300)
    delayed = visits(255, START + 30 / 1440.0)  # a variant starting 30 min late
    observed = visits(255, START + 31 / 1440.0, seed=1, bands=("g", "r", "r"))
    observed.loc[100:, "observationStartMJD"] += 20 / 1440.0  # one 20-minute pause
    plan = plan_of(("nominal", nominal, 0.0, None), ("delay_30", delayed, 30.0, None))
    review = review_night("simonyi", NIGHT, observed, plan)
    assert review.timing["start_offset_minutes"] == pytest.approx(31.0, abs=0.1)
    assert review.timing["lost_start_minutes"] == pytest.approx(31.0, abs=0.1)
    assert review.timing["observed_gap_minutes"] == pytest.approx(20.0 + 10 / 60, abs=0.1)
    assert review.best_variant == "delay_30"
    assert review.timing["start_offset_vs_best_minutes"] == pytest.approx(1.0, abs=0.1)
    # blocks of 20 visits in g, r, r: 160 r visits of 30 s against 100 planned; g 95 against 100
    assert review.bands["r"]["time_change_pct"] == pytest.approx(60.0)
    assert review.bands["g"]["time_change_pct"] == pytest.approx(-5.0)
    assert review.bands["i"]["time_change_pct"] == -100.0
    assert review.verdict == (
        f"Night {NIGHT}, simonyi: 255 of 300 planned visits, start 31 min late (best explained by delay_30), "
        "20 min lost in gaps, i -100 % / r +60 % of planned time"
    )
    figures = review_figures(review, plan, observed)
    assert set(figures) == {"timeline", "hours", "drift"}
    assert all(png.startswith(b"\x89PNG") for png in figures.values())


def test_degraded_seeing_variant_told_apart_by_seeing() -> None:
    nominal = visits(200)
    observed = visits(200)
    observed["seeingFwhm500"] = 1.3
    plan = plan_of(("nominal", nominal, 0.0, 0.7), ("seeing_1.2", visits(200, seed=3), 0.0, 1.2))
    assert review_night("simonyi", NIGHT, observed, plan).best_variant == "seeing_1.2"
    observed["seeingFwhm500"] = 0.75
    assert review_night("simonyi", NIGHT, observed, plan).best_variant == "nominal"


def test_matching_rule() -> None:
    planned = visits(4)
    observed = planned.iloc[[0, 0, 1, 2, 3]].reset_index(drop=True)
    observed["observationStartMJD"] += np.array([10, 25, 5, 0, 0]) / 1440.0
    observed.loc[2, "fieldRA"] = (observed.loc[2, "fieldRA"] + 1.0) % 360  # still within 1.75 deg
    observed.loc[3, "fieldDec"] += 2.0  # too far: not the same field
    observed.loc[4, "band"] = "z"  # another band
    pairs = match_visits(planned, observed, 1.75)
    assert pairs == [(0, 0), (1, 2)]  # one to one: the second observation of field 0 is left over
    review = review_night("simonyi", NIGHT, observed, plan_of(("nominal", planned, 0.0, None)))
    assert review.matching["matched"] == 2 and review.matching["planned"] == 4
    assert review.matching["median_offset_minutes"] == pytest.approx(7.5)
    assert review.matching["worst_offset_minutes"] == pytest.approx(10.0)


def test_no_plan() -> None:
    review = review_night("simonyi", NIGHT, visits(120), None, completed_uuid="c")
    assert review.status == "no_plan" and review.planned_visits is None
    assert review.verdict == (
        f"Night {NIGHT}, simonyi: 120 visits observed; no pre-night simulation of {NIGHT} to compare with"
    )
    assert all(h["planned"] is None for h in review.hours)
    assert set(review_figures(review, None, visits(120))) == {"timeline", "hours", "drift"}
    empty = review_night("simonyi", NIGHT, visits(0), None)
    assert empty.verdict == (
        f"Night {NIGHT}, simonyi: no visits observed, and no pre-night simulation of {NIGHT} to compare with"
    )


def test_empty_night_is_the_loss() -> None:
    planned = visits(450)  # 450 visits 40 s apart: 299.5 min from first start to last end
    review = review_night("simonyi", NIGHT, visits(0), plan_of(("nominal", planned, 0.0, None)))
    assert review.status == "lost"
    assert review.timing["lost_start_minutes"] == pytest.approx(449 * 40 / 60 + 0.5, abs=0.1)
    assert review.matching["matched"] == 0 and review.best_variant is None
    assert review.verdict == (
        f"Night {NIGHT}, simonyi: 0 of 450 planned visits: nothing observed, "
        "the whole planned night (5.0 h) was lost"
    )
    assert review.bands["g"]["observed"] == 0 and review.bands["g"]["time_change_pct"] == -100.0
    review.figures = review_figures(review, plan_of(("nominal", planned, 0.0, None)), visits(0))
    assert len(review.figures) == 3
    assert "\n".join(review.text()).startswith(review.verdict)


def test_almanac_matches_astropy_to_a_minute() -> None:
    """Reference values: vseq's astropy almanac (simulation/almanac.py) for 2026-12-04."""
    a = night_almanac(NIGHT)

    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    expected = {
        "sunset": "2026-12-04T23:28:47+00:00",
        "evening_12": "2026-12-05T00:33:19+00:00",
        "evening_18": "2026-12-05T01:08:31+00:00",
        "morning_18": "2026-12-05T07:58:14+00:00",
        "morning_12": "2026-12-05T08:33:26+00:00",
        "sunrise": "2026-12-05T09:37:58+00:00",
        "moonrise": "2026-12-05T07:01:40+00:00",
        "moonset": "2026-12-05T20:43:07+00:00",
    }
    for name, text in expected.items():
        assert abs((getattr(a, name) - at(text)).total_seconds()) < 90, name
    assert 0.05 < a.moon_illumination < 0.25  # a waning crescent
