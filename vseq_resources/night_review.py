"""The night review: what the pre-night simulation of night D planned against what was observed.

Plain values in, plain values out: :func:`review_night` takes the completed visits of D (an opsim
visits frame, as ``load_partition("<telescope>/completed_visits", D)`` returns it) and the plan of
D (:class:`NightPlan`: the partition's selected nominal simulation and the other variants of the
same run, as :func:`vseq_resources.readers.night_plan` reads them) and returns a
:class:`NightReview` of numbers and a one-line verdict (:mod:`.night_review_figures` draws its
figures). No database, no Dagster: the ``<telescope>/night_review`` asset, ``vseqarchive
night-review`` and ``vseq-nightly`` all call it. :func:`archive_review_figures` stores the
figures next to the completed sequence.

What is compared (times are UTC; "planned" is the nominal variant):

- **visits**: planned and observed, in total, per band and per hour (the hour a visit starts in);
- **start**: the first observed visit against the first planned one (positive: late);
  **end**: the last planned visit against the last observed one (positive: stopped early);
  **gaps**: the summed length of the pauses longer than :data:`GAP_MINUTES` between one visit's
  end (start + ``visitTime``) and the next start, observed and planned; the time *lost* at the
  start, in gaps and at the end is each of these beyond what the plan had (never negative);
- **the variant that best explains the night**: among the run's variants (nominal, delayed
  starts, degraded seeing), the one whose cumulative number of visits over the night is closest to
  the observed one (mean absolute difference on a :data:`PROFILE_STEP_MINUTES` grid from the
  earliest to the latest visit of either, in visits); variants within :data:`PROFILE_TIE` of the
  best (a fraction of the observed visits) are told apart by their seeing against the observed
  median ``seeingFwhm500``, and remaining ties go to the nominal variant;
- **matching rule**: a planned visit is *observed* when an observed visit in the same band has
  its pointing within :data:`MATCH_RADIUS_DEG` of the planned pointing (the telescope's field
  radius: a neighbouring field of the survey's tiling is further away). Pairs are made one to one,
  greedily from the pair closest in time, so a planned pair of visits of a field matches at most
  two observed ones. **Drift** is the observed minus the planned start of each matched pair:
  its median, and the worst (largest in magnitude, with its sign);
- **bands**: time per band (the sum of ``visitTime``, else ``visitExposureTime``) planned and
  observed, its change in percent of the planned time, and the number of band changes;
- **context**: sunset, the -12 and -18 degree twilights, sunrise, moonrise, moonset and the Moon's
  illumination (:func:`vseq_resources.ephemeris.night_almanac`).

Edge cases: with no pre-night simulation of D the review has the observed numbers only and its
verdict says so; an empty completed night (weather, shutdown) is reviewed as the loss of
everything planned.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .dayobs import datetime_of_mjd, mjd_of, parse_dayobs
from .ephemeris import NightAlmanac, night_almanac
from .plausibility import band_changes

if TYPE_CHECKING:
    import pandas as pd

    from .archive import VisitSequenceArchive

MATCH_RADIUS_DEG = {"simonyi": 1.75, "auxtel": 0.25}
"""A planned visit matches an observed one of the same band within this radius (degrees): about
the field radius (LSSTCam 1.75 deg; LATISS's targets are single pointings)."""
GAP_MINUTES = 10.0
"""A pause between one visit's end and the next start longer than this is a gap."""
PROFILE_STEP_MINUTES = 5.0
PROFILE_TIE = 0.05
ON_TIME_MINUTES = 2.0
"""A start within this many minutes of the plan is on time."""
BAND_ORDER = ("u", "g", "r", "i", "z", "y")
FIGURE_FILE_PREFIX = "review_"
"""File types of the archived figures: ``review_<figure>`` (names ``review_<figure>.png``)."""


# -- inputs ------------------------------------------------------------------------------------


@dataclass
class PlannedVariant:
    """One variant of the pre-night run: its name, sequence, visits of the night and settings."""

    name: str
    uuid: str
    visits: pd.DataFrame
    delay_minutes: float = 0.0
    seeing_fwhm_500: float | None = None
    label: str = ""


@dataclass
class NightPlan:
    """The plan of a night: the partition's selected nominal simulation and its run's variants.

    ``simulation`` is the selected index row (``visitseq_uuid``, ``sim_creation_day_obs``,
    ``daily_id``, ``visitseq_label``, ``creation_time``...); ``variants`` starts with the nominal
    one; ``candidates`` is how many simulations its run holds (the partition's current run,
    ``readers.partition_run``).
    """

    simulation: dict[str, Any]
    variants: list[PlannedVariant]
    candidates: int = 1

    @property
    def nominal(self) -> PlannedVariant:
        return self.variants[0]

    @property
    def name(self) -> str:
        """The simulation as readers name it: ``<creation dayobs> #<daily id>``, marked when it is
        a re-simulation (made after the night's dayobs, by a backfill: not a prediction)."""
        name = f"{self.simulation.get('sim_creation_day_obs')} #{self.simulation.get('daily_id')}"
        if "resimulation" in (self.simulation.get("tags") or ()):
            name += " (re-simulation, made after the night)"
        return name


# -- result ------------------------------------------------------------------------------------


@dataclass
class NightReview:
    """The review of one night of one telescope (see the module docstring for every number)."""

    telescope: str
    day_obs: dt.date
    verdict: str
    observed_visits: int
    planned_visits: int | None
    completed_uuid: str | None = None
    plan_uuid: str | None = None
    plan_name: str | None = None
    plan_label: str | None = None
    plan_candidates: int = 0
    bands: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    """band -> planned/observed visits, planned/observed seconds, time change in percent."""
    hours: list[dict[str, Any]] = field(default_factory=list)
    """[{"hour": "HH:00" (UTC), "planned": n, "observed": n}] in time order."""
    timing: dict[str, Any] = field(default_factory=dict)
    """Starts, ends, gaps and the minutes lost (see the module docstring)."""
    matching: dict[str, Any] = field(default_factory=dict)
    """Planned visits observed under the matching rule, and the drift of matched ones."""
    band_changes: dict[str, int | None] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    """variant name -> its visits, first visit, profile distance, seeing, sequence UUID."""
    best_variant: str | None = None
    almanac: NightAlmanac | None = None
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``reviewed``, ``no_plan`` (no pre-night simulation of the night) or ``lost`` (nothing
        observed against a plan)."""
        if self.planned_visits is None:
            return "no_plan"
        return "lost" if self.observed_visits == 0 and self.planned_visits > 0 else "reviewed"

    def numbers(self) -> dict[str, Any]:
        """Every number of the review as JSON-safe values (for metadata and ``--json``)."""
        return {
            "telescope": self.telescope,
            "day_obs": self.day_obs.isoformat(),
            "status": self.status,
            "verdict": self.verdict,
            "observed_visits": self.observed_visits,
            "planned_visits": self.planned_visits,
            "completed_uuid": self.completed_uuid,
            "plan_uuid": self.plan_uuid,
            "plan_name": self.plan_name,
            "plan_label": self.plan_label,
            "plan_candidates": self.plan_candidates,
            "best_variant": self.best_variant,
            "bands": self.bands,
            "hours": self.hours,
            "timing": self.timing,
            "matching": self.matching,
            "band_changes": self.band_changes,
            "variants": self.variants,
            "almanac": self.almanac.as_dict() if self.almanac else None,
        }

    def text(self) -> list[str]:
        """The review as lines for a terminal (what ``vseqarchive night-review`` prints)."""
        lines = [self.verdict]
        if self.plan_uuid:
            more = f"; its run: {self.plan_candidates} simulations" if self.plan_candidates > 1 else ""
            lines.append(f"  plan      {self.plan_name} {self.plan_uuid}{more}")
            lines.append(f"            {self.plan_label}")
        if self.completed_uuid:
            lines.append(f"  observed  {self.completed_uuid}")
        planned = "-" if self.planned_visits is None else str(self.planned_visits)
        lines.append(f"  visits    planned {planned}, observed {self.observed_visits}")
        if self.bands:
            lines.append("  band      planned  observed  time planned -> observed (min)")
            for band, row in self.bands.items():
                change = row.get("time_change_pct")
                change_text = "" if change is None else f"  {change:+.0f} %"
                lines.append(
                    f"  {band:<8}  {_dash(row.get('planned'))!s:>7}  {row['observed']!s:>8}  "
                    f"{_minutes(row.get('planned_seconds'))} -> {_minutes(row['observed_seconds'])}"
                    f"{change_text}"
                )
        if self.hours:
            lines.append(
                "  hour UTC  "
                + " ".join(f"{h['hour'][:2]:>4}" for h in self.hours)
                + "\n  planned   "
                + " ".join(f"{_dash(h['planned'])!s:>4}" for h in self.hours)
                + "\n  observed  "
                + " ".join(f"{h['observed']:>4}" for h in self.hours)
            )
        t = self.timing
        if t:
            lines.append(
                f"  start     planned {_clock(t.get('planned_start'))}, "
                f"observed {_clock(t.get('observed_start'))}"
                f"; end planned {_clock(t.get('planned_end'))}, observed {_clock(t.get('observed_end'))}"
            )
            if t.get("lost_start_minutes") is not None:
                lines.append(
                    f"  lost      start {t['lost_start_minutes']:.0f} min, "
                    f"gaps {t['lost_gap_minutes']:.0f} min, end {t['lost_end_minutes']:.0f} min "
                    f"(observed gaps {t['observed_gap_minutes']:.0f} min, "
                    f"planned {_minutes_text(t['planned_gap_minutes'])} min)"
                )
        if self.matching:
            m = self.matching
            drift = (
                f"; drift median {m['median_offset_minutes']:+.0f} min, "
                f"worst {m['worst_offset_minutes']:+.0f} min"
                if m.get("matched")
                else ""
            )
            lines.append(
                f"  matched   {m['matched']} of {m['planned']} planned visits observed "
                f"(same band within {m['radius_deg']} deg){drift}"
            )
        if self.band_changes:
            lines.append(
                f"  changes   band changes planned {_dash(self.band_changes.get('planned'))}, "
                f"observed {self.band_changes.get('observed')}"
            )
        if self.variants:
            parts = [
                f"{name} {v['visits']} visits, distance {v['distance']:.1f}"
                + (" (best)" if name == self.best_variant else "")
                for name, v in self.variants.items()
            ]
            lines.append("  variants  " + "; ".join(parts))
        if self.almanac:
            a = self.almanac
            lines.append(
                f"  sky       sunset {_clock(a.sunset)}, -12 {_clock(a.evening_12)}, "
                f"-18 {_clock(a.evening_18)} "
                f"... -18 {_clock(a.morning_18)}, -12 {_clock(a.morning_12)}, sunrise {_clock(a.sunrise)}; "
                f"moonrise {_clock(a.moonrise)}, moonset {_clock(a.moonset)}, "
                f"moon {a.moon_illumination * 100:.0f} % illuminated"
            )
        return lines


def _dash(value: Any) -> Any:
    return "-" if value is None else value


def _minutes_text(minutes: float | None) -> str:
    return "-" if minutes is None else f"{minutes:.0f}"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60.0:.0f}"


def _clock(value: dt.datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.strftime("%H:%M")


# -- measuring ---------------------------------------------------------------------------------


def _sorted(visits: pd.DataFrame) -> pd.DataFrame:
    return visits.sort_values("observationStartMJD", kind="stable").reset_index(drop=True)


def visit_seconds(visits: pd.DataFrame) -> np.ndarray:
    """Each visit's duration (s): ``visitTime``, else ``visitExposureTime``, else 30 s."""
    for column in ("visitTime", "visitExposureTime"):
        if column in visits.columns:
            values = np.asarray(visits[column], dtype=float)
            if np.isfinite(values).any():
                return np.where(np.isfinite(values), values, 0.0)
    return np.full(len(visits), 30.0)


def gap_minutes(visits: pd.DataFrame) -> float:
    """Summed length (minutes) of the pauses longer than :data:`GAP_MINUTES` between visits."""
    if len(visits) < 2:
        return 0.0
    ordered = _sorted(visits)
    start = ordered["observationStartMJD"].to_numpy(float) * 1440.0
    pauses = start[1:] - (start[:-1] + visit_seconds(ordered)[:-1] / 60.0)
    return float(pauses[pauses > GAP_MINUTES].sum())


def band_seconds(visits: pd.DataFrame) -> dict[str, float]:
    """Seconds of visits per band."""
    seconds = visit_seconds(visits)
    bands = visits["band"].astype(str).to_numpy()
    return {band: float(seconds[bands == band].sum()) for band in _band_order(bands)}


def _band_order(values: Any) -> list[str]:
    return sorted({str(b) for b in values}, key=lambda b: (BAND_ORDER.index(b) if b in BAND_ORDER else 99, b))


def _separation_deg(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    ra1, dec1, ra2, dec2 = (np.radians(x) for x in (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def match_visits(planned: pd.DataFrame, observed: pd.DataFrame, radius_deg: float) -> list[tuple[int, int]]:
    """One-to-one pairs (planned row, observed row) under the matching rule: same band, pointings
    within ``radius_deg``; greedily from the pair closest in time (ties: the earlier planned)."""
    if not len(planned) or not len(observed):
        return []
    p_band = planned["band"].astype(str).to_numpy()
    o_band = observed["band"].astype(str).to_numpy()
    sep = _separation_deg(
        planned["fieldRA"].to_numpy(float)[:, None],
        planned["fieldDec"].to_numpy(float)[:, None],
        observed["fieldRA"].to_numpy(float)[None, :],
        observed["fieldDec"].to_numpy(float)[None, :],
    )
    ok = (sep <= radius_deg) & (p_band[:, None] == o_band[None, :])
    p_idx, o_idx = np.nonzero(ok)
    if not p_idx.size:
        return []
    dt_abs = np.abs(
        observed["observationStartMJD"].to_numpy(float)[o_idx]
        - planned["observationStartMJD"].to_numpy(float)[p_idx]
    )
    order = np.lexsort((o_idx, p_idx, dt_abs))
    used_p, used_o, pairs = set(), set(), []
    for k in order:
        p, o = int(p_idx[k]), int(o_idx[k])
        if p in used_p or o in used_o:
            continue
        used_p.add(p)
        used_o.add(o)
        pairs.append((p, o))
    return sorted(pairs)


def _cumulative_distance(variant: pd.DataFrame, observed: pd.DataFrame) -> float:
    """Mean absolute difference (visits) of the cumulative visit counts on a common grid."""
    starts = [f["observationStartMJD"].to_numpy(float) for f in (variant, observed) if len(f)]
    if not starts:
        return 0.0
    low = min(s.min() for s in starts)
    high = max(s.max() for s in starts)
    step = PROFILE_STEP_MINUTES / 1440.0
    grid = np.arange(low, high + step, step)

    def cumulative(frame: pd.DataFrame) -> np.ndarray:
        return np.searchsorted(np.sort(frame["observationStartMJD"].to_numpy(float)), grid, side="right")

    return float(np.mean(np.abs(cumulative(variant) - cumulative(observed))))


def _median_seeing(visits: pd.DataFrame) -> float | None:
    if "seeingFwhm500" not in visits.columns or not len(visits):
        return None
    values = np.asarray(visits["seeingFwhm500"], dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def best_variant(
    variants: list[PlannedVariant], observed: pd.DataFrame
) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The variant that best explains the observed night (module docstring) and each one's numbers."""
    scores: dict[str, dict[str, Any]] = {}
    for variant in variants:
        first = variant.visits["observationStartMJD"].min() if len(variant.visits) else None
        scores[variant.name] = {
            "uuid": variant.uuid,
            "visits": len(variant.visits),
            "first_visit": _iso(first),
            "delay_minutes": variant.delay_minutes,
            "seeing_fwhm_500": variant.seeing_fwhm_500,
            "distance": round(_cumulative_distance(variant.visits, observed), 2),
        }
    if not len(observed) or not variants:
        return None, scores
    lowest = min(s["distance"] for s in scores.values())
    tied = [v for v in variants if scores[v.name]["distance"] <= lowest + PROFILE_TIE * len(observed)]
    seeing = _median_seeing(observed)
    if seeing is not None and len(tied) > 1:
        closest = min(abs((v.seeing_fwhm_500 or 0.7) - seeing) for v in tied)
        tied = [v for v in tied if abs((v.seeing_fwhm_500 or 0.7) - seeing) <= closest + 0.05]
    if len(tied) > 1:
        tied.sort(key=lambda v: (v is not variants[0], scores[v.name]["distance"]))
    return tied[0].name, scores


def _iso(mjd: float | None) -> str | None:
    if mjd is None or not math.isfinite(mjd):
        return None
    return datetime_of_mjd(float(mjd)).isoformat(timespec="seconds")


def _hours(planned: pd.DataFrame | None, observed: pd.DataFrame) -> list[dict[str, Any]]:
    frames = [f for f in (planned, observed) if f is not None and len(f)]
    if not frames:
        return []
    hour = 1.0 / 24.0

    def counts(frame: pd.DataFrame | None) -> dict[float, int]:
        if frame is None:
            return {}
        keys = np.floor(frame["observationStartMJD"].to_numpy(float) / hour)
        values, n = np.unique(keys, return_counts=True)
        return dict(zip(values.tolist(), n.tolist(), strict=True))

    p, o = counts(planned), counts(observed)
    rows = []
    for key in sorted(set(p) | set(o)):
        rows.append(
            {
                "hour": datetime_of_mjd(key * hour + 1e-7).strftime("%H:00"),
                "planned": None if planned is None else int(p.get(key, 0)),
                "observed": int(o.get(key, 0)),
            }
        )
    return rows


def _timing(planned: pd.DataFrame | None, observed: pd.DataFrame) -> dict[str, Any]:
    def first_last(frame: pd.DataFrame | None) -> tuple[float | None, float | None]:
        if frame is None or not len(frame):
            return None, None
        mjd = frame["observationStartMJD"].to_numpy(float)
        return float(mjd.min()), float(mjd.max() + visit_seconds(frame)[np.argmax(mjd)] / 86400.0)

    p_start, p_end = first_last(planned)
    o_start, o_end = first_last(observed)
    timing: dict[str, Any] = {
        "planned_start": _iso(p_start),
        "planned_end": _iso(p_end),
        "observed_start": _iso(o_start),
        "observed_end": _iso(o_end),
        "observed_gap_minutes": round(gap_minutes(observed), 1),
        "planned_gap_minutes": None if planned is None else round(gap_minutes(planned), 1),
        "start_offset_minutes": None,
        "end_offset_minutes": None,
        "lost_start_minutes": None,
        "lost_gap_minutes": None,
        "lost_end_minutes": None,
    }
    if p_start is None:
        return timing
    if o_start is None:  # nothing observed: the whole planned night is lost
        timing["lost_start_minutes"] = round((p_end - p_start) * 1440.0, 1)
        timing["lost_gap_minutes"] = 0.0
        timing["lost_end_minutes"] = 0.0
        return timing
    start_offset = (o_start - p_start) * 1440.0
    end_offset = (p_end - o_end) * 1440.0
    timing["start_offset_minutes"] = round(start_offset, 1)
    timing["end_offset_minutes"] = round(end_offset, 1)
    timing["lost_start_minutes"] = round(max(start_offset, 0.0), 1)
    timing["lost_gap_minutes"] = round(
        max(timing["observed_gap_minutes"] - timing["planned_gap_minutes"], 0.0), 1
    )
    timing["lost_end_minutes"] = round(max(end_offset, 0.0), 1)
    return timing


def _bands(planned: pd.DataFrame | None, observed: pd.DataFrame) -> dict[str, dict[str, Any]]:
    p_seconds = band_seconds(planned) if planned is not None and len(planned) else {}
    o_seconds = band_seconds(observed) if len(observed) else {}
    p_counts = planned["band"].astype(str).value_counts().to_dict() if planned is not None else {}
    o_counts = observed["band"].astype(str).value_counts().to_dict() if len(observed) else {}
    out = {}
    for band in _band_order([*p_seconds, *o_seconds]):
        planned_s = p_seconds.get(band, 0.0) if planned is not None else None
        observed_s = o_seconds.get(band, 0.0)
        change = None
        if planned_s:
            change = round((observed_s - planned_s) / planned_s * 100.0, 1)
        out[band] = {
            "planned": None if planned is None else int(p_counts.get(band, 0)),
            "observed": int(o_counts.get(band, 0)),
            "planned_seconds": None if planned_s is None else round(planned_s, 1),
            "observed_seconds": round(observed_s, 1),
            "time_change_pct": change,
        }
    return out


def _matching(planned: pd.DataFrame, observed: pd.DataFrame, radius: float) -> dict[str, Any]:
    pairs = match_visits(planned, observed, radius)
    offsets = np.array(
        [
            (observed["observationStartMJD"].iloc[o] - planned["observationStartMJD"].iloc[p]) * 1440.0
            for p, o in pairs
        ],
        dtype=float,
    )
    worst = float(offsets[np.argmax(np.abs(offsets))]) if offsets.size else None
    return {
        "rule": f"same band, pointing within {radius} deg, one to one from the pair closest in time",
        "radius_deg": radius,
        "planned": len(planned),
        "observed": len(observed),
        "matched": len(pairs),
        "matched_fraction": round(len(pairs) / len(planned), 3) if len(planned) else None,
        "median_offset_minutes": round(float(np.median(offsets)), 1) if offsets.size else None,
        "worst_offset_minutes": None if worst is None else round(worst, 1),
    }


# -- the verdict -------------------------------------------------------------------------------


def verdict_line(review: NightReview) -> str:
    """The one line for a chat channel (see the module docstring for the numbers)."""
    head = f"Night {review.day_obs}, {review.telescope}:"
    if review.planned_visits is None:
        missing = f"no pre-night simulation of {review.day_obs} to compare with"
        if review.observed_visits == 0:
            return f"{head} no visits observed, and {missing}"
        return f"{head} {review.observed_visits} visits observed; {missing}"
    if review.observed_visits == 0:
        lost = review.timing.get("lost_start_minutes") or 0.0
        return (
            f"{head} 0 of {review.planned_visits} planned visits: nothing observed, "
            f"the whole planned night ({lost / 60.0:.1f} h) was lost"
        )
    parts = [f"{review.observed_visits} of {review.planned_visits} planned visits"]
    offset = review.timing.get("start_offset_minutes")
    if offset is not None:
        if abs(offset) < ON_TIME_MINUTES:
            parts.append("started on time")
        else:
            parts.append(f"start {abs(offset):.0f} min {'late' if offset > 0 else 'early'}")
    nominal = next(iter(review.variants), None)
    if review.best_variant and review.best_variant != nominal:
        parts[-1] += f" (best explained by {review.best_variant})"
    gaps = review.timing.get("lost_gap_minutes") or 0.0
    if gaps >= GAP_MINUTES:
        parts.append(f"{gaps:.0f} min lost in gaps")
    changes = [
        (band, row["time_change_pct"])
        for band, row in review.bands.items()
        if row.get("time_change_pct") is not None and abs(row["time_change_pct"]) >= 1.0
    ]
    changes.sort(key=lambda item: -abs(item[1]))
    if changes:
        parts.append(" / ".join(f"{band} {pct:+.0f} %" for band, pct in changes[:2]) + " of planned time")
    elif review.bands:
        parts.append("band time as planned")
    return f"{head} " + ", ".join(parts)


# -- the review --------------------------------------------------------------------------------


def review_night(
    telescope: str,
    day_obs: str | int | dt.date,
    observed: pd.DataFrame,
    plan: NightPlan | None,
    *,
    completed_uuid: str | None = None,
) -> NightReview:
    """Review night ``day_obs`` of ``telescope``: ``observed`` (the completed visits of the night,
    possibly empty) against ``plan`` (None: no pre-night simulation of the night).

    The figures are drawn separately (:func:`vseq_resources.night_review_figures.review_figures`),
    so that the numbers and verdict alone need no matplotlib.
    """
    night = parse_dayobs(day_obs)
    observed = _sorted(observed)
    planned = _sorted(plan.nominal.visits) if plan is not None else None
    radius = MATCH_RADIUS_DEG.get(telescope, MATCH_RADIUS_DEG["simonyi"])
    review = NightReview(
        telescope=telescope,
        day_obs=night,
        verdict="",
        observed_visits=len(observed),
        planned_visits=None if planned is None else len(planned),
        completed_uuid=completed_uuid,
        bands=_bands(planned, observed),
        hours=_hours(planned, observed),
        timing=_timing(planned, observed),
        band_changes={
            "planned": None if planned is None else band_changes(planned),
            "observed": band_changes(observed),
        },
        almanac=night_almanac(night),
    )
    if plan is not None:
        review.plan_uuid = str(plan.simulation.get("visitseq_uuid"))
        review.plan_name = plan.name
        review.plan_label = str(plan.simulation.get("visitseq_label") or plan.nominal.label)
        review.plan_candidates = plan.candidates
        review.matching = _matching(planned, observed, radius)
        review.best_variant, review.variants = best_variant(plan.variants, observed)
        if review.best_variant and review.best_variant != plan.nominal.name:
            best = next(v for v in plan.variants if v.name == review.best_variant)
            first = review.variants[best.name]["first_visit"]
            if first and len(observed):
                offset = (
                    mjd_of(dt.datetime.fromisoformat(first)) - observed["observationStartMJD"].iloc[0]
                ) * -1440
                review.timing["start_offset_vs_best_minutes"] = round(float(offset), 1)
    review.verdict = verdict_line(review)
    return review


def archive_review_figures(archive: VisitSequenceArchive, review: NightReview) -> dict[str, str]:
    """Store the review's figures next to the night's completed sequence (file types
    ``review_<figure>``, replacing earlier ones); figure name -> URL."""
    if review.completed_uuid is None:
        return {}
    return {
        name: archive.archive_file(
            review.completed_uuid,
            png,
            f"{FIGURE_FILE_PREFIX}{name}",
            name=f"{FIGURE_FILE_PREFIX}{name}.png",
            update=True,
        )
        for name, png in review.figures.items()
    }
