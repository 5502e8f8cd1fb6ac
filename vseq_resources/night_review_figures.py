"""Figures of the night review (PNG bytes, matplotlib's Agg backend): titles and legends inside.

- ``timeline``: every visit of the night against time (UTC), one row per planned variant and one
  for what was observed, coloured by band, with the twilights and the Moon's rise and set;
- ``hours``: visits per hour, planned against observed, above the time per band, planned against
  observed;
- ``drift``: for each planned visit matched to an observed one (the review's matching rule), the
  observed minus the planned start, against the planned start.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from .figure_style import band_color, png_bytes
from .night_review import BAND_ORDER, MATCH_RADIUS_DEG, _band_order, match_visits

if TYPE_CHECKING:
    import pandas as pd

    from .night_review import NightPlan, NightReview

PLANNED_COLOR = "#9aa5b1"
OBSERVED_COLOR = "#1f4e79"


def _times(mjd: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.to_datetime((np.asarray(mjd, dtype=float) - 40587.0) * 86400.0, unit="s", utc=True)


def _time_axis(ax, review: NightReview) -> None:  # noqa: ANN001 - a matplotlib Axes
    import matplotlib.dates as mdates

    a = review.almanac
    if a is not None:
        for when, label, style in (
            (a.evening_12, "-12°", ":"),
            (a.evening_18, "-18°", "--"),
            (a.morning_18, "-18°", "--"),
            (a.morning_12, "-12°", ":"),
            (a.moonrise, "moonrise", "-."),
            (a.moonset, "moonset", "-."),
        ):
            if when is None:
                continue
            low, high = ax.get_xlim()
            x = mdates.date2num(when)
            if low <= x <= high:
                ax.axvline(when, color="#888888", linestyle=style, linewidth=0.8)
                ax.annotate(
                    label,
                    (x, 1.0),
                    xycoords=("data", "axes fraction"),
                    fontsize=7,
                    rotation=90,
                    va="top",
                    ha="right",
                    color="#555555",
                )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
    ax.set_xlabel("time (UTC)")


def timeline_figure(review: NightReview, rows: list[tuple[str, pd.DataFrame]]) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 1.2 + 0.6 * max(len(rows), 1)), layout="constrained")
    ax = figure.add_subplot()
    seen: set[str] = set()
    for y, (_, frame) in enumerate(rows):
        if not len(frame):
            continue
        times = _times(frame["observationStartMJD"].to_numpy(float))
        bands = frame["band"].astype(str).to_numpy()
        for band in _band_order(bands):
            mask = bands == band
            label = band if band not in seen else None
            seen.add(band)
            ax.scatter(
                times[mask], np.full(mask.sum(), y), marker="|", s=120, color=band_color(band), label=label
            )
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.invert_yaxis()
    if not seen and review.almanac and review.almanac.evening_12 and review.almanac.morning_12:
        ax.set_xlim(review.almanac.evening_12, review.almanac.morning_12)
    ax.grid(True, axis="x", alpha=0.3)
    _time_axis(ax, review)
    ax.set_title(f"{review.telescope} {review.day_obs}: planned and observed visits", fontsize=10)
    if seen:
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(
            range(len(labels)), key=lambda i: BAND_ORDER.index(labels[i]) if labels[i] in BAND_ORDER else 9
        )
        ax.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            title="band",
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    return png_bytes(figure)


def hours_figure(review: NightReview) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 2))
    hours = review.hours
    x = np.arange(len(hours))
    planned = [h["planned"] or 0 for h in hours]
    observed = [h["observed"] for h in hours]
    if review.planned_visits is not None:
        top.bar(x - 0.2, planned, 0.4, color=PLANNED_COLOR, label=f"planned ({review.planned_visits})")
    top.bar(x + 0.2, observed, 0.4, color=OBSERVED_COLOR, label=f"observed ({review.observed_visits})")
    top.set_xticks(x, [h["hour"] for h in hours], fontsize=8)
    top.set_xlabel("hour (UTC)")
    top.set_ylabel("visits")
    top.grid(True, axis="y", alpha=0.3)
    top.legend(fontsize=8, loc="upper right")
    top.set_title(f"{review.telescope} {review.day_obs}: visits per hour and time per band", fontsize=10)
    bands = list(review.bands)
    xb = np.arange(len(bands))
    p_minutes = [(review.bands[b]["planned_seconds"] or 0.0) / 60.0 for b in bands]
    o_minutes = [review.bands[b]["observed_seconds"] / 60.0 for b in bands]
    if review.planned_visits is not None:
        bottom.bar(
            xb - 0.2, p_minutes, 0.4, color=[band_color(b) for b in bands], alpha=0.45, label="planned"
        )
    bottom.bar(xb + 0.2, o_minutes, 0.4, color=[band_color(b) for b in bands], label="observed")
    for i, band in enumerate(bands):
        change = review.bands[band]["time_change_pct"]
        if change is not None:
            bottom.annotate(
                f"{change:+.0f} %", (i, max(p_minutes[i], o_minutes[i])), ha="center", va="bottom", fontsize=8
            )
    bottom.set_xticks(xb, bands)
    bottom.set_xlabel("band (left: planned, right: observed)")
    bottom.set_ylabel("minutes")
    bottom.grid(True, axis="y", alpha=0.3)
    if bands:
        top_limit = max([*p_minutes, *o_minutes, 1.0]) * 1.2
        bottom.set_ylim(0, top_limit)
    return png_bytes(figure)


def drift_figure(review: NightReview, planned: pd.DataFrame | None, observed: pd.DataFrame) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.5), layout="constrained")
    ax = figure.add_subplot()
    radius = MATCH_RADIUS_DEG.get(review.telescope, MATCH_RADIUS_DEG["simonyi"])
    pairs = match_visits(planned, observed, radius) if planned is not None else []
    if pairs:
        p = np.array([i for i, _ in pairs])
        o = np.array([j for _, j in pairs])
        p_mjd = planned["observationStartMJD"].to_numpy(float)[p]
        offsets = (observed["observationStartMJD"].to_numpy(float)[o] - p_mjd) * 1440.0
        bands = planned["band"].astype(str).to_numpy()[p]
        for band in _band_order(bands):
            mask = bands == band
            ax.scatter(_times(p_mjd[mask]), offsets[mask], s=12, color=band_color(band), label=band)
        ax.axhline(0.0, color="#444444", linewidth=0.8)
        ax.legend(title="band", fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        a = review.almanac
        if a is not None and a.evening_12 and a.morning_12:
            ax.set_xlim(a.evening_12 - dt.timedelta(minutes=20), a.morning_12 + dt.timedelta(minutes=20))
        _time_axis(ax, review)
    else:
        why = "no pre-night simulation of the night" if planned is None else "no planned visit was observed"
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
    ax.set_ylabel("observed - planned (min)")
    ax.grid(True, alpha=0.3)
    matched = review.matching.get("matched", 0) if review.matching else 0
    ax.set_title(
        f"{review.telescope} {review.day_obs}: drift of the {matched} matched visits "
        f"(same band within {radius} deg)",
        fontsize=10,
    )
    return png_bytes(figure)


def review_figures(review: NightReview, plan: NightPlan | None, observed: pd.DataFrame) -> dict[str, bytes]:
    """The review's figures: figure name -> PNG bytes."""
    rows = [(f"planned: {v.name}", v.visits) for v in plan.variants] if plan is not None else []
    rows.append(("observed", observed))
    planned = plan.nominal.visits if plan is not None else None
    return {
        "timeline": timeline_figure(review, rows),
        "hours": hours_figure(review),
        "drift": drift_figure(review, planned, observed),
    }
